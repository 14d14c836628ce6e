"""Find a free-form homework's sections in one or several notebooks, by content.

Real notebooks head their sections in every style (``## 2.1 Data Manipulation``,
``# 2.1``, ``#5.1``, bold or plain text, a code comment), number them wrongly ("2.5 Data
Manipulation" over autograd code), split chapters across files, or merge a section into
one cell. So each cell is placed by two kinds of evidence:

* **headings**: a line starting with a section number (``2.1``, ``2.1.3``, ``2.1.``) or a
  markdown heading whose text is a section's title claims that section;
* **fingerprints**: statements only the book's code of a section contains
  (``y = 2 * torch.dot(x, x)``), compared on the cell's normalised code.

Cells follow the last heading until a code cell's fingerprints say otherwise: a cell
matching two or more fingerprints of another section moves the current section there
(the heading disagreed with the code), one fingerprint is enough when no heading
claimed the place. Everything here is static: no kernel, no execution.
"""

from __future__ import annotations

import ast
import difflib
import re
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from grader.notebook.load import Notebook
from grader.notebook.static import CellCode

__all__ = ["SectionSpec", "CellRef", "SectionFound", "Placement", "place_cells", "find_sections",
           "heading_claims", "normalise_code", "discussion_text", "fingerprint_hits"]

NUMBER = re.compile(r"^(?:(?:section|sec\.?|§|chapter)\s*)?(\d{1,2})\.(\d{1,2})((?:\.\d+)*)\.?(?=\s|$|[^\d.])(.*)$",
                    re.IGNORECASE)
DECORATION = re.compile(r"^[\s#>*_`~\-\u2192\u2713\u2228\u25bc\u25b6]*")
BOOK_MARKUP = re.compile(r":(label|numref|eqref|eqlabel|cite|begin_tab|end_tab|width|ref):")
DISCUSSION_WORDS = re.compile(r"discussion|takeaway|take-away|memo|summary|reflection|remarks|"
                              r"요약|정리|토의|느낀|소감|생각", re.IGNORECASE)
TITLE_MATCH = 0.82  # difflib ratio for "Automatic Differentitation" to find 2.5
OVERRIDE_HITS = 2   # fingerprints a cell needs to contradict a heading
CHAPTER = re.compile(r"^(?:chapter|ch\.?)\s*\d+|^\d{1,2}\.?\s+[^\d.]", re.IGNORECASE)


@dataclass(frozen=True)
class SectionSpec:
    """One section of a homework: its number, title, other titles, and book-code fingerprints.

    ``fingerprints`` are code snippets that only this section's book code contains; they
    are compared with whitespace and comments ignored. ``has_code`` is False for
    sections of the book that have no code (theory only)."""

    id: str
    title: str
    fingerprints: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    has_code: bool = True


@dataclass(frozen=True, order=True)
class CellRef:
    """A cell of a submission: which notebook (0-based) and which cell (0-based)."""

    part: int
    cell: int

    def label(self, names: Sequence[str] = ()) -> str:
        """``cell 5`` or, for several notebooks, ``ch2.ipynb cell 5`` (1-based, as students count)."""
        if len(names) > 1:
            return f"{names[self.part]} cell {self.cell + 1}"
        return f"cell {self.cell + 1}"


@dataclass
class Placement:
    """Where one cell was placed, and why."""

    ref: CellRef
    section: str | None
    reason: str  # heading | code | follows | preamble | other
    hits: dict[str, int] = field(default_factory=dict)
    note: str = ""
    heading: str = ""   # the heading line this cell holds, when its claim was accepted


