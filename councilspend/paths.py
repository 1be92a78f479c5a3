"""Default locations of each stage's output, relative to a data directory (``./data``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def raw(self) -> Path:
        """Crawl output: ``files/`` by content hash and ``manifest.csv``."""
        return self.root / "raw"

    @property
    def manifest(self) -> Path:
        return self.raw / "manifest.csv"

    @property
    def normalised(self) -> Path:
        """Normaliser output: one Parquet of canonical rows and one JSON report per source file."""
        return self.root / "normalised"

    @property
    def database(self) -> Path:
        return self.root / "councilspend.db"

    @property
    def registry(self) -> Path:
        """The councils this data directory publishes, when they are its own (the demo's fictional
        councils); without it the build knows every English council."""
        return self.root / "councils.yml"

    @property
    def council_companies(self) -> Path:
        """The user's own list of council-owned companies (``name,council_id[,company_number]``), if any."""
        return self.root / "council_companies.csv"

    @property
    def registers(self) -> Path:
        return self.root / "registers.db"
