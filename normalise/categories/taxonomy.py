"""The two SeRCOP vocabularies this stage maps onto, in display order.

Kept in one place so the classifier, the measures and the tests agree on spelling.
"""

from __future__ import annotations

#: CIPFA SeRCOP standard subjective groups (what the money bought), plus ``unknown``.
SUBJECTIVE_GROUPS: tuple[str, ...] = (
    "employees",
    "premises",
    "transport",
    "supplies_services",
    "third_party_payments",
    "transfer_payments",
    "support_services",
    "capital",
    "income",
    "financing",
    "unknown",
)

#: SeRCOP service divisions as used on the Revenue Outturn forms (which service), plus ``unknown``.
SERVICE_DIVISIONS: tuple[str, ...] = (
    "education",
    "highways_transport",
    "childrens_social_care",
    "adult_social_care",
    "public_health",
    "housing",
    "cultural",
    "environmental_regulatory",
    "planning_development",
    "police",
    "fire",
    "central_services",
    "other",
    "unknown",
)

#: ``kind`` value -> allowed labels.
LABELS: dict[str, tuple[str, ...]] = {
    "expense_type": SUBJECTIVE_GROUPS,
    "service_area": SERVICE_DIVISIONS,
}
