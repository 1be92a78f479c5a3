"""Acceptance: the classifier on the hand-checked gold labels, using only the register samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from normalise.suppliers.accuracy import format_summary, score_gold, summarise
from normalise.suppliers.registers import detect_kind, load_register

LA_FIRST = (
    "uk_local_authorities_future.csv",
    "la_lookup_name_to_registry.csv",
    "la_lookup_gss_to_registry.csv",
)


def load_samples(registers_dir: Path, db: Path) -> dict[str, int]:
    """Load every register sample in ../shared/data/registers (local authorities first)."""
    files = [registers_dir / f for f in LA_FIRST]
    files += [p for p in sorted(registers_dir.iterdir()) if p.is_file() and p.name not in LA_FIRST]
    loaded = {}
    for path in files:
        kind = detect_kind(path) if path.suffix in (".csv", ".txt") else None
        if kind:
            loaded[path.name] = load_register(kind, path, db)
    return loaded


@pytest.fixture(scope="module")
def registers_db(shared: Path, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("registers") / "registers.db"
    load_samples(shared / "data" / "registers", db)
    return db


@pytest.fixture(scope="module")
def scored(shared: Path, registers_db: Path):
    return score_gold(shared / "data" / "labels" / "suppliers_gold.csv", registers_db)


def test_accuracy_targets(scored) -> None:
    print("\n" + format_summary(scored))
    s = summarise(scored)
    high_count, high_gbp, n_high = s["high"]
    assert n_high > 100
    assert high_count >= 0.90, f"high-confidence accuracy by count {high_count:.3f}"
    assert high_gbp >= 0.95, f"high-confidence accuracy by £ {high_gbp:.3f}"
    assert s["unknown_gbp_share"] <= 0.05


def test_no_public_private_confusion_on_obvious_names(scored) -> None:
    assert summarise(scored)["public_private_confusions"] == []


def test_every_row_has_evidence_and_a_valid_id(scored) -> None:
    assert scored["evidence"].str.len().gt(0).all()
    assert scored["supplier_id"].str.match(r"^(GB-[A-Z]+-\w+|CS-[0-9A-F]{10})$").all()
    assert scored["confidence"].between(0, 1).all()
