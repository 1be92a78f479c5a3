"""Match keys for payee names and normalised register identifiers.

A council writes the same payee many ways ("VEOLIA ES (UK) LTD", "Veolia ES (UK) Limited",
"The Veolia ES UK Ltd T/A Onyx"). ``match_key`` folds those into one string so exact joins
(registers, other councils) work; ``fuzzy_key`` drops a little more for the fuzzy pass.
Place words and "UK" are kept on purpose: "Age UK Camden" and "Age UK Barnet" are
different legal entities.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

# Trailing legal forms dropped from the match key (longest first so multi-word forms win).
LEGAL_SUFFIXES = (
    "public limited company",
    "community interest company",
    "limited liability partnership",
    "limited",
    "ltd",
    "plc",
    "llp",
    "lp",
    "cic",
    "cio",
    "scio",
    "inc",
    "llc",
    "co",
    "company",
)
FUZZY_EXTRA_SUFFIXES = ("group", "holdings")

_TRADING_AS = re.compile(r"\s+(?:t\s*/\s*as?|t\\a|trading\s+as)\s+", re.IGNORECASE)
# "B & Q (205037)", "Name#2", "Name#Internal Invoices": account notes, not part of the name.
_ACCOUNT_NOTE = re.compile(r"\(\s*\d[\d\s/-]*\)")
_PARENS = re.compile(r"\(([^)]*)\)?")
_APOSTROPHE = re.compile(r"['\u2019`]")
_AMPERSAND = re.compile(r"[&+]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SPACES = re.compile(r"\s+")
_NEEDS_CLEANING = re.compile(r"^\s|\s$|\s\s|[^\S ]|[\u00a0\u200b\u200c\u200d\ufeff]")
_INVISIBLE = re.compile(r"[\u00a0\u200b\u200c\u200d\ufeff]")


def display_name(raw: object) -> str:
    """Trimmed, whitespace-collapsed name with case kept: what a reader should see."""
    if type(raw) is str:  # nearly always: no missing-value tests
        text = raw
    elif raw is None or (isinstance(raw, float) and raw != raw):
        return ""
    else:
        text = str(raw)
    if text.isascii() and text.isprintable():
        # the only whitespace printable ASCII has is " ", and it has no invisible characters: string
        # tests in C answer what _NEEDS_CLEANING would, for most names
        if "  " not in text and text[:1] != " " and text[-1:] != " ":
            return text
    elif not _NEEDS_CLEANING.search(text):
        return text
    return _SPACES.sub(" ", _INVISIBLE.sub(" ", text)).strip()


def ascii_fold(text: str) -> str:
    """Lower-case ASCII: accents dropped, so "Café" and "Cafe" match."""
    if text.isascii():  # NFKD leaves ASCII unchanged: skip the Unicode round trip for most names
        return text.lower()
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()


def split_trading_as(raw: str) -> tuple[str, str]:
    """("A Smith", "Smith Plumbing") for "A Smith T/A Smith Plumbing"; ("name", "") otherwise."""
    name = display_name(raw)
    parts = _TRADING_AS.split(name, maxsplit=1)
    if len(parts) == 2 and parts[0].strip() and parts[1].strip():
        return parts[0].strip(), parts[1].strip()
    return name, ""


# ``plain_text`` of one ASCII character: lower case, apostrophes dropped, "&"/"+" as "and", other
# punctuation and whitespace a space.
_PLAIN_ASCII = str.maketrans(
    {
        chr(c): chr(c).lower()
        if chr(c).isalnum()
        else ""
        if chr(c) in "'`"
        else " and "
        if chr(c) in "&+"
        else " "
        for c in range(128)
    }
)


def plain_text(raw: str) -> str:
    """Lower-case ASCII words separated by single spaces; ``&``/``+`` become "and".

    Name rules (rules.yml) are regular expressions over this text.
    """
    if type(raw) is str and raw.isascii():
        # every step below maps one ASCII character at a time: one table, then spaces collapsed
        return " ".join(raw.translate(_PLAIN_ASCII).split())
    text = ascii_fold(display_name(raw))
    text = _APOSTROPHE.sub("", text)
    text = _AMPERSAND.sub(" and ", text)
    return _NON_ALNUM.sub(" ", text).strip()


def _suffix_re(suffixes: tuple[str, ...]) -> re.Pattern:
    alternatives = "|".join(re.escape(x) for x in sorted(suffixes, key=len, reverse=True))
    return re.compile(rf"(?:\s(?:{alternatives}))+$")


_SUFFIX_RE = _suffix_re(LEGAL_SUFFIXES)
_FUZZY_SUFFIX_RE = _suffix_re(LEGAL_SUFFIXES + FUZZY_EXTRA_SUFFIXES)
# The last word of each pattern's suffixes. A suffix match ends the text, so a text whose last word is
# none of these (most names) has nothing to strip: one split instead of a regular-expression search.
_LAST_WORDS = {
    pattern: frozenset(s.split()[-1] for s in suffixes)
    for pattern, suffixes in (
        (_SUFFIX_RE, LEGAL_SUFFIXES),
        (_FUZZY_SUFFIX_RE, LEGAL_SUFFIXES + FUZZY_EXTRA_SUFFIXES),
    )
}


def _strip_suffixes(text: str, pattern: re.Pattern) -> str:
    """Drop trailing legal forms, always keeping the first word ("Company Ltd" → "company")."""
    if " " not in text:
        return text
    last_words = _LAST_WORDS.get(pattern)
    if last_words is not None:
        words = text.rsplit(None, 1)
        if words and words[-1] not in last_words:
            return text
    return pattern.sub("", text)


def match_key(raw: object) -> str:
    """Exact-join key: case, punctuation, "&", "The", legal suffixes and trading names folded.

    >>> match_key("The Foo Bar & Baz (South) Ltd T/A Bar Foo")
    'foo bar and baz south'
    """
    name, _trading = split_trading_as(display_name(raw))
    if "#" in name and not name.startswith("#"):
        name = name.split("#", 1)[0]
    return match_key_from_plain(plain_text(_ACCOUNT_NOTE.sub(" ", name)))


# A name with none of these has ``match_key(name) == match_key_from_plain(plain_text(name))``:
# callers that already have the plain text of many names use it to skip the raw-name work.
MATCH_KEY_RAW_CUES = (_TRADING_AS, _ACCOUNT_NOTE, re.compile("#"))


def match_key_from_plain(text: str) -> str:
    """``match_key`` of a name whose ``plain_text`` is ``text`` and which has no ``MATCH_KEY_RAW_CUES``."""
    words = text.split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    if words and min(map(len, words)) == 1:  # only a one-letter word can start a run of initials
        words = _join_initials(words)
    return _strip_suffixes(" ".join(words), _SUFFIX_RE)


def _join_initials(words: list[str]) -> list[str]:
    """ "e s uk" → "es uk", so "E.S." and "ES" agree."""
    out: list[str] = []
    run: list[str] = []
    for w in words + [""]:
        if len(w) == 1 and w.isalpha():
            run.append(w)
            continue
        if run:
            out.append("".join(run))
            run = []
        if w:
            out.append(w)
    return out


def fuzzy_key(key: str) -> str:
    """A match key with "group"/"holdings" also dropped, for the fuzzy pass only."""
    return _strip_suffixes(key, _FUZZY_SUFFIX_RE)


# --- council names ----------------------------------------------------------------------------

# Dropped from a council name, whole words only ("the", "of" and the kinds of council).
COUNCIL_NAME_WORDS = frozenset(
    "the council of metropolitan borough district city county royal corporation mbc lbc lb rb london "
    "unitary authority dc bc cc mdc rbc cbc mb bofc".split()
)
# "L B Camden", "Bolton M.B.C.": a council abbreviation written as initials
COUNCIL_ABBREVIATIONS = frozenset({"lb", "rb", "mbc", "mdc", "dc", "bc", "cc", "cbc", "rbc", "lbc", "mb"})
_DEPARTMENT = re.compile(r"\s+[-\u2013:]\s+")  # "Leeds CC - Highways": the body, then its department


def council_key(raw: object) -> str:
    """Key for council names: "London Borough of Camden", "Camden Council", "LB Camden" → "camden".

    Bracketed notes ("(Direct Debit)", "(200398)", an unclosed "(RADIUS ACCOUNT") and leading
    markers such as "(DD ONLY)" are dropped first.
    """
    body = _DEPARTMENT.split(_PARENS.sub(" ", display_name(raw)), maxsplit=1)[0]
    return council_key_from_plain(plain_text(body))


def council_key_from_plain(text: str) -> str:
    """``council_key`` of a name whose ``plain_text`` is ``text`` and which has no "(" or " - " in it."""
    words = text.replace(" and ", " ").split()
    if words and min(map(len, words)) == 1:
        words = _join_initials(words)
    # plain text has only [a-z0-9] words: a set look-up per word, not a regular expression per name
    return " ".join([w for w in words if w not in COUNCIL_NAME_WORDS])


def council_typos_fixed(text: str, vocabulary: frozenset[str], not_typos: frozenset[str]) -> str:
    """ "exampleton councl" → "exampleton council": words within a small edit distance of a council word.

    Only a candidate: the caller keeps it when the place left over is a known council.
    """
    return " ".join(
        [
            w if len(w) < 5 or w in vocabulary or w in not_typos else _council_word(w, vocabulary)
            for w in text.split()
        ]
    )


@lru_cache(maxsize=1 << 16)
def _council_word(word: str, vocabulary: frozenset[str]) -> str:
    """The council word ``word`` is a typo of, or ``word``: memoised, since the same words recur across
    thousands of names and each answer costs an edit distance against the whole vocabulary."""
    return next((v for v in vocabulary if _near(word, v)), word)


def council_key_and_cue(name: str, text: str, words: dict) -> tuple[str, bool]:
    """(council key, whether the name carries a council cue the word rules miss): a typo of a council
    word ("COUNCL") or an abbreviation written as initials ("L B", "M.B.C.").

    ``words``: rules.yml ``council_words`` (``vocabulary_set``, ``not_typos_set``).
    """
    return _council_key_and_cue(council_body(name, text), words["vocabulary_set"], words["not_typos_set"])


def council_body(name: str, text: str) -> str:
    """What ``council_key_and_cue`` reads of a name whose plain text is ``text``: the plain text of
    the name with bracketed notes and any department dropped."""
    if "(" in name or _DEPARTMENT.search(name):
        return plain_text(_DEPARTMENT.split(_PARENS.sub(" ", display_name(name)), maxsplit=1)[0])
    return text


def council_keys_and_cues(bodies: list[str], words: dict) -> tuple[list[str], list[bool]]:
    """``council_key_and_cue`` of many names from their ``council_body``: each distinct body once."""
    vocabulary, not_typos = words["vocabulary_set"], words["not_typos_set"]
    memo: dict[str, tuple[str, bool]] = {}
    ckeys, cues = [], []
    for body in bodies:
        found = memo.get(body)
        if found is None:
            found = memo[body] = _key_and_cue(body, vocabulary, not_typos)
        ckeys.append(found[0])
        cues.append(found[1])
    return ckeys, cues


@lru_cache(maxsize=1 << 16)
def _council_key_and_cue(
    body: str, vocabulary: frozenset[str], not_typos: frozenset[str]
) -> tuple[str, bool]:
    """``council_key_and_cue`` of a name whose plain text, notes and department dropped, is ``body``:
    memoised, since names that differ only in case, punctuation, a bracketed note or their
    identifiers share it."""
    return _key_and_cue(body, vocabulary, not_typos)


def _key_and_cue(body: str, vocabulary: frozenset[str], not_typos: frozenset[str]) -> tuple[str, bool]:
    """``_council_key_and_cue`` not memoised (a batch memoises its own, and keeps no cache after)."""
    fixed = council_typos_fixed(body, vocabulary, not_typos)
    cue = fixed != body
    split = body.split()
    if not cue and split and min(map(len, split)) == 1:  # initials need a one-letter word
        cue = any(w in COUNCIL_ABBREVIATIONS for w in set(_join_initials(split)) - set(split))
    return council_key_from_plain(fixed), cue


def _near(word: str, target: str) -> bool:
    """One edit (two for long words), or a truncation of at least five letters ("metropol")."""
    if abs(len(word) - len(target)) > 2 or word[0] != target[0]:
        return target.startswith(word)
    return Levenshtein.distance(word, target) <= (1 if len(target) < 8 else 2) or target.startswith(word)


# --- identifiers --------------------------------------------------------------------------------

_COMPANY_NUMBER = re.compile(r"^(?:\d{8}|[A-Z]{2}\d{6}|IP\d{4,6}R?|RS\d{6}|SP\d{4,6}R?S?)$")
_CHARITY_EW = re.compile(r"^(\d{6,7})(?:-\d+)?$")
_CHARITY_SC = re.compile(r"^SC0?\d{5}$")
_CHARITY_NI = re.compile(r"^NIC?(\d{6})$")
_VAT = re.compile(r"^(?:\d{9}|\d{12}|GD\d{3}|HA\d{3})$")


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value) or str(value).strip() == ""


def company_number(value: object) -> str | None:
    """Companies House number, upper-case and zero-padded to 8 digits; None when not valid."""
    if _blank(value):
        return None
    text = re.sub(r"[\s.]", "", str(value)).upper()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    if text.isdigit():
        if int(text) == 0:
            return None
        text = text.zfill(8)
    return text if _COMPANY_NUMBER.match(text) else None


def charity_number(value: object) -> str | None:
    """Charity number as an org-id suffix: "1107583", "SC012345" or "NIC100005" forms; None if invalid."""
    if _blank(value):
        return None
    text = re.sub(r"\s", "", str(value)).upper()
    if text.endswith(".0"):
        text = text[:-2]
    if m := _CHARITY_EW.match(text):
        return m.group(1) if int(m.group(1)) else None
    if _CHARITY_SC.match(text):
        return text
    if m := _CHARITY_NI.match(text):
        return "NI" + m.group(1)
    return None


def charity_org_id(number: str) -> str:
    """org-id for a normalised charity number (E&W, Scotland or Northern Ireland)."""
    if number.startswith("SC"):
        return f"GB-SC-{number}"
    if number.startswith("NI"):
        return f"GB-NIC-{number[2:]}"
    return f"GB-CHC-{number}"


def vat_number(value: object) -> str | None:
    """UK VAT number without the GB prefix or spaces; None when not a valid shape."""
    if _blank(value):
        return None
    text = re.sub(r"[\s.\-]", "", str(value)).upper()
    if text.startswith("GB"):
        text = text[2:]
    return text if _VAT.match(text) else None
