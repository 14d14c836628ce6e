"""Homework 1 of the course: the book's code of d2l chapters 2-5 (PyTorch, d2l 1.0.3),
a discussion per section, and exercises of the student's choice.

This module is data: the sections and their book-code fingerprints, the checkpoints the
book's code reaches (each verified by running the book's code, see
``tests/homework/test_book_checkpoints.py``), the exercises recognised from code, the
forwards of the book's from-scratch models, and the rubric. Copy it to declare another
homework; ``docs/HOMEWORK.md`` says how.
"""

from __future__ import annotations

import numpy as np

from grader.homework.checkpoints import (Call, Checkpoint, close, each, equal, figure_shows, frame_is, grad_close, images_shown, raises,
                           satisfies, shape_is, where)
from grader.homework.unit import Homework
from grader.homework.recognise import (AbaloneFractions, ActivationComparison, AxisSums, BackwardTwice, Broadcast3D,
                                       ChainRuleDerivative, ColumnsByName, CompareOperators, ControlFlowGrad,
                                       DeeperMLP, GradientShape, InitRuns, LastBatch, LenFirstAxis, NormManyAxes,
                                       OhmFit, PlanckFit, PReLUDerivative, RemoveSaveHyperparameters, RowNormalise,
                                       SinDerivative, Sweep, SwishDerivative, TransposeIdentity)
from grader.homework.rubric import ModelGoal, Rubric
from grader.homework.sections import SectionSpec

SECTIONS = (
    SectionSpec("2.1", "Data Manipulation", (
        "x = torch.arange(12, dtype=torch.float32)", "x.numel()", "torch.zeros((2, 3, 4))", "X[:2, :] = 12",
        "torch.exp(x)", "torch.cat((X, Y), dim=0)", "Z = torch.zeros_like(Y)", "B = torch.from_numpy(A)",
        "a.item()"), aliases=("Tensors", "ndarray")),
    SectionSpec("2.2", "Data Preprocessing", (
        "house_tiny.csv", "pd.get_dummies(inputs, dummy_na=True)", "inputs.fillna(inputs.mean())",
        "data.iloc[:, 0:2]", "inputs.to_numpy(dtype=float)")),
    SectionSpec("2.3", "Linear Algebra", (
        "x = torch.tensor(3.0)", "A.sum(axis=0)", "sum_A = A.sum(axis=1, keepdims=True)", "A.cumsum(axis=0)",
        "torch.mv(A, x)", "torch.mm(A, B)", "u = torch.tensor([3.0, -4.0])", "torch.norm(torch.ones((4, 9)))",
        "B = A.clone()")),
    SectionSpec("2.5", "Automatic Differentiation", (
        "x = torch.arange(4.0)", "y = 2 * torch.dot(x, x)", "x.grad == 4 * x", "u = y.detach()",
        "while b.norm() < 1000", "a.grad == d / a", "y.backward(gradient=torch.ones(len(y)))"),
        aliases=("Autograd", "Automatic Differentiation with autograd")),
    SectionSpec("3.1", "Linear Regression", (
        "c[i] = a[i] + b[i]", "def normal(x, mu, sigma)", "params = [(0, 1), (0, 2), (3, 1)]",
        "x = np.arange(-7, 7, 0.01)")),
    SectionSpec("3.2", "Object-Oriented Design for Implementation", (
        "def add_to_class(Class)", "a.do()", "class B(d2l.HyperParameters)", "B(a=1, b=2, c=3)",
        "board = d2l.ProgressBoard('x')", "class Module(nn.Module, d2l.HyperParameters)",
        "class DataModule(d2l.HyperParameters)", "class Trainer(d2l.HyperParameters)"),
        aliases=("Object-Oriented Design", "OOP Design")),
    SectionSpec("3.4", "Linear Regression Implementation from Scratch", (
        "class LinearRegressionScratch(d2l.Module)", "@d2l.add_to_class(LinearRegressionScratch)",
        "class SGD(d2l.HyperParameters)", "SGD([self.w, self.b], self.lr)", "@d2l.add_to_class(d2l.Trainer)",
        "LinearRegressionScratch(2, lr=0.03)", "d2l.SyntheticRegressionData(w=torch.tensor([2, -3.4]), b=4.2)",
        "f'error in estimating w: {data.w - model.w.reshape(data.w.shape)}'"),
        aliases=("Linear Regression from Scratch",)),
    SectionSpec("4.1", "Softmax Regression", has_code=False),
    SectionSpec("4.2", "The Image Classification Dataset", (
        "class FashionMNIST(d2l.DataModule)", "FashionMNIST(resize=(32, 32))", "data.train[0][0].shape",
        "def text_labels(self, indices)", "X, y = next(iter(data.train_dataloader()))",
        "for X, y in data.train_dataloader()", "def visualize(self, batch, nrows=1, ncols=8, labels=[])"),
        aliases=("Image Classification Dataset", "Fashion-MNIST")),
    SectionSpec("4.3", "The Base Classification Model", (
        "class Classifier(d2l.Module)", "@d2l.add_to_class(d2l.Module)",
        "def accuracy(self, Y_hat, Y, averaged=True)", "compare = (preds == Y.reshape(-1)).type(torch.float32)"),
        aliases=("Base Classification Model", "Classification Model")),
    SectionSpec("4.4", "Softmax Regression Implementation from Scratch", (
        "X.sum(0, keepdims=True)", "partition = X_exp.sum(1, keepdims=True)",
        "class SoftmaxRegressionScratch(d2l.Classifier)", "y_hat[[0, 1], y]", "def cross_entropy(y_hat, y)",
        "SoftmaxRegressionScratch(num_inputs=784, num_outputs=10, lr=0.1)", "wrong = preds.type(y.dtype) != y"),
        aliases=("Softmax Regression from Scratch",)),
    SectionSpec("5.1", "Multilayer Perceptrons", (
        "x = torch.arange(-8.0, 8.0, 0.1, requires_grad=True)", "y = torch.relu(x)", "'grad of relu'",
        "'sigmoid(x)'", "'grad of sigmoid'", "'tanh(x)'", "'grad of tanh'"), aliases=("MLP",)),
    SectionSpec("5.2", "Implementation of Multilayer Perceptrons", (
        "class MLPScratch(d2l.Classifier)", "self.W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)",
        "H = relu(torch.matmul(X, self.W1) + self.b1)", "class MLP(d2l.Classifier)",
        "nn.Sequential(nn.Flatten(), nn.LazyLinear(num_hiddens), nn.ReLU(), nn.LazyLinear(num_outputs))",
        "MLP(num_outputs=10, num_hiddens=256, lr=0.1)"),
        aliases=("Implementation of MLP", "MLP Implementation", "Implementation of Multilayer Perceptron")),
    SectionSpec("5.3", "Forward Propagation, Backward Propagation, and Computational Graphs", has_code=False,
                aliases=("Forward Propagation, Backward Propagation", "Forward and Backward Propagation",
                         "Backpropagation")),
)

