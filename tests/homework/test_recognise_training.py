"""Without a kernel: the last minibatch of 3.4 (exercise 7) judged on the batch left after
a loop over the loader, and the deeper MLP of 5.2 (exercise 2) judged on the measured
models. The book's 3.4 and 5.2 cells answer neither."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from book import BOOK, section_cells
from nbfactory import notebook, write

from grader.homework.plan import analyse
from grader.homework.recognise import DeeperMLP, Evidence, LastBatch
from grader.homework.trained import MeasuredModel
from grader.homeworks.d2l_ch2_5 import HOMEWORK
from grader.notebook.load import Cell, read_notebook
from grader.notebook.static import analyse as static_analyse
from grader.notebook.static import parse_cell
from grader.values import ArrayValue

LAST = LastBatch("3.4-7", section="3.4", title="")
DEEP = DeeperMLP("5.2-2", section="5.2", title="")
LOOP = "data = d2l.SyntheticRegressionData(w=torch.tensor([2, -3.4]), b=4.2, batch_size=48)\n" \
       "for i, (X, y) in enumerate(data.train_dataloader()):\n    pass\nprint(i, X.shape)"


def codes(*sources: str) -> list:
    return [parse_cell(Cell(index=i, kind="code", source=s)) for i, s in enumerate(sources)]


def ev(values: dict | None = None, models: list | None = None) -> Evidence:
    return Evidence(values or {}, {}, [], models or [], [])


def batch(rows: int) -> ArrayValue:
    return ArrayValue(np.zeros((rows, 2), dtype=np.float32), "torch", "torch.float32")


def test_the_books_cells_answer_neither() -> None:
    assert LAST.find(codes(*BOOK["3.4"])) == []   # its loops over loaders are inside fit_epoch
    book = [MeasuredModel(0, 1, "MLP", 0, "MLP(Sequential(Flatten, Linear(784->256), ReLU, Linear(256->10)))",
                          True, True, accuracy=0.8, evidence="rebuilt")]
    attempts = DEEP.find(codes(*BOOK["5.2"]))
    assert attempts and {DEEP.measure(a, ev(models=book)).status for a in attempts} == {"none"}


def test_the_last_batch_holds_the_remainder() -> None:
    [attempt] = LAST.find(codes(LOOP))
    assert attempt.reads == ("i", "X", "y", "data.num_train", "data.batch_size")
    m = LAST.measure(attempt, ev({"X": batch(40), "data.num_train": 1000, "data.batch_size": 48}))
    assert (m.status, m.message) == ("correct", "the last batch has 40 examples (1000 = 20 x 48 + 40): the loader "
                                                "keeps the smaller last batch (no drop_last)")
    m = LAST.measure(attempt, ev({"X": batch(48), "data.num_train": 1000, "data.batch_size": 48}))
    assert m.status == "wrong" and m.message.startswith("the batch left after the loop has 48 examples, but the last")
    m = LAST.measure(attempt, ev({"X": batch(50), "data.num_train": 1000, "data.batch_size": 50}))
    assert (m.status, m.message) == ("attempted", "1000 = 20 x 50 + 0: this batch size divides the examples, so every "
                                                  "batch is full; pick one that does not to see what happens to the "
                                                  "last batch")
    # a loop that trains, or stops early, is no answer
    assert LAST.find(codes("for X, y in data.train_dataloader():\n    loss(X, y).backward()")) == []
    assert LAST.find(codes("for X, y in data.train_dataloader():\n    break")) == []
    [batch_loop] = LAST.find(codes("for b in data.get_dataloader(True):\n    pass"))
    assert LAST.measure(batch_loop, ev({"b": [batch(8), batch(8)], "data.num_train": 1000,
                                        "data.batch_size": 32})).status == "correct"


def test_a_deeper_mlp_is_measured() -> None:
    [attempt] = DEEP.find(codes("model = DeepMLP(lr=0.1)\ntrainer.fit(model, data)"))
    deep = MeasuredModel(0, 3, "DeepMLP", 0, "DeepMLP(Sequential(Flatten, Linear(784->256), ReLU, Linear(256->64), "
                                             "ReLU, Linear(64->10)))", True, True, accuracy=0.812, evidence="rebuilt")
    m = DEEP.measure(attempt, ev(models=[deep]))
    assert (m.status, m.message) == ("correct", "DeepMLP with 2 hidden layers (DeepMLP(Sequential(Flatten, "
                                                "Linear(784->256), ReLU, Linear(256->64), ReLU, Linear(64->10)))): test "
                                                "accuracy 0.812; compare it with the book's one hidden layer")
    untrained = MeasuredModel(0, 3, "DeepMLP", 0, deep.architecture, False, True)
    assert DEEP.measure(attempt, ev(models=[untrained])).status == "none"


def test_the_books_training_cells_keep_their_checkpoints(tmp_path: Path) -> None:
    # every training cell is a tentative 5.2-2 attempt until its models are seen: not an answer cell
    nb = read_notebook(write(notebook(section_cells("5.2")), tmp_path / "hw.ipynb"))
    plan = analyse(HOMEWORK, nb, static_analyse(nb.cells))
    assert {a.exercise for _, a in plan.attempts} >= {"5.2-2"}
    mine = [p for p in plan.checkpoints if p.checkpoint.section == "5.2"]
    assert len(mine) == 2 and [p.status for p in mine if p.status == "not_found"] == []


SCRATCH3 = ("class MLPScratch3(d2l.Classifier):\n    def __init__(self, num_inputs, num_outputs, h1, h2, lr, sigma=0.01):\n"
            "        super().__init__()\n        self.W1 = nn.Parameter(torch.randn(num_inputs, h1) * sigma)\n"
            "        self.b1 = nn.Parameter(torch.zeros(h1))\n        self.W2 = nn.Parameter(torch.randn(h1, h2) * sigma)\n"
            "        self.b2 = nn.Parameter(torch.zeros(h2))\n"
            "        self.W3 = torch.normal(0, sigma, (h2, num_outputs), requires_grad=True)")
DENSE = ("class Dense(nn.Module):\n    def __init__(self, n_in, n_out):\n        super().__init__()\n"
         "        self.weight = nn.Parameter(torch.empty((n_in, n_out)))\n        self.bias = nn.Parameter(torch.zeros(n_out))")


def test_hidden_layers_of_any_mlp() -> None:
    from grader.homework.recognise.training import hidden_layers

    cells = codes(SCRATCH3, DENSE, "model = ...")
    scratch = MeasuredModel(0, 1, "MLPScratch3", 2, "MLPScratch3", True, True, accuracy=0.8, evidence="rebuilt")
    custom = MeasuredModel(0, 2, "DeepNet", 2, "DeepNet(ModuleList(Dense, Dense, Dense))", True, True)
    lazy = MeasuredModel(0, 3, "Deep", 2, "Deep(Sequential(Flatten, Linear(1024->256), ReLU, Linear(256->128), ReLU, "
                                          "Linear(128->10)))", True, True)   # LazyLinear, once it ran
    book = MeasuredModel(0, 4, "MLPScratch", 2, "MLPScratch", True, True)
    assert [hidden_layers(m, cells) for m in (scratch, custom, lazy)] == [2, 2, 2]
    assert hidden_layers(book, codes(*BOOK["5.2"])) == 1 and hidden_layers(scratch) == 0  # no class, nothing counted
    # a class defined after the model's cell does not count for it
    assert hidden_layers(MeasuredModel(0, 5, "MLPScratch3", 0, "MLPScratch3", True, True), codes("x = 1", SCRATCH3)) == 0
    # matrices made where no code reading sees them (a loop, setattr): the measured ones count
    looped = MeasuredModel(0, 6, "LoopNet", 2, "LoopNet", True, True)
    assert hidden_layers(looped, cells) == 0
    looped.weights = [[784, 256], [256, 256], [256, 10]]
    assert hidden_layers(looped, cells) == 2
    [attempt] = DEEP.find(codes("deep = DeepNet()\nfor X, y in data.train_dataloader():\n    loss(X, y).backward()"))
    m = DEEP.measure(attempt, Evidence({}, {}, [], [scratch], cells))
    assert (m.status, m.message) == ("correct", ("MLPScratch3 with 2 hidden layers (MLPScratch3): test accuracy "
                                                 "0.800; compare it with the book's one hidden layer"))


def test_the_measured_matrices_are_2d_parameters_and_grad_tensors_in_order() -> None:
    from grader.homework.trained import trainable_matrices
    from grader.values import ArrayValue, ModuleValue

    def arr(*shape: int, grad: bool = False) -> ArrayValue:
        return ArrayValue(np.zeros(shape, dtype=np.float32), framework="torch", requires_grad=grad)

    module = ModuleValue(tree={"class": "Net"},
                         params={"W1": arr(784, 256, grad=True), "b1": arr(256, grad=True), "W2": arr(256, 10, grad=True)},
                         tensors={"W3": arr(10, 10, grad=True), "X": arr(4, 784), "conv": arr(8, 1, 3, 3, grad=True)})
    assert trainable_matrices(module) == [[784, 256], [256, 10], [10, 10]]  # data and 4-D kernels are not
