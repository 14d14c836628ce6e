"""When probes run and which cells an exercise's figures come from (kernel-free): the
rule of docs/ARCHITECTURE.md, "When probes run", on small notebooks."""

from __future__ import annotations

import numpy as np

from grader.notebook.load import Cell, Notebook
from grader.notebook.static import analyse
from grader.registry import exercises
from grader.units.context import UnitContext
from grader.units.fixtures import probe_globals

SOFTMAX = exercises()["softmax_fashion_mnist"]
DEF = "def train_softmax(X, y, epochs=1):\n    return helper(X), 0"


def _ctx(*sources: str | tuple[str, str]) -> UnitContext:
    cells = []
    for i, s in enumerate(sources):
        source, tag = (s, "") if isinstance(s, str) else s
        cells.append(Cell(index=i, kind="code", source=source, tags=(tag,) if tag else ()))
    nb = Notebook(path=None, cells=cells, metadata={}, sha256="", nbformat_minor=5)  # type: ignore[arg-type]
    return UnitContext(notebook=nb, codes=analyse(cells), secret="", origin_to_position=lambda i: i)


def _after(ctx: UnitContext) -> dict[str, int | None]:
    return {call.key.split("/")[1]: call.after for call in SOFTMAX.plan(ctx)}


def test_the_globals_each_probe_reads_come_from_its_descriptor() -> None:
    reads = {name: probe_globals(spec.descriptor(np.random.default_rng(0)))
             for name, spec in SOFTMAX.probes.items()}
    assert reads == {"hidden_training": {"train_softmax"}, "notebook_model": {"W", "b", "reported_test_accuracy"}}
    models = exercises()["activation_comparison"].probes["notebook_models"].descriptor(np.random.default_rng(0))
    assert probe_globals(models) == {"X_test", "y_test", "reported_accuracies", "models"}


def test_each_probe_runs_after_the_last_cell_binding_what_it_reads() -> None:
    ctx = _ctx("import torch", "def helper(X):\n    return X", DEF, "W, b = train_softmax(1, 2)",
               "print('training done')", "reported_test_accuracy = 0.8", "import torch\nprint(W.shape)")
    # the function probe right after its definition; the re-import of torch does not move it.
    # the globals' probe after the last cell touching W (printing it may change nothing, but
    # it is where the notebook last handles W)
    assert _after(ctx) == {"hidden_training": 2, "notebook_model": 6}


def test_a_later_rebinding_wins_also_of_a_helper_the_function_reads() -> None:
    ctx = _ctx("def helper(X):\n    return X", DEF, "W, b = train_softmax(1, 2)\nreported_test_accuracy = 1.0",
               "def helper(X):\n    return -X")
    assert _after(ctx) == {"hidden_training": 3, "notebook_model": 2}


def test_mutation_and_calls_through_functions_count() -> None:
    ctx = _ctx(DEF, "W, b = {}, 0\nreported_test_accuracy = 0.5", "W['x'] = 1", "def fill():\n    W.update(y=2)",
               "fill()", "def unrelated():\n    pass")
    assert _after(ctx)["notebook_model"] == 4


def test_dynamic_or_unseen_bindings_go_after_them_or_to_the_end() -> None:
    unseen = _ctx(DEF, "globals()['W'] = 1\nb = 0\nreported_test_accuracy = 0.5", "print(1)")
    assert _after(unseen) == {"hidden_training": 1, "notebook_model": None}
    nowhere = _ctx(DEF, "b = 0\nreported_test_accuracy = 0.5", "print(1)")  # W: a NameError wherever it is read
    assert _after(nowhere) == {"hidden_training": 0, "notebook_model": 1}
    star = _ctx(DEF, "W, b = train_softmax(1, 2)\nreported_test_accuracy = 0.5", "from helpers import *", "x = 1")
    assert _after(star) == {"hidden_training": 2, "notebook_model": 2}
    hidden_global = _ctx("def train_softmax(X, y):\n    global W\n    W = X\n    return X, X",
                         "b = 0\nreported_test_accuracy = 0.5", "train_softmax(1, 2)", "x = 1")
    assert _after(hidden_global)["notebook_model"] == 2


def test_tags_are_an_override_never_a_requirement() -> None:
    tagged = _ctx((DEF, "exercise:softmax_fashion_mnist"), "x = 1",
                  ("print('checked')", "exercise:softmax_fashion_mnist"),
                  "W, b = train_softmax(1, 2)\nreported_test_accuracy = 0.5")
    assert _after(tagged) == {"hidden_training": 2, "notebook_model": 3}


def test_figures_come_from_cells_using_the_exercise_and_untagged_from_its_definition_on() -> None:
    untagged = _ctx("import matplotlib.pyplot as plt", "plt.plot([1, 2])", DEF, "x = 1", "plt.plot([3, 4])")
    assert SOFTMAX.region(untagged) == [2, 3, 4]
    tagged = _ctx("import matplotlib.pyplot as plt", (DEF, "exercise:softmax_fashion_mnist"), "plt.plot([3, 4])",
                  "W, b = train_softmax(1, 2)\nplt.plot(W)")
    assert SOFTMAX.region(tagged) == [1, 3]
