"""Prose similarity: character n-gram TF-IDF, in any language, no model.

Character n-grams (3 to 5 characters inside word boundaries, scikit-learn's
``char_wb`` analyzer) match across inflections, spelling variants and scripts without a
tokenizer or a model: Korean endings changed (``계산한다`` / ``계산합니다``), English
words swapped or sentences reordered still leave most n-grams shared. IDF weights what
the class shares less; what is shared by many students is removed before (``compare``).

A pair's prose score is the larger of the two students' *matched shares*: each own
sentence is paired with its most similar sentence of the other student; when their cosine
reaches SENTENCE_MATCH it counts with its length times (cosine - WEIGHT_ZERO) /
(1 - WEIGHT_ZERO). A verbatim copy scores 1, a reworded copy 0.45-0.8, two students
writing on the same topic in their own words, who share a phrase here and there, below 0.2.
All sentence pairs of the class are compared, in blocks of rows, so no pair is skipped.

The limit, honestly: the same reflection translated into another language shares almost
no character n-grams with the original; only numbers, code names and English technical
terms kept in the translation connect the two. Finding those needs a multilingual
sentence-embedding model, which this offline grader does not download.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from grader.classroom.similarity.extract import Extract

__all__ = ["SENTENCE_MATCH", "MIN_CHARS", "ProseDoc", "SentenceMatch", "ProseModel", "prose_docs", "fit_prose",
           "prose_overlap"]

SENTENCE_MATCH = 0.5   # cosine of two sentences that say the same thing in (nearly) the same words
CHUNK = 1024           # sentences compared with all others at once (memory: CHUNK x all sentences)
WEIGHT_ZERO = 0.3      # the cosine at which a matched sentence would count nothing
MIN_CHARS = 100        # denominator floor: one sentence of own prose cannot be "all copied"


@dataclass
class ProseDoc:
    """One submission's own sentences, each with the prose block (cell) it comes from."""

    sentences: list[str] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)

    @property
    def chars(self) -> int:
        """Characters of own prose."""
        return sum(len(s) for s in self.sentences)


@dataclass
class SentenceMatch:
    """Sentence ``a`` of the first student matches sentence ``b`` of the second."""

    a: int
    b: int
    cosine: float


@dataclass
class ProseModel:
    """The class's prose vectorised, and every pair of sentences of two students at or above
    SENTENCE_MATCH: ``close[(i, j)]`` lists (sentence of i, sentence of j, cosine), i < j."""

    sentence_rows: sparse.csr_matrix
    offsets: list[int]
    doc_cosine: np.ndarray
    close: dict[tuple[int, int], list[tuple[int, int, float]]] = field(default_factory=dict)


def prose_docs(extracts: Sequence[Extract], shared: set[str], normalise) -> list[ProseDoc]:  # type: ignore[no-untyped-def]
    """Each submission's sentences, without those in ``shared`` (normalised, class base)."""
    docs = []
    for extract in extracts:
        doc = ProseDoc()
        for index, block in enumerate(extract.prose):
            for sentence in block.sentences:
                if normalise(sentence) not in shared:
                    doc.sentences.append(sentence)
                    doc.blocks.append(index)
        docs.append(doc)
    return docs


def _close_sentences(rows: sparse.csr_matrix, owner: np.ndarray, offsets: list[int]
                     ) -> dict[tuple[int, int], list[tuple[int, int, float]]]:
    """Sentence pairs of different students with cosine >= SENTENCE_MATCH, by blocks of rows
    (the full sentence-by-sentence matrix of a large class would not fit in memory)."""
    close: dict[tuple[int, int], list[tuple[int, int, float]]] = {}
    columns = rows.T.tocsc()
    for start in range(0, rows.shape[0], CHUNK):
        block = (rows[start:start + CHUNK] @ columns).toarray()
        xs, ys = np.nonzero(block >= SENTENCE_MATCH)
        for x, y in zip((xs + start).tolist(), ys.tolist()):
            i, j = int(owner[x]), int(owner[y])
            if i < j:
                close.setdefault((i, j), []).append((x - offsets[i], y - offsets[j], float(block[x - start, y])))
    return close


def fit_prose(docs: Sequence[ProseDoc]) -> ProseModel | None:
    """Vectorise every sentence; document vectors are the normalised sums of their sentences'."""
    texts = [s for d in docs for s in d.sentences]
    if not texts:
        return None
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=True, sublinear_tf=True,
                                 dtype=np.float32)
    rows = vectorizer.fit_transform(texts).tocsr()
    offsets = [0]
    for d in docs:
        offsets.append(offsets[-1] + len(d.sentences))
    owner = np.repeat(np.arange(len(docs)), [len(d.sentences) for d in docs])
    pick = sparse.csr_matrix((np.ones(len(texts), dtype=np.float32), (owner, np.arange(len(texts)))),
                             shape=(len(docs), len(texts)))
    doc_rows = (pick @ rows).tocsr()
    norms = np.sqrt(np.asarray(doc_rows.multiply(doc_rows).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    doc_rows = sparse.diags(1.0 / norms) @ doc_rows
    cosine = (doc_rows @ doc_rows.T).toarray()
    return ProseModel(rows, offsets, cosine, _close_sentences(rows, owner, offsets))


def _weight(cosine: float) -> float:
    """How much a matched sentence counts: 1 for the same sentence, less than half for two
    sentences that share a clause by chance (cosine 0.5 to 0.6)."""
    return max(0.0, min(1.0, (cosine - WEIGHT_ZERO) / (1.0 - WEIGHT_ZERO)))


def prose_overlap(model: ProseModel, docs: Sequence[ProseDoc], i: int, j: int) -> tuple[float, list[SentenceMatch]]:
    """The prose score of students ``i`` < ``j`` and, for each sentence of ``i`` that has one,
    its most similar sentence of ``j``."""
    entries = model.close.get((i, j))
    if not entries:
        return 0.0, []
    best_a: dict[int, tuple[float, int]] = {}
    best_b: dict[int, float] = {}
    for x, y, cos in entries:
        if cos > best_a.get(x, (-1.0, 0))[0]:
            best_a[x] = (cos, y)
        best_b[y] = max(best_b.get(y, 0.0), cos)
    da, db = docs[i], docs[j]
    got_a = sum(len(da.sentences[x]) * _weight(cos) for x, (cos, _) in best_a.items())
    got_b = sum(len(db.sentences[y]) * _weight(cos) for y, cos in best_b.items())
    score = max(got_a / max(da.chars, MIN_CHARS), got_b / max(db.chars, MIN_CHARS))
    matches = [SentenceMatch(x, y, cos) for x, (cos, y) in sorted(best_a.items())]
    return min(1.0, score), matches
