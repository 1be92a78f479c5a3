"""The three stated measures of who delivers council services (definitions: docs/methodology.md).

- M1 who gets the money: published spend by payee sector, every sector its own bucket.
- M2 externally delivered share of published spend:
  external_delivery / (spend - transfer - unknown), where external_delivery is subjective group
  ``third_party_payments`` paid to ``private``, ``third_sector``, ``mutual``, ``public`` or
  ``council_company`` payees and not a transfer; transfer is payee sector ``transfer`` OR an
  expense with a ``transfer_kind`` (a levy paid to a transport body, a precept, housing benefit);
  unknown is every other row whose sector or subjective group is unknown.
- M3 externally delivered share of total service expenditure: the same numerator over the
  council's Revenue Outturn total service expenditure (gross, RSX C3) for the financial year,
  annualised (× 12 / months) when 9 to 11 months are held and not given below 9 months.

The demo generator's ground truth uses these exact definitions; change them only together with
docs/methodology.md. All money is integer pence; shares are floats rounded to 4 decimal places.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from councilspend.schemas import enum

#: Payee sectors from the suppliers stage, in display order (M1 has one column per sector).
SECTORS = enum("published/suppliers", "sector")  # the contract's vocabulary, in its order
#: Payees that count as external providers when paid for service delivery.
EXTERNAL_SECTORS: tuple[str, ...] = ("private", "third_sector", "mutual", "public", "council_company")
#: The SeRCOP subjective group that means "paid someone else to provide a service".
DELIVERY_GROUP = "third_party_payments"
#: Payments to public bodies in these groups pass money through (precepts, levies, pension
#: contributions, grants) rather than buy a shared service.
PASS_THROUGH_GROUPS: tuple[str, ...] = ("financing", "transfer_payments", "employees")
#: Delivery model of each external sector, for the "who delivers" view (issue item 4).
DELIVERY_MODELS: dict[str, str] = {
    "private": "private_contractor",
    "third_sector": "third_sector",
    "mutual": "mutual",
    "public": "shared_service_public_body",
    "council_company": "council_company",
}

KEY = ["council_id", "financial_year"]
REQUIRED = ["council_id", "amount_pence", "sector", "sercop_group", "sercop_division"]
#: Months of dated payments a council-year needs for M3 (annualised below 12) and for the league table.
MIN_MONTHS = 9


def financial_year(dates: pd.Series) -> pd.Series:
    """April-March financial year ("2023-24") of each date; missing dates give missing years."""
    d = pd.to_datetime(dates, errors="coerce")
    start = d.dt.year - (d.dt.month < 4).astype("Int64")
    start = start.astype("Int64")
    text = start.astype(str) + "-" + ((start + 1) % 100).astype(str).str.zfill(2)
    return text.where(start.notna(), None)


def _share(num: pd.Series, den: pd.Series) -> pd.Series:
    num = num.astype("Float64")
    den = den.astype("Float64")
    out = (num / den.where(den > 0)).round(4)
    return out.astype("float64")


def _prepare(payments: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in payments.columns]
    if missing:
        raise ValueError(f"measures.compute: payments lack column(s) {', '.join(missing)}")
    p = pd.DataFrame(index=payments.index)
    p["council_id"] = payments["council_id"].astype(str)
    amount = pd.to_numeric(payments["amount_pence"], errors="coerce")
    if amount.isna().any():
        bad = payments.index[amount.isna()][0]
        raise ValueError(
            f"measures.compute: row {bad}: amount_pence {payments.at[bad, 'amount_pence']!r} is not a number"
        )
    p["amount_pence"] = amount.round().astype("int64")
    sector = payments["sector"].astype("object").where(payments["sector"].notna(), "unknown").astype(str)
    p["sector"] = sector.where(sector.isin(SECTORS), "unknown")
    for col in ("sercop_group", "sercop_division"):
        p[col] = (
            payments[col]
            .astype("object")
            .where(payments[col].notna() & (payments[col].astype(str) != ""), "unknown")
            .astype(str)
        )
    redacted = payments["is_redacted"] if "is_redacted" in payments.columns else False
    p["is_redacted"] = pd.Series(redacted, index=p.index).fillna(False).astype(bool) | (
        p["sector"] == "redacted"
    )
    card = payments["is_card"] if "is_card" in payments.columns else False
    p["is_card"] = pd.Series(card, index=p.index).fillna(False).astype(bool)
    low = payments["low_confidence"] if "low_confidence" in payments.columns else False
    p["low_confidence"] = pd.Series(low, index=p.index).fillna(False).astype(bool)
    # Rows may be pre-summed (publish/build/aggregates.py): ``payments`` is then how many payments each is.
    p["n"] = payments["payments"].astype("int64") if "payments" in payments.columns else 1

    date = pd.Series(pd.NaT, index=p.index, dtype="datetime64[ns]")
    for col in ("payment_date", "period_start"):
        if col in payments.columns:
            date = date.fillna(pd.to_datetime(payments[col], errors="coerce"))
    fy = (
        payments["financial_year"] if "financial_year" in payments.columns else pd.Series(None, index=p.index)
    )
    fy = fy.astype("object").where(fy.notna() & (fy.astype(str) != ""), financial_year(date))
    p["financial_year"] = fy.astype("object").where(fy.notna(), "unknown").astype(str)
    if "month" in payments.columns and "payment_date" not in payments.columns:
        p["month"] = payments["month"].astype("object").where(payments["month"].notna(), None)
    else:
        p["month"] = date.dt.strftime("%Y-%m").astype("object").where(date.notna(), None)

    kind = (
        payments["transfer_kind"] if "transfer_kind" in payments.columns else pd.Series(None, index=p.index)
    )
    kind = kind.astype("object").where(kind.notna() & (kind.astype(str) != ""), None)
    p["transfer_kind"] = kind
    p["is_transfer_payee"] = p["sector"] == "transfer"
    p["is_transfer"] = p["is_transfer_payee"] | kind.notna().to_numpy()
    p["is_unknown"] = ~p["is_transfer"] & ((p["sector"] == "unknown") | (p["sercop_group"] == "unknown"))
    p["is_external"] = (
        (p["sercop_group"] == DELIVERY_GROUP) & p["sector"].isin(EXTERNAL_SECTORS) & ~p["is_transfer"]
    )
    public = p["sector"] == "public"
    p["is_public_pass_through"] = (
        public & ~p["is_external"] & (p["sercop_group"].isin(PASS_THROUGH_GROUPS) | p["is_transfer"])
    )
    p["is_public_other"] = public & ~p["is_external"] & ~p["is_public_pass_through"]
    return p


class _Groups:
    """The rows of ``p`` grouped by ``keys``, factorised once.

    A measure is ~30 masked sums over the same groups; letting pandas group by the string keys each
    time re-factorised 10 million strings per sum (two minutes at national scale). Here the keys are
    factorised once, rows are sorted by group once, and each sum is one ``np.add.reduceat`` on
    integer pence (exact, like the ``groupby().sum()`` it replaces, with the same sorted index).
    """

    def __init__(self, p: pd.DataFrame, keys: list[str]):
        g = p.groupby([p[k] for k in keys], sort=True)
        codes = g.ngroup().to_numpy()
        self.index = g.size().index
        self.sizes = g.size().to_numpy()
        self.order = np.argsort(codes, kind="stable")
        self.starts = (np.cumsum(self.sizes) - self.sizes).astype(np.intp)
        self.amount = p["amount_pence"].to_numpy(dtype="int64")
        n = p["n"].to_numpy(dtype="int64") if "n" in p.columns else np.ones(len(p), dtype="int64")
        self.rows = np.add.reduceat(n[self.order], self.starts) if len(self.starts) else n[:0]

    def sum(self, mask: pd.Series | None, name: str) -> pd.Series:
        values = self.amount if mask is None else np.where(mask.to_numpy(dtype=bool), self.amount, 0)
        sums = np.add.reduceat(values[self.order], self.starts) if len(self.starts) else values[:0]
        return pd.Series(sums.astype("int64"), index=self.index, name=name)


_GROUPS: dict[tuple[int, tuple[str, ...]], _Groups] = {}


def _groups(p: pd.DataFrame, keys: list[str]) -> _Groups:
    key = (id(p), tuple(keys))
    if key not in _GROUPS:
        _GROUPS[key] = _Groups(p, keys)
    return _GROUPS[key]


def _sum_where(p: pd.DataFrame, keys: list[str], mask: pd.Series, name: str) -> pd.Series:
    return _groups(p, keys).sum(mask, name)


def _months(p: pd.DataFrame, coverage_months: pd.DataFrame | None) -> pd.DataFrame:
    seen = p.dropna(subset=["month"])[KEY + ["month"]]
    months = seen
    extra = None
    if coverage_months is not None and not coverage_months.empty:
        if "month" in coverage_months.columns:
            months = pd.concat([seen, coverage_months[KEY + ["month"]].astype(str)], ignore_index=True)
        elif "months_present" in coverage_months.columns:
            extra = coverage_months[KEY + ["months_present"]].rename(columns={"months_present": "given"})
        else:
            raise ValueError("coverage_months needs a 'month' (YYYY-MM) or 'months_present' column")
    # A month counts only inside its own financial year (a March file's stray April row does not
    # complete next year).
    months = months[financial_year(months["month"] + "-01") == months["financial_year"]]
    out = months.drop_duplicates().groupby(KEY).size().rename("months_present").reset_index()
    if extra is not None:
        out = out.merge(extra, on=KEY, how="outer")
        out["months_present"] = out[["months_present", "given"]].max(axis=1)
        out = out.drop(columns="given")
    return out


def _coverage(months: int, card_only: bool) -> str:
    """What a council-year's figures rest on, in words the pages show."""
    if card_only:
        return f"card payments only ({months} month{'s' if months != 1 else ''})"
    if months >= 12:
        return "complete"
    if months >= MIN_MONTHS:
        return f"{months} months (M3 annualised)"
    return f"partial year ({months} month{'s' if months != 1 else ''})"


