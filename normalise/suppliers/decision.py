"""A candidate answer for one payee (sector, confidence, evidence) and how candidates are ranked.

Why a module of its own: every step of the cascade, the register look-ups and the council context
all produce and compare ``Decision``s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

from councilspend.schemas import enum

#: The sector vocabulary of the published suppliers contract, so the classifier, the rule files and the
#: published data cannot disagree on it.
SECTORS = enum("published/suppliers", "sector")
DEFAULT_CONFIDENCE = 0.35
STEP_ORDER = {
    "override": 0,
    "redaction": 1,
    "council_company": 2,
    "identifier": 3,
    "register": 4,
    "rule": 5,
    "individual": 6,
    "default": 7,
}


@dataclass(frozen=True)
class Decision:
    sector: str
    subsector: str
    confidence: float
    evidence: str
    step: str
    org_id: str | None = None
    canonical: str | None = None

    def rank(self) -> tuple[float, int]:
        return _rank(self.confidence, self.step)


@lru_cache(maxsize=1024)
def _rank(confidence: float, step: str) -> tuple[float, int]:
    """``Decision.rank``: called millions of times on a handful of (confidence, step) pairs."""
    return (round(confidence, 3), -STEP_ORDER[step])


def best_decision(candidates: Iterable[Decision]) -> Decision | None:
    best, best_rank = None, None
    for c in candidates:
        rank = c.rank()
        if best is None or rank > best_rank:
            best, best_rank = c, rank
    return best


REDACTED_FLAG = Decision("redacted", "", 1.0, "is_redacted flag set by the normaliser", "redaction")
BLANK_NAME = Decision("redacted", "blank", 0.6, "blank payee name", "redaction")
MARKUP_DEFAULT = Decision("unknown", "", 0.2, "default: name looks like markup or a formula", "default")
PRIVATE_DEFAULT = Decision(
    "private",
    "",
    DEFAULT_CONFIDENCE,
    "default: a trading name with no other cue (most are businesses)",
    "default",
)
UNKNOWN_DEFAULT = Decision("unknown", "", 0.2, "default: no usable name", "default")


def with_register_id(best: Decision, cands: list[Decision]) -> Decision:
    """A rule that agrees with a register keeps the register's org-id and name as corroboration."""
    if best.org_id:
        return best
    agreeing = [c for c in cands if c.org_id and c.sector == best.sector]
    if not agreeing:
        return best
    reg = best_decision(agreeing)
    return replace(
        best, org_id=reg.org_id, canonical=reg.canonical, evidence=f"{best.evidence}; {reg.evidence}"
    )