@dataclass
class SectionFound:
    """A section as found in a submission: its cells, headings, fingerprints matched."""

    id: str
    title: str
    has_code: bool = True
    cells: list[CellRef] = field(default_factory=list)
    code_cells: list[CellRef] = field(default_factory=list)
    markdown_cells: list[CellRef] = field(default_factory=list)
    headings: list[tuple[CellRef, str]] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def present(self) -> bool:
        return bool(self.cells)

    @property
    def how(self) -> str:
        """How the section was found: heading and code, code only, heading only, or missing."""
        if not self.cells:
            return "missing"
        if self.headings and self.fingerprints:
            return "heading and code"
        if self.fingerprints:
            return "code (no heading)"
        return "heading"


@lru_cache(maxsize=8192)
def normalise_code(source: str) -> str:
    """Code with comments, formatting and whitespace removed (parsed and unparsed when possible)."""
    from grader.notebook.static import _python_source

    try:
        tree = ast.parse(_python_source(source))
        # a lone expression is unparsed as an expression: a string stays '...', not a docstring
        single = tree.body[0].value if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) else None
        text = ast.unparse(single if single is not None else tree)
    except (SyntaxError, ValueError):
        text = "\n".join(line.split("#", 1)[0] for line in source.splitlines())
    return re.sub(r"\s+", "", text)


def _normalised(code: CellCode) -> str:
    return normalise_code(code.cell.source)


def fingerprint_hits(text: str, specs: Sequence[SectionSpec]) -> dict[str, list[str]]:
    """For normalised code ``text``: each section's fingerprints it contains."""
    found: dict[str, list[str]] = {}
    for spec in specs:
        hits = [f for f in spec.fingerprints if normalise_code(f) in text]
        if hits:
            found[spec.id] = hits
    return found


def _title_key(text: str) -> str:
    return re.sub(r"[^a-z가-힣]+", " ", text.lower()).strip()


@lru_cache(maxsize=4096)
def _by_title(text: str, specs: tuple[SectionSpec, ...]) -> list[str]:
    """Sections whose title (or an alias) the text is, best match first; a text that
    starts with a title ("Linear Regression: notes") counts when nothing matches better."""
    key = _title_key(text)
    if len(key) < 5:
        return []
    close: list[tuple[float, str]] = []
    prefix: list[tuple[int, str]] = []
    for spec in specs:
        titles = [_title_key(t) for t in (spec.title, *spec.aliases)]
        ratio = max(difflib.SequenceMatcher(None, key, t).ratio() for t in titles)
        if ratio >= TITLE_MATCH:
            close.append((ratio, spec.id))
        longest = max((len(t) for t in titles if len(t) > 8 and key.startswith(t)), default=0)
        if longest:
            prefix.append((longest, spec.id))
    if close:
        best = max(r for r, _ in close)
        return [sid for r, sid in sorted(close, reverse=True) if r >= best - 0.02]
    return [sid for _, sid in sorted(prefix, reverse=True)]


def heading_claims(line: str, specs: Sequence[SectionSpec], *, markdown: bool = True,
                   plain: bool = True) -> list[str] | None:
    """Sections a line claims to head, best first; ``None`` if it is no heading at all.

    A number the homework does not have (``2.4``) claims ``other:2.4``, a chapter heading
    ``other:chapter``; a number and a title that disagree ("2.5 Data Manipulation") claim
    both, the number first. ``plain``: a line without ``#`` or bold may be a heading."""
    raw = line.strip()
    if not raw or len(raw) > 140:
        return None
    is_md_heading = markdown and raw.startswith("#")
    is_bold = markdown and raw.startswith(("**", "__")) and raw.rstrip(" :").endswith(("**", "__"))
    if not (plain or is_md_heading or is_bold):
        return None
    text = DECORATION.sub("", raw).strip().rstrip("*_:# ").strip()
    m = NUMBER.match(text)
    ids = {s.id for s in specs}
    if m:
        number = f"{int(m.group(1))}.{int(m.group(2))}"
        rest = m.group(4).strip(" .:-*_")
        sentence = m.group(4).rstrip().endswith((".", ",", ";")) and len(rest.split()) > 3
        if len(rest) > 80 or (not (is_md_heading or is_bold) and sentence):
            return None
        claims = [number] if number in ids else [f"other:{number}"]
        claims += [s for s in _by_title(rest, tuple(specs)) if s not in claims]
        return claims
    if is_md_heading or is_bold:
        if CHAPTER.match(text):
            return ["other:chapter"]
        by_title = _by_title(text, tuple(specs))
        return by_title or None
    return None


