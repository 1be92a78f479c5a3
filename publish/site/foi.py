"""The "ask the council about this" link: a pre-filled WhatDoTheyKnow request about one payment."""

from __future__ import annotations

from urllib.parse import quote, urlencode

WDTK = "https://www.whatdotheyknow.com/new/"
_wdtk_cache: dict[int, dict[str, str]] = {}


async def wdtk_ids(datasette, database: str) -> dict[str, str]:
    """Council id -> WhatDoTheyKnow body slug, read once per Datasette instance."""
    key = id(datasette)
    if key not in _wdtk_cache:
        db = datasette.get_database(database)
        rows = await db.execute("select council_id, wdtk_id from councils where wdtk_id is not null")
        _wdtk_cache[key] = {r["council_id"]: r["wdtk_id"] for r in rows}
    return _wdtk_cache[key]


def foi_url(wdtk_id: str, payment: dict) -> str:
    """A pre-filled WhatDoTheyKnow request about one payment."""
    amount = payment.get("amount_gbp")
    amount_text = f"£{amount:,.2f}" if isinstance(amount, int | float) else "the amount shown"
    what = (
        f"the payment of {amount_text} to {payment.get('supplier_name') or 'a supplier'}"
        f" on {payment.get('payment_date') or 'the date shown'}"
        + (f" (transaction reference {payment['transaction_ref']})" if payment.get("transaction_ref") else "")
    )
    letter = (
        f"Please provide the invoice, purchase order and any contract or agreement relating to {what}, "
        "as published in your spending over £500 data, and explain what goods or services it paid for."
    )
    title = (
        f"Payment to {payment.get('supplier_name') or 'supplier'} {payment.get('payment_date') or ''}".strip()
    )
    return WDTK + quote(wdtk_id) + "?" + urlencode({"title": title[:200], "default_letter": letter})
