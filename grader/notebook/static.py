"""Static analysis of the submitted source, in the grader's process (AST only).

It answers two questions: which top-level names each cell defines (to find an
exercise's cells when tags were lost) and which modules, functions and methods a piece
of code uses (for forbidden-call rules). Uses are resolved through the notebook's own
imports (``import numpy as np`` makes ``np.cos`` a use of ``numpy.cos``) and followed
into the notebook's helper functions, so hiding ``torch.cos`` in a helper does not help.

What this cannot see, and says so: code built at run time (``eval``, ``exec``,
``getattr`` with a computed name, ``__import__``). Exercises with forbidden-call rules
treat such dynamic code as a violation, because it cannot be checked.

For planning probes it also records, per cell, the names its top-level code touches
(binds, mutates, passes along) and whether it may bind names the AST cannot see
(``exec``, ``globals()[...]``, star imports, ``%run``): see :func:`binding_cells`.
Any source is accepted: a cell too large, too deeply nested or not encodable is marked
"not analysable" (and treated as dynamic), never an exception.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Iterable

from grader.notebook.load import Cell

__all__ = ["Use", "CellCode", "parse_cell", "analyse", "uses_in", "rule_matches", "DYNAMIC", "NOT_ANALYSABLE",
           "NameFacts", "name_facts"]

MAGIC_LINE = re.compile(r"^(\s*)([!%]|pip3?\s+install\b|conda\s+install\b)")
# IPython magics that bring in names from elsewhere: a cell using one may bind anything.
BINDING_MAGIC = re.compile(r"^\s*%{1,2}(run|load|store|recall|macro|autoreload)\b", re.M)
DYNAMIC = frozenset({"eval", "exec", "compile", "__import__", "importlib.import_module", "builtins.getattr*"})
# Names whose use lets code bind globals the AST cannot see.
BINDS_DYNAMICALLY = frozenset({"exec", "eval", "globals", "vars", "get_ipython", "__builtins__"})
NOT_ANALYSABLE = "<not analysable>"
MAX_SOURCE_CHARS = 2_000_000
MAX_DEPTH = 120  # deeper trees overflow the recursive visitors below


@dataclass(frozen=True)
class Use:
    """One use of a dotted name (``torch.cos``) or a method (``.cos``) at a place in a cell."""

    name: str
    cell: int
    line: int


@dataclass
class CellCode:
    """A code cell's parse: defined names, its top-level functions, and syntax problems."""

    cell: Cell
    tree: ast.Module | None
    defines: set[str] = field(default_factory=set)
    functions: dict[str, ast.AST] = field(default_factory=dict)
    syntax_error: str = ""
    top_names: set[str] = field(default_factory=set)  # names the top-level code touches, not as a callee
    called: set[str] = field(default_factory=set)     # names the top-level code calls
    imported: set[str] = field(default_factory=set)   # names bound only by an import
    star_import: bool = False
    magic: bool = False                               # a %run-like magic
    not_analysable: str = ""                          # why the cell could not be analysed at all

    @property
    def unknown(self) -> bool:
        """The cell may bind names this analysis cannot see (it ran, but was not analysed)."""
        return bool(self.not_analysable) or self.star_import or self.magic


def _python_source(source: str) -> str:
    """IPython lines (magics, shell escapes, bare pip) become ``pass`` so line numbers stay."""
    lines = []
    for line in source.splitlines():
        m = MAGIC_LINE.match(line)
        lines.append(f"{m.group(1)}pass" if m else line)
    return "\n".join(lines)


def _targets(node: ast.AST) -> Iterable[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, (ast.Tuple, ast.List)):
        for elt in node.elts:
            yield from _targets(elt)
    elif isinstance(node, ast.Starred):
        yield from _targets(node.value)


