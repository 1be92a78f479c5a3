"""Categories: expense types -> SeRCOP subjective groups, service areas -> SeRCOP service divisions,
and the Revenue Outturn loader that gives the externally delivered share its denominator."""

from normalise.categories.classify import classify_categories, classify_value
from normalise.categories.taxonomy import SERVICE_DIVISIONS, SUBJECTIVE_GROUPS

__all__ = ["classify_categories", "classify_value", "SERVICE_DIVISIONS", "SUBJECTIVE_GROUPS"]
