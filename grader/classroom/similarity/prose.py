"""Prose similarity: character n-gram TF-IDF, in any language, no model.

Character n-grams (3 to 5 characters inside word boundaries, scikit-learn's
``char_wb`` analyzer) match across inflections, spelling variants and scripts without a
tokenizer or a model: Korean endings changed (``계산한다`` / ``계산합니다``), English
words swapped or sentences reordered still leave most n-grams shared. IDF weights what
the class shares less; what is shared by many students is removed before (``compare``).

A pair's prose score is the larger of the two students' *matched shares*: each own
sentence is paired with its most similar sentence of the other student; a sentence with
cosine >= SENTENCE_MATCH counts with its length times that cosine. A verbatim copy scores
1, a reworded copy about the cosine of its sentences, two students writing on the same
topic in their own words close to 0. Only candidate pairs (document cosine >= CANDIDATE,
or among a student's nearest neighbours) are aligned sentence by sentence.

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

__all__ = ["SENTENCE_MATCH", "CANDIDATE", "MIN_CHARS", "ProseDoc", "SentenceMatch", "ProseModel", "prose_docs",
           "fit_prose", "candidates", "prose_overlap"]

SENTENCE_MATCH = 0.5   # cosine of two sentences that say the same thing in (nearly) the same words
CANDIDATE = 0.15       # document cosine from which a pair is aligned sentence by sentence
NEIGHBOURS = 5         # ... and every student's nearest neighbours, whatever their cosine
MIN_CHARS = 200        # denominator floor: two sentences of own prose cannot be "all copied"


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
    """The class's prose vectorised: one row per sentence, and one per document."""

    sentence_rows: sparse.csr_matrix
    offsets: list[int]
    doc_cosine: np.ndarray


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
    # document = sum of its sentence vectors, L2-normalised
    owner = np.repeat(np.arange(len(docs)), [len(d.sentences) for d in docs])
    pick = sparse.csr_matrix((np.ones(len(texts), dtype=np.float32), (owner, np.arange(len(texts)))),
                             shape=(len(docs), len(texts)))
    doc_rows = (pick @ rows).tocsr()
    norms = np.sqrt(np.asarray(doc_rows.multiply(doc_rows).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    doc_rows = sparse.diags(1.0 / norms) @ doc_rows
    cosine = (doc_rows @ doc_rows.T).toarray()
    return ProseModel(rows, offsets, cosine)


def candidates(model: ProseModel) -> set[tuple[int, int]]:
    """Pairs worth aligning: high document cosine, or a student's nearest neighbours."""
    cos = model.doc_cosine.copy()
    np.fill_diagonal(cos, -1.0)
    found = {(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(cos >= CANDIDATE, 1)))}
    for i in range(len(cos)):
        for j in np.argsort(-cos[i])[:NEIGHBOURS]:
            if cos[i, j] > 0:
                found.add((min(i, int(j)), max(i, int(j))))
    return found


def prose_overlap(model: ProseModel, docs: Sequence[ProseDoc], i: int, j: int) -> tuple[float, list[SentenceMatch]]:
    """The prose score of students ``i`` and ``j`` and their matching sentences."""
    a = model.sentence_rows[model.offsets[i]:model.offsets[i + 1]]
    b = model.sentence_rows[model.offsets[j]:model.offsets[j + 1]]
    if a.shape[0] == 0 or b.shape[0] == 0:
        return 0.0, []
    sim = (a @ b.T).toarray()
    best_b, best_a = sim.argmax(axis=1), sim.argmax(axis=0)
    matches = [SentenceMatch(int(x), int(best_b[x]), float(sim[x, best_b[x]]))
               for x in range(sim.shape[0]) if sim[x, best_b[x]] >= SENTENCE_MATCH]
    da, db = docs[i], docs[j]
    got_a = sum(len(da.sentences[m.a]) * min(1.0, m.cosine) for m in matches)
    got_b = sum(len(db.sentences[y]) * min(1.0, float(sim[best_a[y], y]))
                for y in range(sim.shape[1]) if sim[best_a[y], y] >= SENTENCE_MATCH)
    score = max(got_a / max(da.chars, MIN_CHARS), got_b / max(db.chars, MIN_CHARS))
    return min(1.0, score), matches
