"""Code similarity: normalised tokens, winnowed k-gram fingerprints, matched regions.

The method is MOSS's (Schleimer, Wilkerson and Aiken, "Winnowing: local algorithms for
document fingerprinting", SIGMOD 2003), on Python's own tokenizer:

* every name the student binds (variables, functions, parameters, attributes assigned)
  becomes ``N``, so renaming changes nothing; names the student only uses (``torch``,
  ``exp``, ``backward``, builtins) stay, since a copier cannot rename them; every string
  becomes ``S``; numbers, keywords and operators stay; comments, blank lines and
  formatting vanish; statement ends and indentation are kept as ``;`` ``{`` ``}``;
* k-grams of K tokens are hashed within one cell (so reordering cells changes nothing)
  and winnowed: the smallest hash of every window of W k-grams is kept, which
  guarantees that any common run of K + W - 1 tokens is found;
* a pair's score is the share of one student's own tokens covered by k-grams the other
  student also has (the larger of the two shares; a floor on the denominator so that two
  lines of own code cannot score 1), or the matched tokens over ABSOLUTE when that is
  larger: a copied twenty-line answer is evidence however much else both students wrote.

Hashes are CRC-32 token ids combined by a 64-bit polynomial: stable across processes and
runs (Python's ``hash`` of str is salted), so the same class always gets the same scores.
"""

from __future__ import annotations

import io
import keyword
import re
import tokenize
import zlib
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from grader.classroom.similarity.extract import CodeCell, Extract, bound_names, split_statements, strip_magics

__all__ = ["K", "WINDOW", "MIN_TOKENS", "CodePrint", "Region", "tokens_of", "kgram_hashes", "winnow",
           "fingerprint", "base_hashes", "code_overlap", "ABSOLUTE"]

K = 12           # tokens per k-gram: about one and a half lines of code
WINDOW = 6       # winnowing window: every common run of K + WINDOW - 1 = 17 tokens is found
MIN_TOKENS = 60  # denominator floor of a share: a few own lines cannot be "all copied"
ABSOLUTE = 200   # matched own tokens (about 20 lines) that score 1 whatever else both wrote
BASE_POLY = np.uint64(1_000_003)
FALLBACK = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\"[^\"\n]*\"|'[^'\n]*'|\S")
SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}


@dataclass
class Region:
    """Matching code: cell index in each student's own code and the lines (1-based, inclusive)."""

    a_unit: int
    a_lines: tuple[int, int]
    b_unit: int
    b_lines: tuple[int, int]
    tokens: int


@dataclass
class CodePrint:
    """One submission's own code as tokens and winnowed fingerprints."""

    cells: list[CodeCell]
    tokens: list[list[str]] = field(default_factory=list)
    lines: list[list[int]] = field(default_factory=list)
    prints: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # hash -> [(cell, token position)]
    grams: list[np.ndarray] = field(default_factory=list)  # every k-gram hash, per cell
    book: set[int] = field(default_factory=set)  # every k-gram hash of the student's book-code cells
    base: list[np.ndarray] = field(default_factory=list)  # per cell: token is base code (set by subtract_base)

    @property
    def every(self) -> set[int]:
        """Every k-gram hash of the own code (not only the winnowed ones)."""
        return {int(h) for g in self.grams for h in g}

    @property
    def total(self) -> int:
        """How many own tokens the submission has once base code is subtracted."""
        if self.base:
            return int(sum(len(b) - int(b.sum()) for b in self.base))
        return sum(len(t) for t in self.tokens)

    def subtract_base(self, excluded: set[int]) -> None:
        """Mark the tokens covered by a base k-gram, and drop base fingerprints."""
        self.base = []
        for toks, grams in zip(self.tokens, self.grams):
            mask = np.zeros(len(toks), dtype=bool)
            for pos, value in enumerate(grams.tolist()):
                if value in excluded:
                    mask[pos:pos + K] = True
            self.base.append(mask)
        self.prints = {h: v for h, v in self.prints.items() if h not in excluded}


def _number(text: str) -> str:
    """``1.0``, ``1.``, ``1e0`` and ``1`` alike: the value, not its spelling."""
    try:
        return repr(float(text.replace("_", "")))
    except ValueError:
        return text


def _kind(tok: tokenize.TokenInfo) -> tuple[str, bool] | None:
    """A token's normal form and whether it is a (renameable) name."""
    if tok.type in SKIP:
        return None
    if tok.type == tokenize.NAME:
        return tok.string, not keyword.iskeyword(tok.string)
    if tok.type == tokenize.NUMBER:
        return _number(tok.string), False
    if tok.type == tokenize.STRING or tokenize.tok_name.get(tok.type, "").startswith("FSTRING"):
        return "S", False
    if tok.type == tokenize.NEWLINE:
        return ";", False
    if tok.type == tokenize.INDENT:
        return "{", False
    if tok.type == tokenize.DEDENT:
        return "}", False
    return tok.string, False


def _fallback(text: str) -> tuple[tuple[str, bool, int], ...]:
    """Tokens of code Python's tokenizer rejects (unbalanced brackets, stray quotes)."""
    found = []
    for number, line in enumerate(text.splitlines()):
        for word in FALLBACK.findall(line.split("#", 1)[0]):
            if word[0].isdigit():
                found.append((_number(word), False, number))
            elif word[0] in "'\"":
                found.append(("S", False, number))
            else:
                found.append((word, (word[0].isalpha() or word[0] == "_") and not keyword.iskeyword(word), number))
    return tuple(found)