def _cell_claims(text: str, is_code: bool, specs: Sequence[SectionSpec]) -> tuple[list[str], str] | None:
    """A cell's heading claim and the heading line: a markdown heading (a plain-text one
    only as the cell's first line), or a code cell's leading comment."""
    first = True
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if is_code:
            if not stripped.startswith("#"):
                return None
            claims = heading_claims(stripped.lstrip("#").strip(), specs, markdown=False)
        else:
            claims = heading_claims(stripped, specs, plain=first)
        first = False
        if claims:
            return claims, stripped[:120]
    return None


def weak_claim(line: str) -> bool:
    """A heading whose claim needs the code around it to agree before it moves cells: a
    sub-subsection number (``####2.1.1.3``, often a typo inside another section) or a
    title alone in a minor heading (``### Classification``), as opposed to ``## 4.3 ...``."""
    raw = line.strip()
    level = len(raw) - len(raw.lstrip("#"))
    text = DECORATION.sub("", raw).strip().rstrip("*_:# ").strip()
    m = NUMBER.match(text)
    if m:
        return m.group(3).count(".") >= 2
    return level == 0 or level >= 3


def _code_agrees(nb: Notebook, start: int, by_index: dict[int, CellCode], claims: list[str],
                 specs: Sequence[SectionSpec]) -> bool:
    """Whether the code after a weak heading (up to the next heading) matches a claimed
    section's fingerprints; a claimed section without book code agrees when no code
    of another section follows."""
    hits: dict[str, int] = {}
    for cell in nb.cells[start + 1:]:
        if _cell_claims(cell.source, cell.is_code, specs):
            break
        code = by_index.get(cell.index)
        if code is not None:
            for sid, found in fingerprint_hits(_normalised(code), specs).items():
                hits[sid] = hits.get(sid, 0) + len(found)
    no_code = {s.id for s in specs if not s.has_code}
    return any(hits.get(c) for c in claims) or (not hits and any(c in no_code for c in claims))


class _Segment:
    """Cells since the last heading, and the fingerprints they matched, by section."""

    def __init__(self, start: int, claims: list[str]) -> None:
        self.start, self.claims = start, claims
        self.tally: dict[str, int] = {}

    def agreed(self) -> bool:
        return any(self.tally.get(c, 0) for c in self.claims)


