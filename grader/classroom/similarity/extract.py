"""What each submission contributes to a similarity check: its own code and its own prose.

Everything here is static (no kernel) and per submission, so it can be stored in the
gradebook when a class is graded and reused. The *static* base is subtracted here:

* code statements equal to a released stub's statements, to the homework's book-code
  fingerprints (``grader/homeworks/<id>.py``), or to code given with ``--base``;
* prose sentences pasted from a stub's markdown (the exercise prompts), from the
  homework's section titles, or from text given with ``--base``; headings, questions,
  quotes and the book's own markup are left out by :func:`discussion_text`.

Code cells that hit a book-code fingerprint are marked ``book``: the comparison later
treats what such cells share across students as book code (see ``compare.py``). What is
shared by many students of the class is also subtracted there, because it needs the
whole class.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import unicodedata
from functools import lru_cache
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from grader.errors import InputError, NotebookError
from grader.homework.sections import SectionSpec, discussion_text, fingerprint_hits, normalise_code, place_cells
from grader.notebook.load import Notebook, read_notebook, units_in_metadata
from grader.notebook.static import CellCode

__all__ = ["EXTRACT_VERSION", "Base", "CodeCell", "ProseBlock", "Extract", "build_base", "extract_notebooks",
           "split_statements", "split_sentences", "normalise_sentence", "strip_magics", "homework_of", "bound_names",
           "statement_key"]

EXTRACT_VERSION = 1
MAGIC = re.compile(r"^\s*[%!]|\?\s*$")
SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")
BULLET = re.compile(r"^(?:[-*+>]|\d+[.)])\s+")
MIN_SENTENCE = 12
ANCHOR_MIN = 15  # normalised characters  # characters: shorter fragments ("ok.", "x = 3") are no evidence


@dataclass
class Base:
    """The static base of a class: statements and sentences nobody gets credit (or suspicion) for."""

    context: str = "auto"
    specs: tuple[SectionSpec, ...] = ()
    statements: set[str] = field(default_factory=set)       # normalise_code() of base statements
    fingerprints: tuple[str, ...] = ()                      # normalised book-code fingerprints
    anchors: tuple[str, ...] = ()                           # normalised checkpoint anchors (book statements)
    sentences: set[str] = field(default_factory=set)        # normalise_sentence() of base sentences
    text: str = ""                                          # all base prose, normalised, for containment
    code_sources: list[tuple[str, str]] = field(default_factory=list)  # (label, code) for the JPlag -bc export


@dataclass
class CodeCell:
    """A code cell's own statements: ``lines`` is [(first line, source)], 1-based in the cell."""

    part: int
    cell: int
    section: str | None
    book: bool
    lines: list[tuple[int, str]]


@dataclass
class ProseBlock:
    """A markdown cell's own sentences."""

    part: int
    cell: int
    section: str | None
    sentences: list[str]