def _m3(frame: pd.DataFrame, coverage: pd.DataFrame) -> None:
    """M3 on ``frame``: ``m3_raw_share`` is the numerator held over the outturn; ``m3_share`` is
    annualised (× 12 / months) from 9 to 11 months, the raw share at 12, and empty below 9 months
    or for a card-only year (a few months of payments over a whole year's outturn says nothing)."""
    months = coverage["months_present"].fillna(0).astype("int64").to_numpy()
    card = coverage["card_only"].fillna(False).astype(bool).to_numpy()
    frame["m3_raw_share"] = _share(frame["external_delivery_pence"], frame["m3_denominator_pence"])
    scale = np.where((months >= MIN_MONTHS) & ~card, 12 / np.maximum(np.minimum(months, 12), 1), np.nan)
    annual = (frame["external_delivery_pence"].astype("float64") * scale).round()
    frame["m3_annualised"] = (months >= MIN_MONTHS) & (months < 12) & ~card
    frame["m3_share"] = _share(pd.Series(annual, index=frame.index), frame["m3_denominator_pence"])


def _outturn_lookup(outturn: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["gss", "financial_year", "division", "total_service_expenditure_pence"]
    if outturn is None or outturn.empty:
        return pd.DataFrame(columns=cols)
    missing = [c for c in cols if c not in outturn.columns]
    if missing:
        raise ValueError(f"measures.compute: outturn lacks column(s) {', '.join(missing)}")
    o = outturn.dropna(subset=["total_service_expenditure_pence"])
    return o[cols + (["release"] if "release" in o.columns else [])]


def _core(p: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    g = _groups(p, keys)
    out = pd.concat(
        [
            pd.Series(g.rows.astype("int64"), index=g.index, name="rows"),
            g.sum(None, "spend_pence"),
            _sum_where(p, keys, p["is_transfer"], "transfer_pence"),
            _sum_where(p, keys, p["is_unknown"], "unknown_pence"),
            _sum_where(p, keys, p["is_redacted"], "redacted_pence"),
            _sum_where(p, keys, p["is_external"], "external_delivery_pence"),
        ],
        axis=1,
    ).reset_index()
    out["m2_denominator_pence"] = out["spend_pence"] - out["transfer_pence"] - out["unknown_pence"]
    out["not_external_pence"] = out["m2_denominator_pence"] - out["external_delivery_pence"]
    out["m2_share"] = _share(out["external_delivery_pence"], out["m2_denominator_pence"])
    return out


def compute(
    payments: pd.DataFrame,
    outturn: pd.DataFrame | None = None,
    coverage_months: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """M1, M2, M3 and their coverage per council and financial year (and per service division).

    ``payments``: counted payment rows with council_id, financial_year (or payment_date /
    period_start to derive it), amount_pence, sector, sercop_group, sercop_division,
    is_redacted, is_card. ``outturn``: :func:`normalise.categories.outturn.read_outturn` output.
    ``coverage_months``: optional months known to be covered (columns council_id,
    financial_year and ``month`` "YYYY-MM" or ``months_present``), e.g. from files whose rows
    carry no day-level date.

    Returns tables ``summary_sector_division``, ``summary_group``, ``council_year_measures``,
    ``council_year_division_measures`` and ``council_year_delivery_models``.
    """
    p = _prepare(payments)
    try:
        return _compute(p, outturn, coverage_months)
    finally:
        _GROUPS.clear()


def _compute(
    p: pd.DataFrame, outturn: pd.DataFrame | None, coverage_months: pd.DataFrame | None
) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    dims = KEY + ["sector", "sercop_division"]
    out["summary_sector_division"] = (
        p.groupby(dims).agg(amount_pence=("amount_pence", "sum"), rows=("n", "sum")).reset_index()
    )
    out["summary_group"] = (
        p.groupby(KEY + ["sercop_group"])
        .agg(amount_pence=("amount_pence", "sum"), rows=("n", "sum"))
        .reset_index()
    )
    ro = _outturn_lookup(outturn)
    cy = _council_years(p, ro, coverage_months)
    out["council_year_measures"] = cy.sort_values(KEY, ignore_index=True)
    out["council_year_division_measures"] = _division_years(p, ro, cy)
    model = p["sector"].map(DELIVERY_MODELS).where(p["is_external"])
    model = model.where(~p["is_public_pass_through"], "public_body_precepts_levies_pensions")
    dm = p.assign(delivery_model=model).dropna(subset=["delivery_model"])
    out["council_year_delivery_models"] = (
        dm.groupby(KEY + ["delivery_model"])
        .agg(amount_pence=("amount_pence", "sum"), rows=("n", "sum"))
        .reset_index()
    )
    return out


def _council_years(p: pd.DataFrame, ro: pd.DataFrame, coverage_months: pd.DataFrame | None) -> pd.DataFrame:
    """``council_year_measures``: M1 by sector, M2's sides, coverage, M3 against the outturn total."""
    cy = _core(p, KEY)
    extra = [
        _sum_where(p, KEY, p["is_card"], "card_pence"),
        _sum_where(p, KEY, p["is_transfer"] & ~p["is_transfer_payee"], "transfer_by_expense_pence"),
        _sum_where(p, KEY, p["is_external"] & p["low_confidence"], "external_low_confidence_pence"),
        _sum_where(p, KEY, p["sercop_group"] == "capital", "capital_pence"),
        _sum_where(p, KEY, ~p["is_transfer"] & (p["sector"] == "unknown"), "unknown_sector_pence"),
        _sum_where(
            p,
            KEY,
            ~p["is_transfer"] & (p["sector"] != "unknown") & (p["sercop_group"] == "unknown"),
            "unknown_group_only_pence",
        ),
    ]
    extra += [_sum_where(p, KEY, p["sector"] == s, f"m1_{s}_pence") for s in SECTORS]
    extra += [
        _sum_where(p, KEY, p["is_external"] & (p["sector"] == s), f"external_{s}_pence")
        for s in EXTERNAL_SECTORS
    ]
    extra += [
        _sum_where(p, KEY, p["is_external"] & (p["sector"] == "public"), "public_shared_service_pence"),
        _sum_where(p, KEY, p["is_public_pass_through"], "public_precepts_levies_pensions_pence"),
        _sum_where(p, KEY, p["is_public_other"], "public_other_pence"),
    ]
    cy = cy.merge(pd.concat(extra, axis=1).reset_index(), on=KEY, how="left")
    cy = cy.merge(_months(p, coverage_months), on=KEY, how="left")
    cy["months_present"] = cy["months_present"].fillna(0).astype("int64")
    cy["complete"] = cy["months_present"] >= 12
    card_only = p.groupby(KEY, sort=False)["is_card"].all().rename("card_only").reset_index()
    cy = cy.merge(card_only, on=KEY, how="left")
    cy["card_only"] = cy["card_only"].fillna(False).astype(bool)
    cy["rankable"] = (
        (cy["months_present"] >= MIN_MONTHS) & ~cy["card_only"] & (cy["m2_denominator_pence"] > 0)
    )
    cy["coverage"] = [_coverage(m, c) for m, c in zip(cy["months_present"], cy["card_only"], strict=True)]
    total = (
        ro[ro["division"] == "total"]
        .rename(
            columns={
                "gss": "council_id",
                "total_service_expenditure_pence": "m3_denominator_pence",
                "release": "m3_release",
            }
        )
        .drop(columns="division")
    )
    cy = cy.merge(total, on=KEY, how="left")
    if "m3_release" not in cy.columns:
        cy["m3_release"] = None
    cy["m3_denominator_pence"] = cy["m3_denominator_pence"].astype("Int64")
    _m3(cy, cy)
    # The broad comparator for "30-40% of budgets go to third parties": every payment to an outside
    # payee (goods, works and capital included) over the same outturn total.
    cy["external_payees_pence"] = cy[[f"m1_{s}_pence" for s in EXTERNAL_SECTORS]].sum(axis=1)
    cy["external_payees_share_of_tse"] = _share(cy["external_payees_pence"], cy["m3_denominator_pence"])
    return cy


def _division_years(p: pd.DataFrame, ro: pd.DataFrame, cy: pd.DataFrame) -> pd.DataFrame:
    """``council_year_division_measures``: M2 and M3 per SeRCOP division (M3 over the division's outturn)."""
    dkeys = KEY + ["sercop_division"]
    cd = _core(p, dkeys)
    divisions = ro[ro["division"] != "total"].rename(
        columns={
            "gss": "council_id",
            "division": "sercop_division",
            "total_service_expenditure_pence": "m3_denominator_pence",
            "release": "m3_release",
        }
    )
    cd = cd.merge(divisions, on=dkeys, how="left")
    if "m3_release" not in cd.columns:
        cd["m3_release"] = None
    cd["m3_denominator_pence"] = cd["m3_denominator_pence"].astype("Int64")
    _m3(cd, cd[KEY].merge(cy[KEY + ["months_present", "card_only"]], on=KEY, how="left"))
    return cd.sort_values(dkeys, ignore_index=True)
