"""Entity resolution: which distinct payee names are the same organisation.

Order of evidence (strongest first), all feeding one union-find:

1. identifiers: the same org-id (company/charity number from the file or from a register hit) or
   the same VAT number;
2. the same ``match_key`` (case, punctuation, legal suffixes, "The", T/A folded);
3. fuzzy: ``rapidfuzz`` ``fuzz.ratio >= 90`` on ``fuzzy_key`` inside blocks (first word + first two
   letters of the second; and the alphabetically first word), then a guard that rejects merges whose
   differing words are not typos of each other ("age uk camden" / "age uk barnet"), carry a number
   or a compass word, or add a word ("x trust" / "x nhs trust");
4. initialisms: "veolia es uk" / "veolia environmental services uk" when both start with the same
   distinctive word(s), one has a short all-letter word (2-4 letters) where the other has consecutive
   words with those initials, and the words after agree (ignoring "uk", "the", "group", ...).

Two groups are never merged when they carry different org-ids, or different sectors that are each
held with confidence (so an NHS trust never merges with a charity of a similar name).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from functools import lru_cache
from itertools import combinations

import numpy as np
from rapidfuzz import fuzz, process

from normalise.suppliers.keys import fuzzy_key

FUZZY_CUTOFF = 90
TOKEN_TYPO_CUTOFF = 80
ROW_CHUNK = 256
PAIR_CHUNK = 65_536
HUGE_BLOCK = 2000  # only blocks this large are worth splitting by shared word positions
SMALL_BLOCK = 40
LENGTH_FACTOR = 1.23
CONFIDENT = 0.6
# Words whose presence or absence does not change the entity ("Veolia ES UK" = "Veolia ES").
IGNORABLE_EXTRA = frozenset({"the", "and", "of", "uk", "group", "holdings"})
INITIALISM_MIN, INITIALISM_MAX = 2, 4
INITIALISM_WORD_MIN = 3  # "car" is not "c(ommercial) a(nd) r(esidential)": short words do not spell initials
# Short words that are English, not initials: "Mind in Camden" is not "Mind International Network Camden".
NOT_INITIALISMS = frozenset(
    "in at on by to for my we go do is be as or an up so no us me he our all one two ten".split()
)
# A consonant-vowel-consonant run marks a 3-4 letter word ("car", "hire", "fish"); initialisms rarely
# have one ("abc", "gbs", "hse", "ict").
_WORDLIKE = re.compile(r"[^aeiou][aeiou][^aeiou]")
DISTINGUISHING = frozenset(
    "north south east west central northern southern eastern western upper lower greater new "
    "old nhs trust foundation council county city borough district school academy primary "
    "junior infant infants nursery college".split()
)


class _UnionFind:
    """Union-find whose groups remember their org-id and confident sector, to refuse bad merges."""

    def __init__(self, org_ids: Sequence[str | None], sectors: Sequence[str | None]):
        n = len(org_ids)
        self.parent = list(range(n))  # a list: element access from Python is far cheaper than numpy
        self.org = list(org_ids)
        self.sector = list(sectors)

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return int(root)

    def union(self, a: int, b: int, check_sector: bool = True) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self.org[ra] and self.org[rb] and self.org[ra] != self.org[rb]:
            return False
        if check_sector and self.sector[ra] and self.sector[rb] and self.sector[ra] != self.sector[rb]:
            return False
        self.parent[rb] = ra
        self.org[ra] = self.org[ra] or self.org[rb]
        self.sector[ra] = self.sector[ra] or self.sector[rb]
        return True


def tokens_compatible(a: str, b: str) -> bool:
    """The guard: may two fuzzily similar keys name the same organisation?"""
    return _words_compatible(a.split(), b.split())


def _words_compatible(ta: list[str], tb: list[str]) -> bool:
    """``tokens_compatible`` on keys already split into words (resolve splits each key once)."""
    if len(ta) != len(tb):
        extra = set(ta) ^ set(tb)
        if not extra <= IGNORABLE_EXTRA:
            return False
        ta = [t for t in ta if t not in IGNORABLE_EXTRA]
        tb = [t for t in tb if t not in IGNORABLE_EXTRA]
        if len(ta) != len(tb):
            return False
    differing = [(x, y) for x, y in zip(ta, tb, strict=True) if x != y]
    if len(differing) > 2:
        return False
    for x, y in differing:
        if x in DISTINGUISHING or y in DISTINGUISHING:
            return False
        xy = x + y
        if not xy.isalpha() and any(c.isdigit() for c in xy):  # isalpha: the usual case, no digit possible
            return False
        if min(len(x), len(y)) < 4 or fuzz.ratio(x, y) < TOKEN_TYPO_CUTOFF:
            return False
    return True


def _blocks(keys: list[str], split: list[list[str]] | None = None) -> list[list[int]]:
    """Indices of the keys sharing a block; ``split``: the keys' words, when the caller has them."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        words = split[i] if split is not None else key.split()
        if not words:
            continue
        first = words[0] + (" " + words[1][:2] if len(words) > 1 else "")
        groups["a:" + first].append(i)
        if len(words) > 1:
            groups["b:" + min(words) + f":{len(words)}"].append(i)
            # a typo in the first word still meets its twin through the last word
            groups["c:" + words[-1] + ":" + words[0][:1] + f":{len(words)}"].append(i)
    return [ids for ids in groups.values() if len(ids) > 1]