def _top_level_definitions(tree: ast.Module) -> tuple[set[str], dict[str, ast.AST]]:
    names: set[str] = set()
    functions: dict[str, ast.AST] = {}

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
                functions[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in _targets(target):
                        names.add(name)
                        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
                            functions[name] = node.value
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith, ast.If, ast.While, ast.Try)):
                if isinstance(node, (ast.For, ast.AsyncFor)):
                    names.update(_targets(node.target))
                if isinstance(node, (ast.With, ast.AsyncWith)):
                    for item in node.items:
                        if item.optional_vars is not None:
                            names.update(_targets(item.optional_vars))
                for attr in ("body", "orelse", "finalbody"):
                    visit(getattr(node, attr, []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return names, functions


def _depth(tree: ast.AST) -> int:
    """The nesting depth of ``tree``, computed without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _top_level_uses(tree: ast.Module) -> tuple[set[str], set[str], bool]:
    """Names the cell's own code (not its function bodies) touches other than as a callee,
    the names it calls, and whether it star-imports."""
    touched: set[str] = set()
    called: set[str] = set()
    star = False
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            touched.add(node.name)
            stack += node.decorator_list  # the body runs later, when called
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            star = True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called.add(node.func.id)
            stack += [*node.args, *node.keywords]
            continue
        if isinstance(node, ast.Name):
            touched.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return touched, called, star


def _import_only(tree: ast.Module, names: set[str]) -> set[str]:
    """Of ``names``, those the cell binds by import statements only."""
    imported: set[str] = set()
    other: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imported.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            other.add(node.id)
    return (imported - other) & names


def _not_analysable(cell: Cell, why: str) -> CellCode:
    return CellCode(cell, None, not_analysable=why, syntax_error=f"not analysable: {why}")


def parse_cell(cell: Cell) -> CellCode:
    """Parse a code cell. A syntax error is recorded; a cell too large, too deeply nested
    or not encodable is marked not analysable. Never raises."""
    source = cell.source
    if len(source) > MAX_SOURCE_CHARS:
        return _not_analysable(cell, f"the cell has {len(source):,} characters")
    try:
        tree = ast.parse(_python_source(source))
    except SyntaxError as exc:
        return CellCode(cell, None, syntax_error=f"{type(exc).__name__}: {exc}")
    except (RecursionError, MemoryError):
        return _not_analysable(cell, "the code is nested too deeply to parse")
    except ValueError as exc:  # null bytes, text that is not valid UTF-8 (lone surrogates)
        return _not_analysable(cell, f"{type(exc).__name__}: {str(exc)[:200]}")
    if _depth(tree) > MAX_DEPTH:
        return _not_analysable(cell, "the code is nested too deeply to analyse")
    names, functions = _top_level_definitions(tree)
    touched, called, star = _top_level_uses(tree)
    return CellCode(cell, tree, names, functions, top_names=touched | names, called=called,
                    imported=_import_only(tree, names), star_import=star,
                    magic=bool(BINDING_MAGIC.search(source)))


def analyse(cells: Iterable[Cell]) -> list[CellCode]:
    """Parse every code cell of a notebook, in order."""
    return [parse_cell(c) for c in cells if c.is_code]


def _aliases(codes: list[CellCode]) -> tuple[dict[str, str], list[str]]:
    """Local name -> dotted module path, from every import in the notebook; star-import modules."""
    aliases: dict[str, str] = {}
    stars: list[str] = []
    for code in codes:
        if code.tree is None:
            continue
        for node in ast.walk(code.tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        aliases[a.asname] = a.name
                    else:
                        top = a.name.split(".")[0]
                        aliases[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    if a.name == "*":
                        stars.append(node.module)
                    else:
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases, stars


def _dotted(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


class _UseCollector(ast.NodeVisitor):
    def __init__(self, aliases: dict[str, str], stars: list[str], cell: int) -> None:
        self.aliases, self.stars, self.cell = aliases, stars, cell
        self.uses: list[Use] = []
        self.names: set[str] = set()

    def _add(self, name: str, node: ast.AST) -> None:
        self.uses.append(Use(name, self.cell, getattr(node, "lineno", 0)))

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self._add(a.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module:
            for a in node.names:
                self._add(node.module if a.name == "*" else f"{node.module}.{a.name}", node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        parts = _dotted(node)
        if parts and parts[0] in self.aliases:
            self._add(".".join([self.aliases[parts[0]], *parts[1:]]), node)
        else:
            self._add("." + node.attr, node)
            self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        self.names.add(node.id)
        if node.id in self.aliases:
            self._add(self.aliases[node.id], node)
        elif node.id in ("eval", "exec", "compile", "__import__"):
            self._add(node.id, node)
        else:
            for module in self.stars:
                self._add(f"{module}.{node.id}", node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2:
            name = node.args[1]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                self._add("." + name.value, node)
            else:
                self._add("builtins.getattr*", node)
        self.generic_visit(node)


def uses_in(codes: list[CellCode], roots: Iterable[str] = (), cells: Iterable[int] = ()) -> list[Use]:
    """Uses inside the top-level code of ``cells`` and inside the functions named ``roots``,
    following calls into the notebook's other top-level functions. A cell that could not
    be analysed (in ``cells``, or anywhere while a root is not found) is a use of
    :data:`NOT_ANALYSABLE`."""
    aliases, stars = _aliases(codes)
    definitions = {}
    for code in codes:
        for name, node in code.functions.items():
            definitions[name] = (code.cell.index, node)
    uses: list[Use] = []
    wanted_cells = set(cells)
    pending = list(roots)
    unseen_root = any(r not in definitions for r in pending)
    for code in codes:
        if code.not_analysable and (code.cell.index in wanted_cells or unseen_root):
            uses.append(Use(NOT_ANALYSABLE, code.cell.index, 0))
        if code.cell.index in wanted_cells and code.tree is not None:
            collector = _UseCollector(aliases, stars, code.cell.index)
            collector.visit(code.tree)
            uses += collector.uses
            pending += [n for n in collector.names if n in definitions]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen or name not in definitions:
            continue
        seen.add(name)
        cell, node = definitions[name]
        collector = _UseCollector(aliases, stars, cell)
        collector.visit(node)
        uses += collector.uses
        pending += [n for n in collector.names if n in definitions and n not in seen]
    return sorted(set(uses), key=lambda u: (u.cell, u.line, u.name))


def rule_matches(rule: str, name: str) -> bool:
    """``torch.cos`` matches itself and its attributes; ``.cos`` matches any ``x.cos``; a
    module name matches everything inside it."""
    if rule.startswith("."):
        return name == rule or name.endswith(rule)
    return name == rule or name.startswith(rule + ".")


def _local_names(node: ast.AST) -> set[str]:
    """Names a function binds for itself: parameters and assignments not declared global."""
    local: set[str] = set()
    declared: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.arg):
            local.add(sub.arg)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            local.add(sub.id)
        elif isinstance(sub, (ast.Global, ast.Nonlocal)):
            declared.update(sub.names)
    return local - declared


def _reads(node: ast.AST) -> set[str]:
    """The globals one function body reads (``global:W`` for a ``global W`` declaration)."""
    local = _local_names(node)
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id not in local:
            found.add(sub.id)
        elif isinstance(sub, ast.Global):
            found.update(f"global:{n}" for n in sub.names)
    return found


@dataclass
class NameFacts:
    """What each cell does to the notebook's globals when it runs, for planning probes.

    ``touched[i]``: names cell ``i`` binds, mutates or passes along (its top-level code,
    and the globals read by the notebook functions it calls; ``global:W`` when a called
    function declares ``global W``); ``dynamic``: cells that may bind names the AST
    cannot see."""

    codes: list[CellCode]
    touched: dict[int, set[str]] = field(default_factory=dict)
    dynamic: list[int] = field(default_factory=list)
    _reads: dict[str, set[str]] = field(default_factory=dict)

    def free_names(self, roots: Iterable[str]) -> set[str]:
        """The globals the notebook functions ``roots`` read when called, following calls
        into other notebook functions."""
        found: set[str] = set()
        seen: set[str] = set()
        pending = list(roots)
        while pending:
            name = pending.pop()
            if name in seen or name not in self._reads:
                continue
            seen.add(name)
            found |= self._reads[name]
            pending += self._reads[name]
        return found


def name_facts(codes: list[CellCode]) -> NameFacts:
    """:class:`NameFacts` for a notebook's parsed cells."""
    facts = NameFacts(codes)
    for code in codes:
        for name, node in code.functions.items():
            facts._reads[name] = _reads(node)
    for code in codes:
        touched = code.top_names | facts.free_names(code.called)
        facts.touched[code.cell.index] = touched
        if code.unknown or (touched | code.called) & BINDS_DYNAMICALLY:
            facts.dynamic.append(code.cell.index)
    return facts