# Grader-chosen inputs for the checkpoints that call the notebook's functions.
SCORES = np.array([[0.2, 1.5, -0.3], [2.0, 0.1, 0.4], [-1.0, -0.5, 3.0], [0.0, 2.2, 2.1]], dtype=np.float32)
LABELS = np.array([1, 0, 1, 2], dtype=np.int64)
LOGITS = np.array([[1.0, 2.0, 0.5, -1.0, 0.0], [-2.0, 0.3, 0.3, 4.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
BOOK_Y_HAT = np.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]], dtype=np.float32)
BOOK_LABELS = np.array([0, 2], dtype=np.int64)
# torch.exp(x) in 2.1 runs after X[:2, :] = 12 changed x through the shared storage of X = x.reshape(3, 4).
EXP_AFTER_MUTATION = np.exp(np.array([12.0] * 8 + [8.0, 9.0, 10.0, 11.0]))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _normal(mu: float, sigma: float):  # type: ignore[no-untyped-def]
    return lambda x: np.exp(-0.5 * (x - mu) ** 2 / sigma ** 2) / np.sqrt(2 * np.pi * sigma ** 2)


CHECKPOINTS = (
    # 2.1
    Checkpoint("2.1", "x is arange(12), 12 elements", "x.numel()", equal(np.arange(12.0)), reads=("x",)),
    Checkpoint("2.1", "torch.exp(x) shows 162754.7969 eight times (x changed through X)", "torch.exp(x)",
               close(EXP_AFTER_MUTATION, where("torch.exp(x)", np.exp), rtol=1e-5), reads=("x",)),
    Checkpoint("2.1", "X.sum() is 66", "X.sum()", close(66.0, where("X.sum()", np.sum)), reads=("X",)),
    Checkpoint("2.1", "a + b broadcasts to [[0, 1], [1, 2], [2, 3]]", "a + b",
               equal([[0, 1], [1, 2], [2, 3]], where("a + b", np.add)), reads=("a", "b")),
    Checkpoint("2.1", "a is tensor([3.5])", "a.item()", close([3.5]), reads=("a",)),
    # 2.2
    Checkpoint("2.2", "house_tiny.csv reads as 4 rows of NumRooms, RoofType, Price", "data = pd.read_csv(data_file)",
               frame_is(["NumRooms", "RoofType", "Price"], 4, {"Price": [127500, 106000, 178100, 140000]}),
               reads=("data",)),
    Checkpoint("2.2", "missing NumRooms filled with the mean 3.0", "inputs = inputs.fillna(inputs.mean())",
               frame_is(["NumRooms", "RoofType_Slate", "RoofType_nan"], 4, {"NumRooms": [3.0, 2.0, 4.0, 3.0]}),
               reads=("inputs",)),
    Checkpoint("2.2", "X and y as tensors", "y = torch.tensor(targets.to_numpy(dtype=float))",
               each(equal([[3.0, 0, 1], [2, 0, 1], [4, 1, 0], [3, 0, 1]]), equal([127500.0, 106000, 178100, 140000])),
               reads=("X", "y")),
    # 2.3
    Checkpoint("2.3", "A / sum_A normalises the rows", "A / sum_A",
               close([[0, 1 / 3, 2 / 3], [0.25, 1 / 3, 5 / 12]], where("A / sum_A", np.divide)), reads=("A", "sum_A")),
    Checkpoint("2.3", "x . y is 3", "torch.dot(x, y)", close(3.0, where("torch.dot(x, y)", np.dot)), reads=("x", "y")),
    Checkpoint("2.3", "torch.mv(A, x) is [5, 14]", "torch.mv(A, x)", close([5.0, 14.0], where("A @ x", np.matmul)),
               reads=("A", "x")),
    Checkpoint("2.3", "the norm of u is 5", "torch.norm(u)", close(5.0, where("norm(u)", np.linalg.norm)), reads=("u",)),
    Checkpoint("2.3", "the L1 norm of u is 7", "torch.abs(u).sum()",
               close(7.0, where("|u|.sum()", lambda u: np.abs(u).sum())), reads=("u",)),
    # 2.5
    Checkpoint("2.5", "y = 2 x . x is 28", "y = 2 * torch.dot(x, x)", close(28.0), reads=("y",)),
    Checkpoint("2.5", "the gradient of 2 x . x is [0, 4, 8, 12]", "x.grad == 4 * x", grad_close([0.0, 4, 8, 12]),
               reads=("x",)),
    Checkpoint("2.5", "the gradient of x.sum() is all ones", "y = x.sum()", grad_close([1.0, 1, 1, 1]), reads=("x",),
               then=("y.backward()",)),
    Checkpoint("2.5", "the gradient of x * x (summed) is [0, 2, 4, 6]", "y.backward(gradient=torch.ones(len(y)))",
               grad_close([0.0, 2, 4, 6]), reads=("x",)),
    Checkpoint("2.5", "through the control flow, a.grad equals d / a", "a.grad == d / a",
               satisfies(lambda a, d: a.grad is not None and np.allclose(a.grad.array, d.array / a.array, rtol=1e-5),
                         "a.grad equals d / a"), reads=("a", "d")),
    # 3.1
    Checkpoint("3.1", "the loop adds a and b: c is all 2", "c[i] = a[i] + b[i]", equal(np.full(10000, 2.0)),
               reads=("c",)),
    Checkpoint("3.1", "the vectorised d = a + b is all 2", "d = a + b", equal(np.full(10000, 2.0)), reads=("d",)),
    Checkpoint("3.1", "the figure shows the three normal densities", "params = [(0, 1), (0, 2), (3, 1)]",
               figure_shows(("N(0, 1)", _normal(0, 1)), ("N(0, 2)", _normal(0, 2)), ("N(3, 1)", _normal(3, 1)),
                            atol=1e-6), figures=True, then=("for mu, sigma in params",)),
    # 3.2
    Checkpoint("3.2", "the method added to A prints b = 1", "a.do()", equal(1), reads=("a.b",)),
    Checkpoint("3.2", "B keeps a and b, not the ignored c", "b = B(a=1, b=2, c=3)",
               each(equal(1), equal(2), raises("AttributeError")), reads=("b.a", "b.b", "b.c")),
    Checkpoint("3.2", "the progress board draws sin and cos", "board = d2l.ProgressBoard('x')",
               figure_shows(("sin", np.sin), ("cos", np.cos), atol=0.05), figures=True,
               then=("board.draw(x, np.sin(x), 'sin', every_n=2)",)),
    # 3.4
    Checkpoint("3.4", "after 3 epochs w and b are within 0.5 of [2, -3.4] and 4.2", "trainer.fit(model, data)",
               satisfies(lambda model, w, b: np.all(np.abs(model.tensors["w"].array.ravel() - w.array) < 0.5)
                         and abs(float(model.tensors["b"].array.ravel()[0]) - float(b)) < 0.5,
                         "w and b are within 0.5 of the true values"), reads=("model", "data.w", "data.b")),
    # 4.2
    Checkpoint("4.2", "a training batch is 64 images of 1 x 32 x 32 and 64 labels",
               "X, y = next(iter(data.train_dataloader()))",
               each(shape_is((64, 1, 32, 32), "float32"), shape_is((64,), "int64")), reads=("X", "y")),
    Checkpoint("4.2", "visualize shows 8 images", "data.visualize(batch)", images_shown(8), figures=True),
    # 4.3
    Checkpoint("4.3", "accuracy() on the grader's scores", "def accuracy(self, Y_hat, Y, averaged=True)",
               close(float(np.mean(SCORES.argmax(1) == LABELS))),
               call=Call("Classifier.accuracy", (None, SCORES, LABELS))),
    # 4.4
    Checkpoint("4.4", "X.sum(0) is [[5, 7, 9]]", "X.sum(0, keepdims=True)",
               equal([[5.0, 7, 9]], where("X.sum(0, keepdims=True)", lambda X: X.sum(0, keepdims=True))), reads=("X",)),
    Checkpoint("4.4", "softmax() on the grader's logits", "def softmax(X)", close(_softmax(LOGITS), rtol=1e-4),
               call=Call("softmax", (LOGITS,))),
    Checkpoint("4.4", "y_hat[[0, 1], y] picks [0.1, 0.5]", "y_hat[[0, 1], y]",
               close([0.1, 0.5], where("y_hat[[0, 1], y]", lambda yh, y: yh[[0, 1], y.astype(int)])),
               reads=("y_hat", "y")),
    Checkpoint("4.4", "cross_entropy on the book's example is 1.4979", "def cross_entropy(y_hat, y)",
               close(1.4979, rtol=1e-4), call=Call("cross_entropy", (BOOK_Y_HAT, BOOK_LABELS))),
    Checkpoint("4.4", "predictions for a validation batch of 256", "preds = model(X).argmax(axis=1)",
               shape_is((256,)), reads=("preds",)),
    # 5.1
    Checkpoint("5.1", "the plot of relu", "y = torch.relu(x)", figure_shows(("relu", lambda x: np.maximum(x, 0))),
               figures=True, then=("'relu(x)'",)),
    Checkpoint("5.1", "the gradient of relu is a step", "'grad of relu'",
               figure_shows(("grad of relu", lambda x: (x > 0).astype(float))), figures=True),
    Checkpoint("5.1", "the plot of sigmoid", "'sigmoid(x)'", figure_shows(("sigmoid", _sigmoid)), figures=True),
    Checkpoint("5.1", "the gradient of sigmoid", "'grad of sigmoid'",
               figure_shows(("grad of sigmoid", lambda x: _sigmoid(x) * (1 - _sigmoid(x)))), figures=True),
    Checkpoint("5.1", "the plot of tanh", "'tanh(x)'", figure_shows(("tanh", np.tanh)), figures=True),
    Checkpoint("5.1", "the gradient of tanh", "'grad of tanh'",
               figure_shows(("grad of tanh", lambda x: 1 - np.tanh(x) ** 2)), figures=True),
    # 5.2
    Checkpoint("5.2", "relu() on the grader's inputs", "def relu(X)", close(np.maximum(LOGITS, 0)),
               call=Call("relu", (LOGITS,))),
    Checkpoint("5.2", "MLPScratch has W1 of 784 x 256", "MLPScratch(num_inputs=784, num_outputs=10, num_hiddens=256, lr=0.1)",
               shape_is((784, 256)), reads=("model.W1",)),
)

