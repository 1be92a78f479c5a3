"""Shared test fixtures. Stage-specific fixtures live next to their tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    """``../shared`` (real council files, labels, registers). Read-only."""
    if not SHARED.exists():
        pytest.skip("../shared is not present")
    return SHARED
