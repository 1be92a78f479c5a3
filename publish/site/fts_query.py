"""What a person types into a search box -> an FTS5 query that is always valid.

FTS5 has its own syntax (``"``, ``*``, ``NEAR(``, ``AND``/``OR``/``NOT``, ``col:``, ``^``), and any
slip in it is an SQL error. Datasette's ``escape_fts`` quotes words but leaves an empty query (a lone
``"``) to fail. Here every term becomes a quoted string, so no operator survives; two things people
mean are kept: ``"a phrase"`` stays a phrase and a word ending in ``*`` is a prefix (``care*``).
Nothing typed can make an error: no term at all gives ``""``, which matches nothing.
"""

from __future__ import annotations

import re

MAX_QUERY_CHARS = 200  # a search is a few words; longer text only costs index lookups
MAX_TERMS = 12
MIN_PREFIX_CHARS = 2  # ``a*`` would read most of the index for nothing
_TERMS = re.compile(r'"([^"]*)"?|([^\s"]+)')  # a quoted phrase (closing quote optional) or a bare word
# Control characters (NUL ends an FTS5 string early) and lone surrogates (not UTF-8) are removed.
_UNSAFE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_WORDISH = re.compile(r"\w")
EMPTY = '""'


def fts_query(text: object) -> str:
    """An FTS5 MATCH expression for ``text``: quoted terms, ANDed; ``word*`` a prefix; never invalid."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = _UNSAFE.sub(" ", text[:MAX_QUERY_CHARS])
    terms: list[str] = []
    for m in _TERMS.finditer(text):
        phrase, word = m.group(1), m.group(2)
        if phrase is not None:
            term = _quoted(phrase)
        else:
            prefix = word.endswith("*")
            word = word.rstrip("*")
            term = _quoted(word)
            if term and prefix and len(word) >= MIN_PREFIX_CHARS:
                term += "*"
        if term:
            terms.append(term)
        if len(terms) >= MAX_TERMS:
            break
    return " ".join(terms) or EMPTY


def _quoted(text: str) -> str:
    """``text`` as one FTS5 string, or "" when it holds nothing the tokenizer would index."""
    text = " ".join(text.split())
    if not _WORDISH.search(text):
        return ""
    return '"' + text.replace('"', '""') + '"'


def is_empty(query: str) -> bool:
    """True when the parsed query has no term (it would match nothing)."""
    return query == EMPTY