@lru_cache(maxsize=65536)  # the book's statements recur in every notebook of a class
def _raw_tokens(text: str) -> tuple[tuple[str, bool, int], ...]:
    """(normal form, is a name, line offset) of every token of a statement."""
    try:
        return tuple((k[0], k[1], t.start[0] - 1) for t in tokenize.generate_tokens(io.StringIO(text).readline)
                     if (k := _kind(t)) is not None)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return _fallback(text)


def tokens_of(statements: Iterable[tuple[int, str]], bound: frozenset[str] | set[str] = frozenset()
              ) -> tuple[list[str], list[int]]:
    """Normalised tokens of a cell's statements (``bound``: the names that become ``N``)
    and the cell line each token is on."""
    toks: list[str] = []
    lines: list[int] = []
    for first, text in statements:
        for form, is_name, offset in _raw_tokens(text):
            toks.append("N" if is_name and form in bound else form)
            lines.append(first + offset)
    return toks, lines


def kgram_hashes(tokens: Sequence[str], k: int = K) -> np.ndarray:
    """The hash of every k-gram of ``tokens`` (empty when there are fewer than k)."""
    if len(tokens) < k:
        return np.zeros(0, dtype=np.uint64)
    ids = np.fromiter((zlib.crc32(t.encode()) for t in tokens), dtype=np.uint64, count=len(tokens))
    n = len(tokens) - k + 1
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * BASE_POLY + ids[j:j + n]
    return h


def winnow(hashes: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Positions kept by winnowing: the (leftmost) minimum of every window of hashes."""
    if len(hashes) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(hashes) <= window:
        return np.array([int(np.argmin(hashes))])
    views = np.lib.stride_tricks.sliding_window_view(hashes, window)
    return np.unique(views.argmin(axis=1) + np.arange(len(views)))


def fingerprint(extract: Extract) -> CodePrint:
    """Tokens and winnowed fingerprints of a submission's own code, cell by cell."""
    cp = CodePrint(cells=list(extract.code))
    bound = frozenset(extract.bound)
    for index, cell in enumerate(cp.cells):
        toks, lines = tokens_of(cell.lines, bound)
        cp.tokens.append(toks)
        cp.lines.append(lines)
        hashes = kgram_hashes(toks)
        cp.grams.append(hashes)
        if cell.book:
            cp.book.update(int(h) for h in hashes)
        for pos in winnow(hashes):
            cp.prints.setdefault(int(hashes[pos]), []).append((index, int(pos)))
    return cp


def base_hashes(sources: Iterable[str]) -> set[int]:
    """Every k-gram hash of base code (stubs, ``--base`` files): what a student's code shares
    with it is nobody's own work (JPlag's ``-bc``, MOSS's ``-b``)."""
    found: set[int] = set()
    for source in sources:
        toks, _ = tokens_of(split_statements(strip_magics(source)), bound_names(source))
        found.update(int(h) for h in kgram_hashes(toks))
    return found


def _covered(cp: CodePrint, shared: Iterable[int]) -> dict[int, set[int]]:
    """Own (not base) token positions covered by the shared fingerprints, per cell."""
    cover: dict[int, set[int]] = {}
    for value in shared:
        for unit, pos in cp.prints[value]:
            base = cp.base[unit] if cp.base else None
            cover.setdefault(unit, set()).update(p for p in range(pos, pos + K) if base is None or not base[p])
    return cover


def _regions(a: CodePrint, b: CodePrint, shared: Iterable[int]) -> list[Region]:
    anchors = sorted((a.prints[v][0][0], a.prints[v][0][1], b.prints[v][0][0], b.prints[v][0][1]) for v in shared)
    groups: list[list[tuple[int, int, int, int]]] = []
    for anchor in anchors:
        last = groups[-1][-1] if groups else None
        if (last and last[0] == anchor[0] and last[2] == anchor[2] and anchor[1] - last[1] <= K
                and abs(anchor[3] - last[3]) <= 2 * K):
            groups[-1].append(anchor)
        else:
            groups.append([anchor])
    regions = []
    for group in groups:
        ua, ub = group[0][0], group[0][2]
        a_lo, a_hi = min(g[1] for g in group), max(g[1] for g in group) + K - 1
        b_lo, b_hi = min(g[3] for g in group), max(g[3] for g in group) + K - 1
        la, lb = a.lines[ua], b.lines[ub]
        regions.append(Region(ua, (la[a_lo], la[min(a_hi, len(la) - 1)]), ub, (lb[b_lo], lb[min(b_hi, len(lb) - 1)]),
                              a_hi - a_lo + 1))
    return regions


def code_overlap(a: CodePrint, b: CodePrint, shared: set[int], *,
                 regions: bool = False) -> tuple[float, int, list[Region]]:
    """Score in [0, 1], own tokens matched (of the student with the larger share), and,
    when asked, the matching regions."""
    if not shared:
        return 0.0, 0, []
    cov_a = sum(len(s) for s in _covered(a, shared).values())
    cov_b = sum(len(s) for s in _covered(b, shared).values())
    share_a = cov_a / max(a.total, MIN_TOKENS)
    share_b = cov_b / max(b.total, MIN_TOKENS)
    matched = min(cov_a, cov_b)
    score = min(1.0, max(share_a, share_b, matched / ABSOLUTE))
    return score, matched, (_regions(a, b, shared) if regions else [])