@dataclass
class Extract:
    """One submission's own code and prose, with the notebooks' names (JSON round trip)."""

    student: str
    parts: list[str]
    code: list[CodeCell] = field(default_factory=list)
    prose: list[ProseBlock] = field(default_factory=list)
    problem: str = ""
    bound: list[str] = field(default_factory=list)  # names the notebooks bind: renaming them hides nothing

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for the gradebook table."""
        return {"version": EXTRACT_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Extract:
        """The inverse of :meth:`to_dict`."""
        return cls(student=data["student"], parts=list(data["parts"]), problem=data.get("problem", ""),
                   bound=list(data.get("bound", [])),
                   code=[CodeCell(c["part"], c["cell"], c["section"], c["book"],
                                  [(int(a), str(b)) for a, b in c["lines"]]) for c in data["code"]],
                   prose=[ProseBlock(p["part"], p["cell"], p["section"], list(p["sentences"])) for p in data["prose"]])

    def label(self, part: int, cell: int) -> str:
        """``cell 5`` or ``ch2.ipynb cell 5`` (1-based, as students count)."""
        return f"{self.parts[part]} cell {cell + 1}" if len(self.parts) > 1 else f"cell {cell + 1}"


def strip_magics(source: str) -> str:
    """Code with IPython magics, shell escapes and ``obj?`` help lines blanked (line numbers kept)."""
    return "\n".join("" if MAGIC.search(line) else line for line in source.splitlines())


def split_statements(source: str) -> list[tuple[int, str]]:
    """The top-level statements of a cell as (first line, source); non-Python cells line by line."""
    return list(_split(source))


@lru_cache(maxsize=16384)  # the book's cells recur in every notebook of a class
def _split(source: str) -> tuple[tuple[int, str], ...]:
    clean = strip_magics(source)
    lines = clean.splitlines()
    try:
        tree = ast.parse(clean)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return tuple((i + 1, line) for i, line in enumerate(lines)
                     if line.strip() and not line.lstrip().startswith("#"))
    found = []
    for node in tree.body:
        end = node.end_lineno or node.lineno
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        found.append((start, "\n".join(lines[start - 1:end])))
    return tuple(found)


@lru_cache(maxsize=16384)
def bound_names(source: str) -> frozenset[str]:
    """Names a cell binds: assignment, loop, with, except and comprehension targets, function
    and class names, parameters, attributes assigned (``self.w = ...``). Not imports: module
    names are the library's, kept as they are."""
    try:
        tree = ast.parse(strip_magics(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            found.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.add(node.name)
    return frozenset(found)


def statement_key(text: str) -> str:
    """A statement as the book's fingerprints are compared (``normalise_code``); code too deep
    to parse falls back to its text without spaces, never an error."""
    try:
        return normalise_code(text)
    except (RecursionError, MemoryError, ValueError, SyntaxError):
        return re.sub(r"\s+", "", text)


def normalise_sentence(text: str) -> str:
    """Lower case, compatibility forms (full-width), punctuation and spacing dropped."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\W_]+", " ", text).strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of a prose text (any script): split after . ! ? 。 and at line breaks."""
    out = []
    for piece in SENTENCE_END.split(text):
        piece = BULLET.sub("", piece.strip())
        if len(normalise_sentence(piece)) >= MIN_SENTENCE:
            out.append(piece)
    return out


def _base_from_notebook(nb: Notebook, base: Base, label: str) -> None:
    code = []
    for cell in nb.cells:
        if cell.is_code:
            code.append(cell.source)
            base.statements.update(normalise_code(s) for _, s in split_statements(cell.source))
        elif cell.kind in ("markdown", "raw"):
            _add_base_prose(cell.source, base)
    base.code_sources.append((label, "\n\n".join(code)))


def _add_base_prose(text: str, base: Base) -> None:
    for sentence in split_sentences(text):
        base.sentences.add(normalise_sentence(sentence))
    base.text += " " + normalise_sentence(text)


def _add_base_file(path: Path, base: Base) -> None:
    if not path.exists():
        raise InputError(f"--base {path}: no such file or folder")
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix in (".ipynb", ".py", ".md", ".txt"):
                _add_base_file(child, base)
        return
    if path.suffix == ".ipynb":
        _base_from_notebook(read_notebook(path), base, path.name)
    elif path.suffix == ".py":
        text = path.read_text(encoding="utf-8", errors="replace")
        base.statements.update(normalise_code(s) for _, s in split_statements(text))
        base.code_sources.append((path.name, text))
    else:
        _add_base_prose(path.read_text(encoding="utf-8", errors="replace"), base)


def build_base(*, homework_id: str | None = None, exercise_ids: Sequence[str] = (),
               base_paths: Sequence[Path] = (), stubs_dir: Path | None = None) -> Base:
    """The static base for a homework or exercises: book fingerprints and section titles,
    the released stubs (code and prompts), and any ``--base`` files (notebooks, .py, .md, .txt)."""
    from grader.registry import get_exercise, get_homework

    if stubs_dir is None:
        from grader.course.validate import material_dirs
        stubs_dir = material_dirs()[1]
    base = Base(context=f"homework:{homework_id}" if homework_id else
                ("exercises:" + ",".join(sorted(exercise_ids)) if exercise_ids else "auto"))
    stub_ids = list(exercise_ids)
    if homework_id:
        homework = get_homework(homework_id)
        base.specs = tuple(homework.sections)
        base.fingerprints = tuple(normalise_code(f) for s in base.specs for f in s.fingerprints)
        base.statements.update(base.fingerprints)
        # Checkpoint anchors are book statements too; short ones (``d = a + b``) are too common to tell.
        anchors = (normalise_code(c.anchor) for c in getattr(homework, "checkpoints", ()))
        base.anchors = tuple(sorted({a for a in anchors if len(a) >= ANCHOR_MIN}))
        base.statements.update(base.anchors)
        for name, source in sorted(getattr(homework, "book_forwards", {}).items()):
            base.code_sources.append((f"book: {name}", source))
        for spec in base.specs:
            for title in (spec.title, *spec.aliases):
                _add_base_prose(f"{spec.id} {title}", base)
        # A homework's exercises are the book's: students paste their prompts, as the stubs carry them.
        stub_ids = sorted(p.stem for p in stubs_dir.glob("*.ipynb")) if stubs_dir.is_dir() else []
    for exercise_id in exercise_ids:
        get_exercise(exercise_id)  # a clear error for an unknown id
    for exercise_id in stub_ids:
        stub = stubs_dir / f"{exercise_id}.ipynb"
        if stub.is_file():
            _base_from_notebook(read_notebook(stub), base, f"{exercise_id} (stub)")
    for path in base_paths:
        _add_base_file(Path(path), base)
    base.statements.discard("")
    # Stored extracts are reused only under the same base: the context names its digest.
    digest = hashlib.sha256(json.dumps([sorted(base.statements), sorted(base.sentences), base.text],
                                       ensure_ascii=False).encode()).hexdigest()[:12]
    base.context = f"{base.context}#{digest}"
    return base


def _sections(nb: Notebook, base: Base, part: int) -> dict[int, str | None]:
    if base.specs:
        # Placement reads only the cells' sources: unanalysed CellCodes spare a full static analysis.
        codes = [CellCode(c, None) for c in nb.cells if c.is_code]
        return {p.ref.cell: p.section for p in place_cells(nb, codes, base.specs, part)}
    found: dict[int, str | None] = {}
    current: str | None = None
    for cell in nb.cells:
        tags = cell.exercise_tags()
        current = tags[0] if tags else current
        found[cell.index] = current
    return found


def _own_code(cell_source: str, base: Base) -> tuple[bool, list[tuple[int, str]]]:
    statements = split_statements(cell_source)
    normalised = [statement_key(s) for _, s in statements]
    joined = "".join(normalised)
    book = (bool(base.fingerprints) and bool(fingerprint_hits(joined, base.specs))) or \
        any(a in joined for a in base.anchors)
    kept = []
    for (line, text), norm in zip(statements, normalised):
        if not norm or norm in base.statements:
            continue
        # A statement that is mostly one fingerprint (``print(x.numel())``) is the book's.
        if any(fp in norm and 2 * len(fp) >= len(norm) for fp in base.fingerprints):
            continue
        kept.append((line, text))
    return book, kept


def _own_sentences(source: str, base: Base) -> list[str]:
    text, _ = discussion_text([source], base.specs)
    kept = []
    for sentence in split_sentences(text):
        norm = normalise_sentence(sentence)
        if norm in base.sentences or (len(norm) >= 30 and norm in base.text):
            continue
        kept.append(sentence)
    return kept


def extract_notebooks(student: str, paths: Sequence[Path], base: Base) -> Extract:
    """The own code and prose of one submission (its notebooks, in order). A notebook that
    cannot be read is noted in ``problem`` and skipped: it never stops the class."""
    extract = Extract(student=student, parts=[Path(p).name for p in paths])
    problems = []
    for part, path in enumerate(paths):
        try:
            nb = read_notebook(path)
        except NotebookError as exc:
            problems.append(str(exc))
            continue
        try:
            sections = _sections(nb, base, part)
        except (RecursionError, MemoryError) as exc:  # a pathological cell: no sections, still compared
            sections, problems = {}, problems + [f"{path.name}: sections not placed ({type(exc).__name__})"]
        bound: set[str] = set(extract.bound)
        for cell in nb.cells:
            try:
                if cell.is_code:
                    bound |= bound_names(cell.source)
                    book, kept = _own_code(cell.source, base)
                    if kept:
                        extract.code.append(CodeCell(part, cell.index, sections.get(cell.index), book, kept))
                elif cell.kind in ("markdown", "raw"):
                    sentences = _own_sentences(cell.source, base)
                    if sentences:
                        extract.prose.append(ProseBlock(part, cell.index, sections.get(cell.index), sentences))
            except (RecursionError, MemoryError) as exc:
                problems.append(f"{path.name} cell {cell.index + 1}: left out ({type(exc).__name__})")
        extract.bound = sorted(bound)
    extract.problem = "; ".join(problems)
    return extract


def homework_of(paths: Sequence[Path]) -> tuple[str | None, list[str]]:
    """The homework or exercises the notebooks' metadata and tags declare (for ``auto``)."""
    exercises: list[str] = []
    for path in paths:
        try:
            declared, homework = units_in_metadata(read_notebook(path))
        except NotebookError:
            continue
        if homework:
            return homework, []
        exercises += [e for e in declared if e not in exercises]
    return None, exercises
