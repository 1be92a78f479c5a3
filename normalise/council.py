"""Which council published this file, from its own content (Body code, URI, GSS code or name).

The crawl says which council's site listed a file; the file itself usually says who published it.
Both are kept and a disagreement is reported (a repository calling Craven's file "Wigan" is how
mislabelled data spreads).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc

from normalise.rulefiles import load_yaml

AUTHORITIES_PATH = Path(__file__).with_name("authorities.yml")
_GSS = re.compile(r"^[EWSN]\d{8}$")
_NOISE = re.compile(
    r"\b(?:the|of|council|city|borough|district|county|metropolitan|royal|london|mbc|mdc|bc|dc|cc|"
    r"wmdc|smbc|lb|rb|corporation)\b"
)


def name_key(text: str) -> str:
    t = re.sub(r"[^a-z0-9 ]+", " ", str(text).lower().replace("&", " and "))
    t = _NOISE.sub(" ", t)
    return " ".join(t.split())


@cache
def _index() -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]]:
    """(gss -> name, snac -> gss, name key -> gss, former gss -> gss)."""
    data = load_yaml(AUTHORITIES_PATH)["authorities"]
    names, snac, keys, former = {}, {}, {}, {}
    for a in data:
        names[a["gss"]] = a["name"]
        if a.get("snac"):
            snac[str(a["snac"]).upper()] = a["gss"]
        for n in [a["name"], a["nice"], *a.get("alt", [])]:
            k = name_key(n)
            if k and (k not in keys or not a.get("ended")):
                keys.setdefault(k, a["gss"])
        for f in a.get("former_gss", []):
            former[f] = a["gss"]
    return names, snac, keys, former


def council_name(gss: str) -> str | None:
    return _index()[0].get(gss)


def identify(value: str, registry: list[dict] | None = None) -> tuple[str | None, str]:
    """One Body/Organisation cell -> (GSS code or None, how it was recognised)."""
    names, snac, keys, former = _index()
    v = value.strip()
    if not v:
        return None, ""
    if _GSS.match(v.upper()):
        code = v.upper()
        return former.get(code, code), f"GSS code {code}"
    if "/" in v:  # a URI: .../local-authority/00BU or .../metropolitan-district-council/leeds
        last = v.rstrip("/").rsplit("/", 1)[-1]
        if last.upper() in snac:
            return snac[last.upper()], f"SNAC code {last} in URI"
        if _GSS.match(last.upper()):
            return last.upper(), f"GSS code in URI {v}"
        k = name_key(last.replace("-", " "))
        if k in keys:
            return keys[k], f"name {last!r} in URI"
        return None, ""
    if v.upper() in snac:
        return snac[v.upper()], f"SNAC code {v}"
    for entry in registry or []:
        ident = entry.get("id") or entry.get("council_id") or entry.get("gss")
        cands = [entry.get("name"), entry.get("nice_name"), *(entry.get("alt_names") or [])]
        if ident and any(c and name_key(c) == name_key(v) for c in cands):
            return str(ident), f"name {v!r} in the council registry"
    k = name_key(v)
    if k and k in keys:
        return keys[k], f"name {v!r}"
    return None, ""


def identify_from_columns(
    body: pd.Series | None, body_name: pd.Series | None, registry: list[dict] | None = None
) -> tuple[str | None, str]:
    """Look at the most common values of the Body code and name columns; first recognised wins."""
    for series in (body, body_name):
        if series is None:
            continue
        for value in _most_common(series):
            gss, how = identify(str(value), registry)
            if gss:
                return gss, how
    return None, ""


def _most_common(series: pd.Series) -> list:
    """The three most common non-empty values, most common first. A body column nearly always holds
    one value: then that is the answer, without counting (pyarrow's distinct values)."""
    arr = getattr(series.array, "_pa_array", None)
    if arr is not None and not arr.null_count:
        filled = [v for v in pc.unique(arr).to_pylist() if v != ""]
        if len(filled) <= 1:
            return filled
    return list(series[series != ""].value_counts().index[:3])


UNKNOWN = "unknown"  # council_id when neither the caller nor the file can tell (the report says so)
_COUNCIL_WORD = re.compile(
    r"^(?:council|borough|district|county|city|metropolitan|mbc|mdc|bc|dc|cc|smbc|lb|rb)$"
)
# words of a file name that say what the file is, not who published it
_FILE_WORDS = re.compile(
    r"^(?:\d+|spend(?:ing)?|payments?|expenditure|over|above|to|suppliers?|supplier|transparency|data|"
    r"invoices?|csv|xlsx?|ods|final|published|monthly|quarter(?:ly)?|q[1-4]|jan(?:uary)?|feb(?:ruary)?|"
    r"mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|"
    r"dec(?:ember)?|for|in|gbp|pounds|report|list|all|\d+k)$"
)
_MAX_NAME_WORDS = 6


def identify_from_names(
    preamble: str, file_name: str, folder: str, registry: list[dict] | None = None
) -> tuple[str | None, str]:
    """The council named by a file's preamble, its file name or its folder: (GSS or None, evidence).

    Free text (the preamble) must name a council as a council ("Leeds City Council", "London Borough
    of Lambeth"), so the word "reading" in a sentence is not Reading. A file or folder name must be
    the council's name and nothing else once dates and spending words are set aside
    ("Manchester September 2014.xls", "north-tyneside/"), so "lancashire-pcc" is not Lancashire.
    """
    gss, words = _named_as_council(preamble, registry)
    if gss:
        return gss, f"{words!r} in the preamble"
    for what, text in (("file name", Path(file_name).stem), ("folder", folder)):
        gss, words = _named_as_council(text, registry)
        if not gss:
            gss, words = _whole_name(text, registry)
        if gss:
            return gss, f"{words!r} in the {what} {text!r}"
    return None, ""


def _tokens(text: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(text))  # CamelCase file names
    return re.findall(r"[a-z0-9]+", spaced.lower().replace("&", " and "))


def _lookup(words: list[str], registry: list[dict] | None) -> str | None:
    text = " ".join(words)
    gss, _ = identify(text, registry) if registry else (None, "")
    return gss or _index()[2].get(name_key(text))


def _named_as_council(text: str, registry: list[dict] | None) -> tuple[str | None, str]:
    """The longest run of words next to a council word ("X Council", "Borough of X") that is a name."""
    tokens = _tokens(text)
    for n in range(_MAX_NAME_WORDS, 0, -1):
        for i in range(len(tokens) - n + 1):
            before = tokens[i - 1] if i else ""
            after = tokens[i + n] if i + n < len(tokens) else ""
            words = tokens[i : i + n]
            if _COUNCIL_WORD.match(words[0]) or not (_COUNCIL_WORD.match(after) or before == "of"):
                continue
            if before == "of" and not (i >= 2 and _COUNCIL_WORD.match(tokens[i - 2])):
                continue
            if gss := _lookup(words, registry):
                return gss, " ".join(tokens[max(i - 2, 0) : i + n + 1])
    return None, ""


def _whole_name(text: str, registry: list[dict] | None) -> tuple[str | None, str]:
    """A file or folder name that is a council's name once dates and spending words are removed."""
    words = [t for t in _tokens(text) if not _FILE_WORDS.match(t)]
    if not words or len(words) > _MAX_NAME_WORDS:
        return None, ""
    gss = _lookup(words, registry)
    return (gss, " ".join(words)) if gss else (None, "")


def suggestions(text: str, limit: int = 3) -> list[tuple[str, str]]:
    """The councils whose names are nearest ``text``: [(name, GSS)], for a "did you mean"."""
    from rapidfuzz import fuzz, process

    names, _, keys, _ = _index()
    query = name_key(text) or str(text).lower()
    found = process.extract(query, list(keys), scorer=fuzz.WRatio, limit=limit * 4, score_cutoff=70)
    out: list[tuple[str, str]] = []
    for key, score, _ in found:
        if score < found[0][1] - 10:  # only the names about as near as the nearest
            break
        pair = (names[keys[key]], keys[key])
        if pair not in out:
            out.append(pair)
    return out[:limit]


def resolve_given(value: str, registry: list[dict] | None = None) -> tuple[str | None, str]:
    """A council the user named (``--council``): GSS code, SNAC code or name -> (GSS, its name).

    (None, "") when nothing matches; a well-formed GSS code no list knows resolves to itself with an
    empty name (a body such as a police and crime commissioner, which has a code but is no council).
    """
    gss, _ = identify(value, registry)
    if gss is None:
        return None, ""
    named = council_name(gss) or next(
        (str(e.get("name")) for e in registry or [] if (e.get("id") or e.get("council_id")) == gss), ""
    )
    return gss, named