EXERCISES = (
    CompareOperators("2.1-1", section="2.1", title="other comparison operators on X and Y"),
    Broadcast3D("2.1-2", section="2.1", title="broadcasting with 3-D tensors"),
    AbaloneFractions("2.2-1", section="2.2", title="Abalone: missing values and variable types"),
    ColumnsByName("2.2-2", section="2.2", title="columns selected by name rather than by position"),
    TransposeIdentity("2.3-1", section="2.3", title="the transpose of the transpose is A", kind="twice"),
    TransposeIdentity("2.3-2", section="2.3", title="the sum of transposes is the transpose of the sum", kind="sum"),
    TransposeIdentity("2.3-3", section="2.3", title="A + A^T is symmetric", kind="symmetric"),
    LenFirstAxis("2.3-4", section="2.3", title="len of a (2, 3, 4) tensor", min_axes=3),
    LenFirstAxis("2.3-5", section="2.3", title="which axis len gives, for tensors of any shape", min_axes=2, shapes=2),
    RowNormalise("2.3-6", section="2.3", title="A / A.sum(axis=1): what happens and why"),
    AxisSums("2.3-8", section="2.3", title="shapes of the sums of a 3-D tensor along axes 0, 1 and 2"),
    NormManyAxes("2.3-9", section="2.3", title="linalg.norm of a tensor with three or more axes"),
    BackwardTwice("2.5-2", section="2.5", title="backward run twice on one graph"),
    ControlFlowGrad("2.5-3", section="2.5", title="the control-flow function on a random vector or matrix"),
    SinDerivative("2.5-4", section="2.5", title="plot sin and its derivative by autograd"),
    ChainRuleDerivative("2.5-6", section="2.5", title="the chain rule for log(x^2) sin x + 1/x, checked by autograd"),
    RemoveSaveHyperparameters("3.2-2", section="3.2", title="B without save_hyperparameters"),
    InitRuns("3.4-1", section="3.4", title="zero or variance-1000 initialisation"),
    OhmFit("3.4-2", section="3.4", title="a resistance learnt with autograd (Ohm)"),
    PlanckFit("3.4-3", section="3.4", title="a temperature fitted with Planck's law"),
    LastBatch("3.4-7", section="3.4", title="the last minibatch when the batch size does not divide the examples"),
    PReLUDerivative("5.1-2", section="5.1", title="the derivative of pReLU"),
    SwishDerivative("5.1-3", section="5.1", title="the derivative of Swish"),
    ActivationComparison("5.1-act", section="5.1", title="activation functions compared by training"),
    Sweep("5.2-1", section="5.2", title="hidden units swept", parameter="num_hiddens"),
    DeeperMLP("5.2-2", section="5.2", title="an MLP with an extra hidden layer"),
    Sweep("5.2-4", section="5.2", title="learning rates swept", parameter="lr"),
    GradientShape("5.3-1", section="5.3", title="the shape of the gradient with respect to a matrix"),
)

