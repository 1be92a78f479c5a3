"""Shorter name forms of public bodies (``name_forms.yml``), added to the reference register at build time."""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from pathlib import Path

import yaml

FORMS_FILE = Path(__file__).resolve().parent / "name_forms.yml"
_SKIP_INITIAL = frozenset({"and", "of", "the", "for"})


def load_forms(path: Path = FORMS_FILE) -> list[dict]:
    """The form rules, each with its ``match`` compiled."""
    forms = yaml.safe_load(path.read_text(encoding="utf-8"))["forms"]
    for f in forms:
        f["re"] = re.compile(f["match"])
        f["keep"] = re.compile(f.get("keep_if") or "")
    return forms


def initials(place: str) -> str:
    """First letters of a place's words, "and"/"of"/"the"/"for" skipped: "tyne and wear" -> "tw"."""
    return "".join(w[0] for w in place.split() if w not in _SKIP_INITIAL)


def derived_keys(key: str, form: dict) -> set[str]:
    """The short keys one registered match key gives under one form (before the collision checks)."""
    m = form["re"].search(key)
    if not m:
        return set()
    groups = {k: v for k, v in m.groupdict().items() if v}
    groups["initials"] = initials(groups.get("place", ""))
    out = set()
    for template in form["forms"]:
        if "{initials}" in template and len(groups["initials"]) < 2:
            continue
        try:
            short = " ".join(template.format(**groups).split())
        except KeyError:
            continue
        words = short.split()
        letters = sum(c.isalpha() for c in short)
        if (
            len(words) >= form.get("min_words", 2 if "{initials}" not in template else 1)
            and letters >= form.get("min_letters", 4)
            and form["keep"].search(short)
        ):
            out.add(short)
    return out - {key}


def add_name_forms(conn: sqlite3.Connection, forms: list[dict] | None = None) -> int:
    """Insert the derived short keys into ``names`` (name_type "short"); returns how many were added.

    A key is dropped when it already names another organisation or a council's place (the
    local-authority names), or when two different registered names give it. One registered name held
    by several registers (an NHS trust in ODS and the PSCG) gives the key to each of them.
    """
    forms = load_forms() if forms is None else forms
    taken: dict[str, set[str]] = defaultdict(set)
    for key, org_id in conn.execute("SELECT key, org_id FROM names"):
        taken[key].add(org_id)
    derived: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    rows = conn.execute(
        "SELECT key, org_id, register FROM names WHERE register != 'local_authorities'"
    ).fetchall()
    for key, org_id, register in rows:
        for form in forms:
            if register in form["registers"]:
                for short in derived_keys(key, form):
                    derived[short].add((org_id, register, key))
    new = []
    for short, owners in sorted(derived.items()):
        sources = {source for _, _, source in owners}
        orgs = {o for o, _, _ in owners}
        if len(sources) != 1 or not taken.get(short, orgs) <= orgs:
            continue
        new += [(short, o, r, "short") for o, r, _ in sorted(owners) if o not in taken.get(short, set())]
    conn.executemany("INSERT INTO names VALUES (?, ?, ?, ?)", new)
    conn.commit()
    return len(new)