def fuzzy_pairs(
    keys: list[str], compatible_only: bool = False, split: list[list[str]] | None = None
) -> list[tuple[int, int, int]]:
    """(i, j, score) for keys within the same block scoring at least FUZZY_CUTOFF, each pair once.

    ``compatible_only``: pairs that ``tokens_compatible`` is sure to reject may be left out (all that
    ``resolve`` needs); the pairs it would accept, and their order, are unchanged. ``split``: each
    key's words, when the caller has split them already.
    """
    out: list[tuple[int, int, int]] = []
    seen: set[tuple[int, int]] = set()
    for i, j, score in block_pairs(keys, compatible_only, split):
        if (i, j) not in seen:
            seen.add((i, j))
            out.append((i, j, score))
    return out


def block_pairs(
    keys: list[str], compatible_only: bool = False, split: list[list[str]] | None = None
) -> Iterator[tuple[int, int, int]]:
    """``fuzzy_pairs`` a block at a time, in the same order, but a pair found in several blocks is
    yielded each time.

    Why: at national scale there are tens of millions of pairs (and most are then refused by the
    guard); a list of them, and the set that removed the repeats, took gigabytes. ``resolve`` needs
    no set: it skips a pair it has already seen anyway (see there).
    """
    for ids in _blocks(keys, split):
        block = [keys[i] for i in ids]
        if len(block) <= SMALL_BLOCK:  # cdist's set-up costs more than a few direct comparisons
            for x in range(len(block)):
                for y in range(x + 1, len(block)):
                    score = fuzz.ratio(block[x], block[y], score_cutoff=FUZZY_CUTOFF)
                    if score:
                        i, j = sorted((ids[x], ids[y]))
                        yield i, j, int(score)
            continue
        yield from _block_pairs(block, ids, compatible_only)


