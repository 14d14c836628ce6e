"""Static analysis of the submitted source, in the grader's process (AST only).

It answers two questions: which top-level names each cell defines (to find an
exercise's cells when tags were lost) and which modules, functions and methods a piece
of code uses (for forbidden-call rules). Uses are resolved through the notebook's own
imports (``import numpy as np`` makes ``np.cos`` a use of ``numpy.cos``) and followed
into the notebook's helper functions, so hiding ``torch.cos`` in a helper does not help.

What this cannot see, and says so: code built at run time (``eval``, ``exec``,
``getattr`` with a computed name, ``__import__``). Exercises with forbidden-call rules
treat such dynamic code as a violation, because it cannot be checked.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Iterable

from grader.notebook.load import Cell

__all__ = ["Use", "CellCode", "parse_cell", "analyse", "uses_in", "rule_matches", "DYNAMIC"]

MAGIC_LINE = re.compile(r"^(\s*)([!%]|pip3?\s+install\b|conda\s+install\b)")
DYNAMIC = frozenset({"eval", "exec", "compile", "__import__", "importlib.import_module", "builtins.getattr*"})


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


def parse_cell(cell: Cell) -> CellCode:
    """Parse a code cell; a syntax error is recorded, never raised."""
    try:
        tree = ast.parse(_python_source(cell.source))
    except (SyntaxError, ValueError) as exc:
        return CellCode(cell, None, syntax_error=f"{type(exc).__name__}: {exc}")
    names, functions = _top_level_definitions(tree)
    return CellCode(cell, tree, names, functions)


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
    following calls into the notebook's other top-level functions."""
    aliases, stars = _aliases(codes)
    definitions = {}
    for code in codes:
        for name, node in code.functions.items():
            definitions[name] = (code.cell.index, node)
    uses: list[Use] = []
    wanted_cells = set(cells)
    pending = list(roots)
    for code in codes:
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
