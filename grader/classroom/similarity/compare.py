"""Compare every pair of a class: base subtracted, scores per kind, regions, clusters.

Base code and text, beyond the static base of ``extract.py``:

* what at least ``shared_threshold(n)`` students have (a k-gram of code, a sentence of
  prose) is the class's common ground (the book, the course's template), not a copy:
  MOSS's ``-m``. Four students at least, and 30 % of a larger class;
* code k-grams found in the book-code cells (cells matching a fingerprint of the
  homework) of two or more students are book code, however few students ran that part.

Scores are evidence for a human, never a verdict: a pair is *flagged* (listed first,
"similar") when a score reaches its threshold.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Sequence

from grader.classroom.similarity.code import CodePrint, Region, base_hashes, code_overlap, fingerprint
from grader.classroom.similarity.extract import Base, Extract, normalise_sentence, statement_key
from grader.classroom.similarity.prose import ProseDoc, SentenceMatch, fit_prose, prose_docs, prose_overlap

__all__ = ["CODE_THRESHOLD", "PROSE_THRESHOLD", "Pair", "Cluster", "SimilarityReport", "shared_threshold",
           "compare_class"]

CODE_THRESHOLD = 0.4
PROSE_THRESHOLD = 0.4
SHARED_MIN, SHARED_SHARE = 4, 0.3
DETAILED = 50  # regions and sentences are kept for the flagged pairs and at least this many top pairs


@dataclass
class Pair:
    """Two students and how similar their own code and prose are (scores in [0, 1])."""

    a: str
    b: str
    code: float
    prose: float
    code_tokens: int = 0
    prose_cosine: float = 0.0
    flagged: list[str] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)
    sentences: list[SentenceMatch] = field(default_factory=list)
    ia: int = 0
    ib: int = 0

    @property
    def top(self) -> float:
        """The larger of the two scores (the ranking key)."""
        return max(self.code, self.prose)

    def to_dict(self) -> dict[str, object]:
        """The pair as ``--json`` prints it."""
        return {"a": self.a, "b": self.b, "code": round(self.code, 4), "prose": round(self.prose, 4),
                "similar": list(self.flagged), "code_tokens_matched": self.code_tokens,
                "code_regions": len(self.regions), "prose_sentences_matched": len(self.sentences),
                "prose_cosine": round(self.prose_cosine, 4)}


@dataclass
class Cluster:
    """Three or more students linked by similar pairs of one kind."""

    kind: str
    students: list[str]
    pairs: int
    score: float  # the lowest score of a pair inside the cluster

    def to_dict(self) -> dict[str, object]:
        """Plain data."""
        return {"kind": self.kind, "students": self.students, "pairs": self.pairs, "min_score": round(self.score, 4)}


@dataclass
class SimilarityReport:
    """A whole class compared: the pairs (most similar first), clusters and what was subtracted."""

    context: str
    extracts: list[Extract]
    prints: list[CodePrint]
    docs: list[ProseDoc]
    pairs: list[Pair]
    clusters: list[Cluster]
    base: Base
    thresholds: dict[str, float]
    shared_threshold: int
    removed: dict[str, int]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def students(self) -> list[str]:
        """The students compared, in order."""
        return [e.student for e in self.extracts]

    def flagged(self) -> list[Pair]:
        """Pairs at or above a threshold of either kind."""
        return [p for p in self.pairs if p.flagged]


def shared_threshold(n: int) -> int:
    """How many students must share a k-gram or sentence for it to count as common ground."""
    return max(SHARED_MIN, math.ceil(SHARED_SHARE * n))


def _without_common_statements(extracts: Sequence[Extract], limit: int) -> tuple[list[Extract], int]:
    """Copies of the extracts without the statements the class shares: those of ``limit``
    students or more, and those in the book-code cells of two students or more."""
    seen: Counter[str] = Counter()
    in_book: Counter[str] = Counter()
    for e in extracts:
        seen.update({statement_key(text) for cell in e.code for _, text in cell.lines})
        in_book.update({statement_key(text) for cell in e.code if cell.book for _, text in cell.lines})
    common = {k for k, c in seen.items() if c >= limit} | {k for k, c in in_book.items() if c >= 2}
    out = []
    for e in extracts:
        cells = [replace(cell, lines=kept) for cell in e.code
                 if (kept := [(n, t) for n, t in cell.lines if statement_key(t) not in common])]
        out.append(replace(e, code=cells))
    return out, len(common)


def _code_base(prints: Sequence[CodePrint], base: Base, limit: int) -> tuple[set[int], dict[str, int]]:
    static = base_hashes(src for _, src in base.code_sources)
    df: Counter[int] = Counter()
    book: Counter[int] = Counter()
    for cp in prints:
        df.update(cp.every)
        book.update(cp.book)
    common = {h for h, c in df.items() if c >= limit}
    in_book = {h for h, c in book.items() if c >= 2}
    removed = {"code_static": len(static & df.keys()), "code_common": len(common), "code_book": len(in_book - common)}
    return static | common | in_book, removed


def _code_pairs(prints: Sequence[CodePrint], excluded: set[int]) -> dict[tuple[int, int], set[int]]:
    owners: dict[int, list[int]] = {}
    for i, cp in enumerate(prints):
        for h in cp.prints:
            if h not in excluded:
                owners.setdefault(h, []).append(i)
    shared: dict[tuple[int, int], set[int]] = {}
    for h, who in owners.items():
        for pair in combinations(who, 2):
            shared.setdefault(pair, set()).add(h)
    return shared


def _clusters(pairs: Sequence[Pair], kind: str) -> list[Cluster]:
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    linked = [p for p in pairs if kind in p.flagged]
    for p in linked:
        parent[root(p.a)] = root(p.b)
    groups: dict[str, list[str]] = {}
    for name in list(parent):
        groups.setdefault(root(name), []).append(name)
    found = []
    for members in groups.values():
        if len(members) >= 3:
            inside = [p for p in linked if p.a in members and p.b in members]
            found.append(Cluster(kind, sorted(members), len(inside), min(getattr(p, kind) for p in inside)))
    return sorted(found, key=lambda c: (-len(c.students), c.students))


def compare_class(extracts: Sequence[Extract], base: Base, *, code_threshold: float = CODE_THRESHOLD,
                  prose_threshold: float = PROSE_THRESHOLD, detailed: int = DETAILED) -> SimilarityReport:
    """Compare every pair of ``extracts``; every pair is listed, most similar first."""
    started = time.perf_counter()
    extracts = sorted(extracts, key=lambda e: e.student)
    n = len(extracts)
    limit = shared_threshold(n)
    extracts, removed_statements = _without_common_statements(extracts, limit)
    prints = [fingerprint(e) for e in extracts]
    excluded, removed = _code_base(prints, base, limit)
    removed["code_statements"] = removed_statements
    for cp in prints:
        cp.subtract_base(excluded)
    code_shared = _code_pairs(prints, excluded)

    sentence_df: Counter[str] = Counter()
    for e in extracts:
        sentence_df.update({normalise_sentence(s) for b in e.prose for s in b.sentences})
    common_sentences = {s for s, c in sentence_df.items() if c >= limit}
    removed["prose_common"] = len(common_sentences)
    docs = prose_docs(extracts, common_sentences, normalise_sentence)
    model = fit_prose(docs)

    pairs = []
    for i, j in combinations(range(n), 2):
        code, tokens, _ = code_overlap(prints[i], prints[j], code_shared.get((i, j), set()))
        prose, matches = prose_overlap(model, docs, i, j) if model is not None else (0.0, [])
        pair = Pair(extracts[i].student, extracts[j].student, code, prose, tokens,
                    float(model.doc_cosine[i, j]) if model is not None else 0.0, ia=i, ib=j)
        pair.flagged = [k for k, v, t in (("code", code, code_threshold), ("prose", prose, prose_threshold)) if v >= t]
        pair.sentences = matches if prose > 0 else []
        pairs.append(pair)
    pairs.sort(key=lambda p: (-p.top, -(p.code + p.prose), p.a, p.b))
    for rank, pair in enumerate(pairs):
        if (pair.flagged or rank < detailed) and pair.code > 0:
            pair.regions = code_overlap(prints[pair.ia], prints[pair.ib], code_shared[(pair.ia, pair.ib)],
                                        regions=True)[2]
        if not (pair.flagged or rank < detailed):
            pair.sentences = []
    clusters = _clusters(pairs, "code") + _clusters(pairs, "prose")
    notes = [f"{e.student}: {e.problem}" for e in extracts if e.problem]
    return SimilarityReport(base.context, list(extracts), prints, docs, pairs, clusters, base,
                            {"code": code_threshold, "prose": prose_threshold}, limit, removed,
                            time.perf_counter() - started, notes)