def _block_pairs(
    block: list[str], ids: list[int], compatible_only: bool = False
) -> Iterator[tuple[int, int, int]]:
    """Pairs scoring >= FUZZY_CUTOFF in one large block, in the order a full block x block scan finds them.

    ratio >= 90 needs lengths within a factor of 1.22, so with keys sorted by length each key is compared
    only with the keys after it whose length is in range (the upper triangle: each pair is scored
    once). Pairs are then put in the order of the full scan (row by row in length order, a pair
    recorded at the member with the smaller id), so union-find merges, and any merge it refuses,
    happen exactly as they always have. With ``compatible_only``, a very large block whose keys all
    have n words is scanned only within sub-blocks of keys sharing n - 2 word positions
    (``tokens_compatible`` allows at most two differing words), when that is less work.
    """
    order = sorted(range(len(block)), key=lambda x: len(block[x]))
    block = [block[x] for x in order]
    id_arr = np.array([ids[x] for x in order], dtype=np.int64)
    groups = _shared_position_groups(block) if compatible_only and len(block) >= HUGE_BLOCK else None
    if groups is None:
        p, q, score = _triangle_pairs(block, np.arange(len(block)))
    else:
        found = [_triangle_pairs(block, g) for g in groups if len(g) > SMALL_BLOCK]
        found.append(_listed_pairs(block, [g for g in groups if len(g) <= SMALL_BLOCK]))
        p = np.concatenate([f[0] for f in found])
        q = np.concatenate([f[1] for f in found])
        score = np.concatenate([f[2] for f in found])
        _, first = np.unique(p * len(block) + q, return_index=True)  # found once per shared position set
        p, q, score = p[first], q[first], score[first]
    p_first = id_arr[p] < id_arr[q]
    rec, other = np.where(p_first, p, q), np.where(p_first, q, p)
    order_ = np.lexsort((other, rec))
    i, j, score = id_arr[rec[order_]], id_arr[other[order_]], score[order_]
    del p, q, rec, other, order_
    # a large block may hold millions of pairs: as Python tuples a chunk at a time
    for start in range(0, len(i), PAIR_CHUNK):
        end = start + PAIR_CHUNK
        yield from zip(i[start:end].tolist(), j[start:end].tolist(), score[start:end].tolist(), strict=True)


def _triangle_pairs(block: list[str], members: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p, q, score), p < q, scoring >= FUZZY_CUTOFF among ``members`` (ascending positions in the
    length-sorted block)."""
    keys = [block[m] for m in members]
    lengths = np.array([len(k) for k in keys])
    ps, qs = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    scs = [np.zeros(0, dtype=np.uint8)]
    for start in range(0, len(keys), ROW_CHUNK):
        end = min(start + ROW_CHUNK, len(keys))
        hi = int(np.searchsorted(lengths, lengths[end - 1] * LENGTH_FACTOR, side="right"))
        scores = process.cdist(
            keys[start:end],
            keys[start:hi],
            scorer=fuzz.ratio,
            score_cutoff=FUZZY_CUTOFF,
            dtype=np.uint8,
            workers=1,  # a chunk is small: threads cost more CPU than they save
        )
        r, c = np.nonzero(scores)
        keep = c > r  # c is offset from ``start`` too: keep each pair once, at its earlier row
        r, c = r[keep], c[keep]
        ps.append(members[r + start])
        qs.append(members[c + start])
        scs.append(scores[r, c])
    return np.concatenate(ps), np.concatenate(qs), np.concatenate(scs)


def _listed_pairs(block: list[str], groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like ``_triangle_pairs`` for many small groups at once: their pairs listed, scored by ``cpdist``."""
    if not groups:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    lengths = np.array([len(k) for k in block])
    ps, qs = [], []
    for g in groups:
        i, j = np.triu_indices(len(g), k=1)
        ps.append(g[i])
        qs.append(g[j])
    p, q = np.concatenate(ps), np.concatenate(qs)
    ok = lengths[q] <= lengths[p] * LENGTH_FACTOR  # positions are length-sorted: len(p) <= len(q)
    p, q = p[ok], q[ok]
    scores = process.cpdist(
        [block[x] for x in p.tolist()],
        [block[x] for x in q.tolist()],
        scorer=fuzz.ratio,
        score_cutoff=FUZZY_CUTOFF,
        dtype=np.uint8,
        workers=1,
    )
    hit = scores > 0
    return p[hit], q[hit], scores[hit]


def _shared_position_groups(block: list[str]) -> list[np.ndarray] | None:
    """Sub-blocks (ascending positions) holding every pair of keys that share n - 2 word positions.

    None when the keys do not all have the same number n >= 3 of words, or when the sub-blocks would
    cost more than half a scan of the whole block.
    """
    words = [k.split() for k in block]
    n = len(words[0])
    if n < 3 or any(len(w) != n for w in words):
        return None
    groups: list[np.ndarray] = []
    cost = 0
    for combo in combinations(range(n), n - 2):
        by_shared: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for pos, w in enumerate(words):
            by_shared[tuple(w[c] for c in combo)].append(pos)
        for members in by_shared.values():
            if len(members) > 1:
                groups.append(np.array(members, dtype=np.int64))
                cost += len(members) ** 2
        if cost * 4 > len(block) ** 2:
            return None
    return groups