def place_cells(nb: Notebook, codes: Sequence[CellCode], specs: Sequence[SectionSpec], part: int = 0) -> list[Placement]:
    """Place every cell of one notebook in a section (or in none), in order.

    A heading places the cells after it. A code cell matching another section's
    fingerprints moves the place when no heading claimed it, when it matches two or more
    (a section without its own heading), or when the cells since the heading have
    matched two or more of one other section and none of the heading's: the heading was
    wrong, and its cells are placed with their code."""
    by_index = {c.cell.index: c for c in codes}
    current: str | None = None
    segment: _Segment | None = None
    placements: list[Placement] = []
    for cell in nb.cells:
        ref = CellRef(part, cell.index)
        claim = _cell_claims(cell.source, cell.is_code, specs)
        if claim and current is not None and claim[0][0] != current and weak_claim(claim[1]) \
                and not _code_agrees(nb, cell.index, by_index, [c for c in claim[0] if not c.startswith("other:")], specs):
            claim = None  # a minor heading whose claim the code around it does not bear out: it stays where it is
        if claim:
            current = claim[0][0]
            segment = _Segment(len(placements), claim[0])
        code = by_index.get(cell.index)
        hits = {k: len(v) for k, v in fingerprint_hits(_normalised(code), specs).items()} if code is not None else {}
        reason, note = ("heading" if claim else "follows"), ""
        if hits:
            reason = "code"
            best = max(hits, key=lambda s: (hits[s], s == current, segment is not None and s in segment.claims))
            if segment is not None:
                segment.tally[best] = segment.tally.get(best, 0) + hits[best]
            if best == current or (segment is not None and best in segment.claims):
                current = best
            elif segment is None or current is None or current.startswith("other:"):
                current = best
            elif not segment.agreed() and segment.tally[best] >= OVERRIDE_HITS:
                heading = placements[segment.start] if segment.start < len(placements) else None
                note = (f"the heading at {ref.label() if heading is None else heading.ref.label()} claims "
                        f"{segment.claims[0].replace('other:', '')}, but the code under it is {best}'s")
                for earlier in placements[segment.start:]:
                    earlier.section = best
                current, segment.claims = best, [best]
            elif hits[best] >= OVERRIDE_HITS:
                current, segment = best, _Segment(len(placements), [best])
        section = current if current and not current.startswith("other:") else None
        if section is None:
            reason = "other" if current else "preamble"
        placements.append(Placement(ref, section, reason, hits, note, claim[1] if claim else ""))
    return placements


def find_sections(parts: Sequence[tuple[Notebook, Sequence[CellCode]]], specs: Sequence[SectionSpec]) -> list[SectionFound]:
    """Every section of ``specs`` as found across the notebooks of one submission."""
    found = {s.id: SectionFound(s.id, s.title, s.has_code) for s in specs}
    spec_by_id = {s.id: s for s in specs}
    for part, (nb, codes) in enumerate(parts):
        by_index = {c.cell.index: c for c in codes}
        cells = {c.index: c for c in nb.cells}
        for placement in place_cells(nb, codes, specs, part):
            if placement.section is None:
                continue
            section = found[placement.section]
            cell = cells[placement.ref.cell]
            section.cells.append(placement.ref)
            if cell.is_code:
                section.code_cells.append(placement.ref)
            elif cell.kind in ("markdown", "raw"):
                section.markdown_cells.append(placement.ref)
            if placement.heading:
                section.headings.append((placement.ref, placement.heading))
            if placement.note:
                section.notes.append(placement.note)
            code = by_index.get(cell.index)
            if code is not None:
                hits = fingerprint_hits(_normalised(code), [spec_by_id[placement.section]])
                for fp in hits.get(placement.section, []):
                    if fp not in section.fingerprints:
                        section.fingerprints.append(fp)
    return [found[s.id] for s in specs]


def discussion_text(sources: Iterable[str], specs: Sequence[SectionSpec]) -> tuple[str, bool]:
    """The student's own prose among markdown ``sources``, and whether a discussion marker was used.

    Left out: heading lines, questions (pasted exercise prompts end with '?'), quoted
    lines, code blocks, and paragraphs carrying the book's own markup (``:numref:``),
    which come with notebooks downloaded from the book."""
    kept: list[str] = []
    marker = False
    for source in sources:
        in_fence = False
        for paragraph in re.split(r"\n\s*\n", source):
            if BOOK_MARKUP.search(paragraph):
                continue
            for line in paragraph.splitlines():
                stripped = line.strip()
                if stripped.startswith("```"):
                    in_fence = not in_fence
                    continue
                if in_fence or not stripped or stripped.startswith(">"):
                    continue
                if heading_claims(stripped, specs) is not None or stripped.startswith("#"):
                    marker = marker or bool(DISCUSSION_WORDS.search(stripped))
                    continue
                if stripped.rstrip(" *_").endswith(("?", "？")):
                    continue
                if DISCUSSION_WORDS.match(DECORATION.sub("", stripped)) and len(stripped) < 40:
                    marker = True
                    continue
                kept.append(stripped)
    return "\n".join(kept), marker
