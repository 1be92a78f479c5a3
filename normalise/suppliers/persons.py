"""Payees written as a private person's name, in the formats councils publish.

Why a grammar of its own: a person's name published unmasked is a data-protection failure, and an
organisation masked as a person hides where the money went. So a name is a person only when its
shape says so (title, known forename, initials, couples, post-nominals) *and* nothing in it says
organisation (legal forms, council words, business words, a possessive "Amy's"). The words are data
(``individuals`` in rules.yml, ``forenames.txt``); the cascade in classify.py adds the vetoes that need
other evidence (a register match, any name rule).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from normalise.suppliers.decision import Decision
from normalise.suppliers.keys import ascii_fold, display_name, split_trading_as
from normalise.suppliers.rule_scan import regex_mask
from normalise.suppliers.rulebook import forenames

# "Amy's", "GRACE?S", "CLAIRE´S": a possessive names a business, never the person themself
_POSSESSIVE = re.compile(r"[a-z][?\u00b4`'\u2019]s\b", re.IGNORECASE)
_JOINERS = re.compile(r"(?<=[a-z])[-'\u2019`](?=[a-z])")  # "Harrison-Walker", "O'Brien": one word
_AMPERSAND = re.compile(r"\s*[&+]\s*")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_DIGIT = re.compile(r"[0-9]")


def _has_digit(text: str) -> bool:
    """``any(c.isdigit() for c in text)``, searched in C for ASCII text (every plain text)."""
    return bool(_DIGIT.search(text)) if text.isascii() else any(c.isdigit() for c in text)


@dataclass(frozen=True)
class Tokens:
    words: list[str]
    comma_after_first: bool  # "SMITH, JOHN": the council's listing is surname first


def tokens(name: str) -> Tokens:
    """Lower-case ASCII words of a name; hyphenated and apostrophe surnames kept as one word."""
    plain = ascii_fold(display_name(name))
    return _tokens_of(plain, _NON_WORD.sub(" ", plain))


def _tokens_of(plain: str, spaced: str) -> Tokens:
    """``tokens`` of a name whose folded text is ``plain``; ``spaced`` is ``plain`` with every run of
    other characters than a-z and 0-9 made one space, which most names need as it is (no joiner, no
    "&"): the caller has it already, so no name is scanned twice."""
    text = plain
    if "-" in text or "'" in text or "`" in text or "\u2019" in text:
        text = _JOINERS.sub("", text)
    if "&" in text or "+" in text:
        text = _AMPERSAND.sub(" and ", text)
    comma = False
    if "," in text:
        first = text.partition(",")[0]
        comma = len(first.split()) == 1
    return Tokens((spaced if text is plain else _NON_WORD.sub(" ", text)).split(), comma)


def _decision(cfg: dict, kind: str, how: str) -> Decision:
    return Decision("individual", "person", cfg[f"{kind}_confidence"], f"individual: {how}", "individual")


def _is_initial(word: str) -> bool:
    return len(word) == 1 and word.isalpha()


def _organisation_words(words: list[str], cfg: dict) -> bool:
    """Business words, digits, or a legal form written as initials ("S.A.", "B.V.", "P.L.C.")."""
    if _has_digit("".join(words)):
        return True
    if not cfg["business_but_and"].isdisjoint(words):  # "and" joins a couple's names too
        return True
    if cfg["legal_forms_set"].intersection(words[-1:]):
        return True
    tail = []
    for w in reversed(words):
        if not _is_initial(w):
            break
        tail.insert(0, w)
    head = []
    for w in words:
        if not _is_initial(w):
            break
        head.append(w)
    joined = {"".join(tail), "".join(head)} - {""}
    return bool(joined & cfg["legal_forms_set"])


def _not_a_name(words: list[str], cfg: dict) -> bool:
    """A royal title first ("PRINCE WILLIAM": a pub) or a building word anywhere ("GRANGE ALBERT")."""
    return words[0] in cfg["royal_titles_set"] or not cfg["not_name_words_set"].isdisjoint(words)


def _strip_post_nominals(words: list[str], cfg: dict) -> tuple[list[str], bool]:
    found = False
    while len(words) > 2 and words[-1] in cfg["post_nominals_set"]:
        words, found = words[:-1], True
    return words, found


def _single(words: list[str], comma: bool, cfg: dict, post: bool) -> Decision | None:
    """One person: title + name, forename + surname, surname + forename(s), initials."""
    titles, known = cfg["titles_set"], forenames()
    if words and words[0] in titles:
        words, titled = words[1:], True
    elif words and words[-1] in titles:
        words, titled = words[:-1], True
    else:
        titled = False
    longs = [w for w in words if not _is_initial(w)]
    if not 1 <= len(longs) <= 3 or not 1 <= len(words) <= 4 or any(w in titles for w in words):
        return None
    if titled:
        return _decision(cfg, "title", "title + name")
    if len(words) < 2 or _not_a_name(words, cfg):
        return None
    middle_ok = all(_is_initial(w) or w in known for w in words[1:-1])
    if words[0] in known and not _is_initial(words[-1]) and len(words) <= 3 and middle_ok:
        return _decision(cfg, "forename", "forename + surname")
    rest = words[1:]
    rest_ok = all(_is_initial(w) or w in known for w in rest) and any(w in known for w in rest)
    if comma and all(_is_initial(w) or w in known for w in rest):
        return _decision(cfg, "comma", "surname, forename")
    if rest_ok and words[0] not in known and len(words) <= 3:
        return _decision(cfg, "surname_first", "surname + forename")
    if post and (words[0] in known or rest_ok):
        return _decision(cfg, "forename", "name + post-nominal")
    initials = [w for w in words if _is_initial(w)]
    # one long word and initials at one end ("J Smith", "J A Smith", "SMITH J A"). A lone initial is
    # also how sole traders trade ("T Smith"): the cascade unmasks it only when the batch corroborates
    # a business of that name (``TradingNames``), since privacy outweighs a sole trader's name.
    if len(longs) == 1 and 1 <= len(initials) <= 3 and (words[0] == longs[0] or words[-1] == longs[0]):
        if len(initials) <= 2 or words[-1] == longs[0]:
            listing = words[0] == longs[0] and len(initials) == 1  # "SMITH J"
            how = "surname + initial" if listing else "initials + surname"
            return _decision(cfg, "initials", how)
    return None


def _couple(words: list[str], cfg: dict) -> Decision | None:
    """ "Mr and Mrs Smith", "Mr X Smith and Mrs Y Smith", "John and Sally Hughes", "Smith Christine and Simon"."""
    if words.count("and") != 1:
        return None
    at = words.index("and")
    left, right = words[:at], words[at + 1 :]
    if not left or not right:
        return None
    titles, known = cfg["titles_set"], forenames()
    if left[0] in titles and right[0] in titles:
        if len(left) + len(right) >= 3 and (len(right) > 1 or len(left) > 1):
            return _decision(cfg, "title", "couple with titles")
        return None
    if _not_a_name(words, cfg):
        return None
    if len(left) == 1 and left[0] in known and len(right) == 2 and right[0] in known:
        return _decision(cfg, "forename", "couple: forenames + surname")
    if len(right) == 1 and right[0] in known and len(left) == 2 and left[1] in known and left[0] not in known:
        return _decision(cfg, "surname_first", "couple: surname + forenames")
    one, two = _single(left, False, cfg, False), _single(right, False, cfg, False)
    if one and two and len(left) >= 2 and len(right) >= 2:
        return min(one, two, key=lambda d: d.confidence)
    return None


def carer(cfg: dict) -> Decision:
    """What ``person_shape`` says of carer wording."""
    return replace(_decision(cfg, "carer", "carer wording"), subsector="carer")


def carer_wording(names: list[str], name_arr: pa.Array, cfg: dict) -> list[bool]:
    """Whether each name has carer wording, the first test of ``person_shape``: one vectorised (RE2)
    test over the folded ASCII names (Python for the rest), for the names another step already calls
    an organisation, of which the cascade reads nothing else."""
    spaced = pc.replace_substring_regex(pc.utf8_lower(name_arr), "[^a-z0-9]+", " ")
    mask = regex_mask(spaced, cfg["carer_re"])
    for i in np.nonzero(~pc.string_is_ascii(name_arr).to_numpy(zero_copy_only=False))[0].tolist():
        mask[i] = cfg["carer_re"].search(_NON_WORD.sub(" ", ascii_fold(display_name(names[i])))) is not None
    return mask.tolist()


def person_shape(name: str, cfg: dict) -> Decision | None:
    """A payee written like a private person, or None; ``cfg`` is rules.yml's ``individuals`` section.

    Carer wording ("foster carer") is a person too. Trading names ("A Smith T/A Smith Plumbing") are
    businesses: the caller checks ``trading_name_of_person``.
    """
    shown = display_name(name)
    plain = ascii_fold(shown)
    spaced = _NON_WORD.sub(" ", plain)
    if cfg["carer_re"].search(spaced):
        return carer(cfg)
    if _POSSESSIVE.search(shown):
        return None
    tok = _tokens_of(plain, spaced)
    words, post = _strip_post_nominals(tok.words, cfg)
    if not 2 <= len(words) <= 7 or _organisation_words(words, cfg):
        return None
    if "and" in words:
        return _couple(words, cfg)
    return _single(words, tok.comma_after_first, cfg, post) if len(words) <= 5 else None


class PersonShapes:
    """``person_shape`` for one batch, worked out once per name as folded to lower case.

    Why: councils write one payee in many cases ("J SMITH", "J Smith"), and the shape of an ASCII
    name reads only its lower-case text (the possessive test ignores case), so they share an answer.
    """

    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        self._seen: dict[str, Decision | None] = {}

    def __call__(self, name: str) -> Decision | None:
        shown = display_name(name)
        key = shown.lower() if shown.isascii() else shown  # a non-ASCII key is never an ASCII one
        if key in self._seen:
            return self._seen[key]
        found = self._seen[key] = person_shape(shown, self.cfg)
        return found


def trading_name_of_person(name: str, cfg: dict) -> str | None:
    """ "Trading name" for "Mr J Smith t/a Smith Builders" (a sole trader shown by the business name)."""
    owner, trading = split_trading_as(name)
    if trading and person_shape(owner, cfg):
        return trading
    return None


class TradingNames:
    """The names that trade as businesses in one classification batch (every council's distinct payees).

    Why: "T Smith" is a person's name and also how a sole trader trades. It is masked unless the same
    name appears elsewhere in the batch as a business: its words plus only a legal form or a trade
    ("T Smith Ltd", "Smith Plumbing", "John Smith Builders"; ``trade_words`` in rules.yml), with the
    same initials or none. Building and place words ("Smith House", "Smith Court") are not a trade. A
    surname alone ("Smith Ltd") corroborates only a distinctive one: not a forename, at least four
    letters, and the surname of at most ``max_people`` person-shaped payees in the batch (a common
    surname says nothing about this payee). Works on plain texts (lower-case ASCII words).
    """

    def __init__(self, texts: list[str], cfg: dict, max_people: int = 2) -> None:
        self._cue = cfg["legal_forms_set"] | cfg["trade_words_set"]
        filler = self._cue | cfg["trade_fillers_set"]
        self._max = max_people
        self._trades: dict[tuple[str, ...], set[str]] = {}  # surname/full name -> initials seen ("" none)
        self._people: dict[str, int] = {}
        self._answers: dict[str, bool] = {}  # corroborates(), by text
        # each distinct text once: names differing only in case, punctuation or identifiers share it
        for text, count in Counter(texts).items():
            words = text.split()
            named = [w for w in words if len(w) != 1 or not w.isalpha()]  # not initials
            if filler.isdisjoint(named):  # no cue word: maybe a person
                if len(named) == 1 and len(words) > 1:
                    self._people[named[0]] = self._people.get(named[0], 0) + count
                continue
            longs = [w for w in named if w not in filler]
            if 1 <= len(longs) <= 3 and not self._cue.isdisjoint(words) and not _has_digit(text):
                initials = "".join(w for w in words if len(w) == 1 and w.isalpha())
                self._trades.setdefault(tuple(longs), set()).add(initials)

    def corroborates(self, text: str) -> bool:
        """True when the person-shaped plain text ``text`` trades under the same name in the batch."""
        found = self._answers.get(text)
        if found is None:
            found = self._answers[text] = self._corroborates(text)
        return found

    def _corroborates(self, text: str) -> bool:
        words = text.split()
        longs = tuple(w for w in words if not _is_initial(w))
        initials = "".join(w for w in words if _is_initial(w))
        seen = self._trades.get(longs)
        if not seen or not ("" in seen or initials in seen):
            return False
        if len(longs) > 1 or (initials and initials in seen):  # the full name, or the same initials
            return True
        surname = longs[0]
        return len(surname) >= 4 and surname not in forenames() and self._people.get(surname, 0) <= self._max