@lru_cache(maxsize=1 << 16)
def _could_be_initialism(t: str) -> bool:
    """A 2-4 letter word that may stand for initials: not a place/NHS/school word, not plain English."""
    return (
        INITIALISM_MIN <= len(t) <= INITIALISM_MAX
        and t.isalpha()
        and t not in DISTINGUISHING
        and t not in IGNORABLE_EXTRA
        and t not in NOT_INITIALISMS
        and not (len(t) > 2 and _WORDLIKE.search(t))
    )


def _initialism_sigs(words: list[str]) -> list[tuple[str, str]]:
    """(signature, role) for each short all-letter word after the first ("A") and each run of words
    after the first whose initials could be spelt by one ("B"). An A and a B with the same signature
    share the leading words and the (ignorable-stripped) trailing words, with the short word standing
    for the run."""
    out: list[tuple[str, str]] = []
    n = len(words)
    # the leading words must say whose name this is, not just where or what; every lead starts with
    # words[0], so it alone decides
    if n < 2 or words[0] in DISTINGUISHING or words[0] in IGNORABLE_EXTRA:
        return out
    # tails[p]: words[p:] without ignorable words, joined (worked out once, not once per signature)
    tails = [""] * (n + 1)
    for p in range(n - 1, -1, -1):
        w = words[p]
        if w in IGNORABLE_EXTRA:
            tails[p] = tails[p + 1]
        else:
            tails[p] = f"{w} {tails[p + 1]}" if tails[p + 1] else w
    in_run = [_in_run(w) for w in words]
    head = words[0]
    for k in range(1, n):
        if k > 1:
            head = f"{head} {words[k - 1]}"
        t = words[k]
        if _could_be_initialism(t):
            out.append((f"{head}|{t}|{tails[k + 1]}", "A"))
        if not in_run[k]:
            continue
        for m in range(INITIALISM_MIN, min(INITIALISM_MAX, n - k) + 1):
            if not in_run[k + m - 1]:
                break
            out.append((f"{head}|{''.join(x[0] for x in words[k : k + m])}|{tails[k + m]}", "B"))
    return out


@lru_cache(maxsize=1 << 16)
def _in_run(w: str) -> bool:
    """A word that may stand in a run: >= 3 letters, no digits, not a place/NHS/school or ignorable word."""
    return (
        len(w) >= INITIALISM_WORD_MIN and w.isalpha() and w not in DISTINGUISHING and w not in IGNORABLE_EXTRA
    )


def initialism_pairs(keys: list[str], split: list[list[str]] | None = None) -> list[tuple[int, int]]:
    """(i, j), i < j, where one key abbreviates words of the other to their initials.

    "veolia es uk" / "veolia environmental services uk": same leading word(s), "es" = the initials of
    "environmental services", same words after (ignoring "uk", "the", "group", ...). Place, NHS and
    school words never stand in a run or for the short word, the run's words have >= 3 letters and no
    digits, and the short word never leads (so "abc" is not "alpha beta care"). Only names whose first
    word is also the first word of some name with a short word are examined. ``split``: each key's
    words, when the caller has split them already.
    """
    split = split if split is not None else [key.split() for key in keys]
    short_first: set[str] = set()
    for words in split:
        if len(words) > 1 and words[0] not in short_first and any(map(_could_be_initialism, words[1:])):
            short_first.add(words[0])
    by_sig: dict[str, tuple[list[int], list[int]]] = {}
    for i, words in enumerate(split):
        if len(words) < 2 or words[0] not in short_first:
            continue
        for sig, role in _initialism_sigs(words):
            entry = by_sig.setdefault(sig, ([], []))
            entry[0 if role == "A" else 1].append(i)
    out: set[tuple[int, int]] = set()
    for shorts, runs in by_sig.values():
        for a in shorts:
            for b in runs:
                if a != b:
                    out.add((min(a, b), max(a, b)))
    return sorted(out)


