"""Expand abbreviated and truncated account names into whole words (``rules/vocabulary.yml``).

Why: ledgers are written by finance systems with short fields, so one account appears as
"Housing Management Contributions", "Hsg Mgmt Contrib" and "HOUSING MANAGEME". Rules written against
the words of a few councils miss the others; expanding every token against a general vocabulary of
local-government accounting lets the same rules read all three. The expansion is general (prefix,
dropped vowels, listed short forms); nothing here knows a council.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path

from normalise.rulefiles import load_yaml

VOCABULARY = Path(__file__).parent / "rules" / "vocabulary.yml"
#: Ordinary English words (SCOWL size 35, British spelling; see ``rules/english_words.NOTICE.txt``).
ENGLISH_WORDS = Path(__file__).parent / "rules" / "english_words.txt"
_VOWELS = set("aeiou")


@cache
def vocabulary() -> dict:
    """The vocabulary file, checked: ``words``, ``plain``, ``short_forms`` and ``phrases``."""
    data = load_yaml(VOCABULARY)
    for key in ("words", "plain", "short_forms", "phrases"):
        if key not in data:
            raise ValueError(f"{VOCABULARY}: missing section {key!r}")
    words = tuple(dict.fromkeys(str(w).lower() for w in data["words"]))
    phrases = sorted(((str(k), str(v)) for k, v in data["phrases"].items()), key=lambda kv: -len(kv[0]))
    return {
        "words": words,
        "word_set": frozenset(words),
        "known": frozenset(words) | {str(w).lower() for w in data["plain"]},
        "short_forms": {str(k).lower(): str(v) for k, v in data["short_forms"].items()},
        "phrases": [(re.compile(rf"(?<![a-z0-9]){re.escape(k)}(?![a-z0-9])"), v) for k, v in phrases],
    }


@cache
def english_words() -> frozenset[str]:
    """Lower-case English words of 3+ letters: a token that is one of them is a complete word.

    Why: prefix and dropped-vowel expansion guess which longer word a short token was cut from.
    A token that is already a word ("place", "house", "contact", "main") was not cut from anything,
    and guessing ("placement", "households", "contract", "maintenance") changes its meaning.
    """
    return frozenset(ENGLISH_WORDS.read_text(encoding="utf-8").split())


def is_complete_word(token: str) -> bool:
    """True when ``token`` is a vocabulary word, a listed plain word or an ordinary English word."""
    return token in vocabulary()["known"] or token in english_words()


def _family(candidates: list[str]) -> str | None:
    """The one word the candidates share: itself, or the shortest when every other starts with it
    ("contract" for contract/contracts/contractor). ``None`` when they are different words."""
    if not candidates:
        return None
    root = min(candidates, key=len)
    return root if all(c.startswith(root) for c in candidates) else None


def _same_end(token: str, word: str) -> bool:
    """The token ends as the word does, or as the word without its final vowels ("insrnc",
    "ovrtm" for "insurance", "overtime"): ledgers drop a closing "e" with the other vowels."""
    return word[-1] == token[-1] or (word[-1] in _VOWELS and word.rstrip("aeiou")[-1:] == token[-1])


def _subsequence(short: str, word: str) -> bool:
    it = iter(word)
    return all(ch in it for ch in short)


@lru_cache(maxsize=50_000)
def expand_token(token: str) -> tuple[str, str]:
    """(expansion, how): ``kept``, ``short_form``, ``plural``, ``singular``, ``prefix``, ``dropped_vowels`` or
    ``fused`` (two vocabulary words run together, :func:`_split_fused`).

    Listed short forms are expanded even when they are also English words ("subs", "cap"): the list
    says what they mean in a ledger. Guessing (prefix, dropped vowels) applies only to a token that
    is not a complete word (:func:`is_complete_word`).
    """
    vocab = vocabulary()
    if token in vocab["known"] or not token.isalpha():
        return token, "kept"
    if token in vocab["short_forms"]:
        return vocab["short_forms"][token], "short_form"
    if len(token) < 3:
        return token, "kept"
    if token in english_words():
        # A complete word may only become its own plural ("fixture" -> "fixtures"): same meaning.
        for plural in (token + "s", token + "es"):
            if plural in vocab["word_set"]:
                return plural, "plural"
        return token, "kept"
    if token[-1] == "s" and token[:-1] in vocab["known"]:
        return token[:-1], "singular"  # "postages": the plural of a vocabulary word
    words = vocab["words"]
    by_prefix = _family([w for w in words if w.startswith(token)])
    if by_prefix:
        return by_prefix, "prefix"
    # Dropped vowels: same first letter, the token's letters in order, and few vowels left.
    # A token that keeps its vowels may only have lost one or two letters ("preceptr").
    no_vowels = not any(ch in _VOWELS for ch in token[1:])
    fits = [
        w
        for w in words
        if w[0] == token[0]
        and len(w) > len(token)
        and _same_end(token, w)
        and (no_vowels or (len(w) - len(token) <= 2 and w[:3] == token[:3]))
        and _subsequence(token, w)
    ]
    word = _family(fits)
    if word:
        return word, "dropped_vowels"
    fused = _split_fused(token)
    if fused:
        return fused, "fused"
    return token, "kept"


#: Shortest part of a fused token ("regen" + "cult"); shorter parts split too many words by chance.
FUSED_MIN = 4


def _part(part: str) -> str | None:
    """The word a part of a fused token stands for, or ``None``: a known word, a listed short form,
    a unique vocabulary prefix, or an English word (no further splitting)."""
    vocab = vocabulary()
    if part in vocab["known"]:
        return part
    if part in vocab["short_forms"]:
        return vocab["short_forms"][part]
    guess = _family([w for w in vocab["words"] if w.startswith(part)])
    return guess or (part if part in english_words() else None)


def _split_fused(token: str) -> str | None:
    """Two vocabulary words run together by a short ledger field ("highmaint" -> "highways
    maintenance"): the one split into two parts of ``FUSED_MIN``+ letters that both stand for a
    vocabulary word. ``None`` when no split, or more than one, does."""
    if len(token) < 2 * FUSED_MIN or any(is_complete_word(token[:-n]) for n in (1, 2)):
        return None  # a plural or a verb form of a word ("postages") is not two words
    found = {
        f"{left} {right}"
        for i in range(FUSED_MIN, len(token) - FUSED_MIN + 1)
        if (left := _part(token[:i])) and (right := _part(token[i:]))
    }
    return found.pop() if len(found) == 1 else None


@lru_cache(maxsize=200_000)
def expand(text: str) -> str:
    """Normalised text with phrases and every token expanded; unchanged tokens stay as they were."""
    if not text:
        return text
    vocab = vocabulary()
    for rx, replacement in vocab["phrases"]:
        text = rx.sub(replacement, text)
    return " ".join(expand_token(t)[0] for t in text.split())
