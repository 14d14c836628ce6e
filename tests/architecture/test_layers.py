"""The package's shape: imports point down the layers, no cycles, declarations stay light."""

from __future__ import annotations

import subprocess
import sys


from layering import PACKAGE, find_cycle, import_graph

# Lowest first. A module may import from its own layer and the layers below it.
LAYERS: list[tuple[str, ...]] = [
    ("grader.errors", "grader.config", "grader.results", "grader.rounding", "grader.values", "grader.seeds", "grader.datastore",
     "grader.protocol", "grader.wire"),
    ("grader.notebook",),
    ("grader.engine",),
    ("grader.checking",),
    ("grader.units", "grader.homework"),
    ("grader.exercises", "grader.homeworks"),
    ("grader.registry", "grader.pipeline"),
    ("grader.course", "grader.classroom"),
    ("grader.report",),
    ("grader.cli", "grader.commands", "grader.local", "grader.__main__", "grader"),
]


def layer_of(module: str) -> int:
    best, depth = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and prefix.count(".") > depth:
                best, depth = i, prefix.count(".")
    if best < 0:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS or move it into a subpackage")
    return best


def test_the_graph_is_read_from_every_module() -> None:
    graph = import_graph()
    assert "grader.units.spec" in graph and "grader.engine.execute" in graph
    assert "grader.checking.checks" in graph["grader.units.spec"]


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_cycle_finder_reports_a_planted_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_point_down_the_layers() -> None:
    upward = [f"{m} (layer {layer_of(m)}) imports {t} (layer {layer_of(t)})"
              for m, targets in import_graph().items() for t in targets if layer_of(t) > layer_of(m)]
    assert not upward, "\n".join(sorted(upward))


def test_no_loose_top_level_module() -> None:
    allowed = {p.split(".")[1] for layer in (LAYERS[0], LAYERS[6], LAYERS[9]) for p in layer if "." in p}
    loose = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in allowed | {"__init__"})
    assert not loose, f"top-level modules outside base and entry points: {loose}"


def test_declarations_load_no_engine_module() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import grader.exercises, grader.homeworks\n"
        "for pkg in (grader.exercises, grader.homeworks):\n"
        "    for info in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(f'{pkg.__name__}.{info.name}')\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('grader.engine'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [], f"importing the declarations loaded: {out.stdout.split()}"