def local_id(key: str) -> str:
    """Stable id for an entity no register knows: the same key gives the same id in every run."""
    return "CS-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:10].upper()


def resolve(
    keys: Sequence[str],
    org_ids: Sequence[str | None] | None = None,
    id_keys: Sequence[Sequence[str]] | None = None,
    sectors: Sequence[str | None] | None = None,
) -> tuple[list[str], list[str]]:
    """Group distinct names into entities.

    ``keys``: the match key of each distinct name; ``org_ids``: a register org-id if known;
    ``id_keys``: other shared identifiers (e.g. ``"VAT:123456789"``); ``sectors``: a sector held with
    confidence, else None. Returns (entity id per name, how it was joined: "id", "exact", "fuzzy:NN",
    "initials" or "single").
    """
    n = len(keys)
    org_ids = list(org_ids) if org_ids is not None else [None] * n
    sectors = list(sectors) if sectors is not None else [None] * n
    uf = _UnionFind(org_ids, sectors)
    method = ["single"] * n

    by_id: dict[str, int] = {}
    for i in range(n):
        extra = id_keys[i] if id_keys is not None else ()
        if not org_ids[i] and not extra:  # most names: nothing to join on
            continue
        ids = ([org_ids[i]] if org_ids[i] else []) + list(extra)
        for ident in ids:
            if ident in by_id:
                if uf.union(by_id[ident], i, check_sector=False):
                    method[i] = method[by_id[ident]] = "id"
            else:
                by_id[ident] = i
    del by_id

    by_key: dict[str, int] = {}
    for i, key in enumerate(keys):
        if not key:
            continue
        if key in by_key:
            if uf.union(by_key[key], i) and method[i] == "single":
                method[i] = "exact"
                if method[by_key[key]] == "single":
                    method[by_key[key]] = "exact"
        else:
            by_key[key] = i

    first = list(by_key.values())  # the first name with each distinct key
    fkeys = [fuzzy_key(k) for k in by_key]
    del by_key
    # each word once (millions of names, a few hundred thousand words), not once per name
    vocabulary: dict[str, str] = {}
    fwords = [[vocabulary.setdefault(w, w) for w in k.split()] for k in fkeys]
    del vocabulary
    # A pair seen again (from another block) changes nothing: if it was joined, its names are no longer
    # "single" or "exact"; if the union-find refused it, the two groups' org-ids or sectors differ,
    # and a group's org-id and sector never change once set, so it refuses it again.
    fuzzy_method = {s: f"fuzzy:{s}" for s in range(FUZZY_CUTOFF, 101)}  # one string per score, not per name
    for a, b, score in block_pairs(fkeys, compatible_only=True, split=fwords):
        if not _words_compatible(fwords[a], fwords[b]):
            continue
        ia, ib = first[a], first[b]
        if uf.union(ia, ib):
            for i in (ia, ib):
                if method[i] in ("single", "exact"):
                    method[i] = fuzzy_method[score]

    for a, b in initialism_pairs(fkeys, fwords):
        ia, ib = first[a], first[b]
        if uf.union(ia, ib):
            for i in (ia, ib):
                if method[i] in ("single", "exact"):
                    method[i] = "initials"
    del first, fkeys, fwords  # before the entity ids are made
    return _entity_ids(uf, keys), method


def _entity_ids(uf: _UnionFind, keys: Sequence[str]) -> list[str]:
    """Each name's entity: its group's org-id, else a local id from the group's smallest key."""
    parent = uf.parent
    # most names are a group of their own or hang straight off its root: no call for those
    roots = [p if parent[p] == p else uf.find(i) for i, p in enumerate(parent)]
    smallest: dict[int, str] = {}  # each group's smallest key ("" when it has none)
    for r, key in zip(roots, keys, strict=True):
        have = smallest.get(r)
        if have is None or (key and (not have or key < have)):
            smallest[r] = key or ""
    org = uf.org
    entity = {r: org[r] or local_id(key) for r, key in smallest.items()}
    del smallest
    return [entity[r] for r in roots]