# The forwards of the book's from-scratch classifiers and the helpers they call: a
# notebook class defined exactly so is rebuilt from its parameters in the grader.
BOOK_FORWARDS = {
    "SoftmaxRegressionScratch": (
        "def forward(self, X):\n    X = X.reshape((-1, self.W.shape[0]))\n"
        "    return softmax(torch.matmul(X, self.W) + self.b)\n"
        "def softmax(X):\n    X_exp = torch.exp(X)\n    partition = X_exp.sum(1, keepdims=True)\n"
        "    return X_exp / partition\n"),
    "MLPScratch": (
        "def forward(self, X):\n    X = X.reshape((-1, self.num_inputs))\n"
        "    H = relu(torch.matmul(X, self.W1) + self.b1)\n    return torch.matmul(H, self.W2) + self.b2\n"
        "def relu(X):\n    a = torch.zeros_like(X)\n    return torch.max(X, a)\n"),
}

RUBRIC = Rubric(
    present=1, ran=2, checkpoints=2, discussion=1, discussion_min_chars=40,
    exercises=14, exercise_each=3.5, attempted_share=0.4,
    models=(
        # One epoch of the grading budget already gives 0.70-0.80; an untrained or broken model scores ~0.10.
        ModelGoal("4.4", "softmax regression of 4.4", 4, 0.6, ("SoftmaxRegressionScratch", "SoftmaxRegression")),
        ModelGoal("5.2", "MLP from scratch of 5.2", 3, 0.6, ("MLPScratch",)),
        ModelGoal("5.2", "concise MLP of 5.2", 3, 0.6, ("MLP",)),
    ),
)

HOMEWORK = Homework(
    "d2l-ch2-5", title="Homework 1: d2l chapters 2-5", section="2-5",
    summary="sections found by content, book code re-run with checkpoints, discussions, exercises from code, "
            "every trained model measured",
    sections=SECTIONS, checkpoints=CHECKPOINTS, exercises=EXERCISES, rubric=RUBRIC, book_forwards=BOOK_FORWARDS,
    # Injected after a cell tagged `parameters` (the reference solution has one): short trainings.
    budget={"max_epochs": 1},
    # Real notebooks train 10 epochs per model, sweeps several models in one cell. Threads as
    # for any notebook: the cores for one grade, divided in a batch (the kernels' short OpenMP
    # spin keeps two threads from stalling when another process holds a core).
    limits={"cell_timeout": 900.0, "total_timeout": 2400.0},
)
