"""A robustness sweep of every exercise recogniser, graded in the sandboxed kernel.

Real students answer one exercise in many styles: inside ``print(...)`` or an f-string,
in a helper function called later, split over several cells, with their own variable
names, with numpy, with the result written in markdown after computing it, sweeps as
loops or as separate cells, models as ``nn.Sequential``, as classes, with ``LazyLinear``,
custom layers or a ``ModuleList``. Each recogniser gets at least three such styles of a
correct answer (which a teaching assistant would credit) and at least one plausible
non-answer (the book's own code, or an unrelated computation in the same section) that
must not be credited.

Every style is one notebook holding one variant of each exercise (an exercise's status
is the best of its attempts, so two variants of one exercise in one notebook would hide
each other); each notebook costs one kernel. Trainings are short loops or one epoch
(the homework's injected budget). Our own answers, written for these tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nbformat
import pytest
from book import BOOK, PARAMETERS, heading
from nbfactory import code, md, notebook, write

from grader.config import Options
from grader.pipeline import grade

pytestmark = pytest.mark.kernel
HW = "d2l-ch2-5"
CORRECT, ABSENT, NOT_CORRECT = "correct", "absent", "not correct"


@dataclass(frozen=True)
class Variant:
    """One way of answering (or of not answering) an exercise: cells added to its section."""

    exercise: str
    notebook: str
    label: str
    cells: tuple[Any, ...]   # code sources (str) or markdown cells (nbformat nodes)
    expect: str = CORRECT    # correct | absent (not recognised) | not correct (absent, wrong or attempted)


def V(exercise: str, nb: str, label: str, *cells: Any, expect: str = CORRECT) -> Variant:
    return Variant(exercise, nb, label, cells, expect)


SECTION = {"2.1-1": "2.1", "2.1-2": "2.1", "2.2-1": "2.2", "2.2-2": "2.2", "2.3-1": "2.3", "2.3-2": "2.3",
           "2.3-3": "2.3", "2.3-4": "2.3", "2.3-5": "2.3", "2.3-6": "2.3", "2.3-8": "2.3", "2.3-9": "2.3",
           "2.5-2": "2.5", "2.5-3": "2.5", "2.5-4": "2.5", "2.5-6": "2.5", "3.2-2": "3.2", "3.4-1": "3.4",
           "3.4-2": "3.4", "3.4-3": "3.4", "3.4-7": "3.4", "5.1-2": "5.1", "5.1-3": "5.1", "5.1-act": "5.1",
           "5.2-1": "5.2", "5.2-2": "5.2", "5.2-4": "5.2", "5.3-1": "5.3"}

ABALONE_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/abalone/abalone.data"
SHORT_TRAIN = ("def train_short(net, steps=40, lr=0.1):\n"
               "    loader = d2l.FashionMNIST(batch_size=256).train_dataloader()\n"
               "    opt = torch.optim.SGD(net.parameters(), lr=lr)\n"
               "    for i, (X, y) in enumerate(loader):\n"
               "        loss = nn.functional.cross_entropy(net(X), y)\n"
               "        opt.zero_grad()\n        loss.backward()\n        opt.step()\n"
               "        if i == steps:\n            break\n    return net")

VARIANTS: list[Variant] = [
    # -- 2.1-1: X < Y, X > Y --------------------------------------------------------------------
    V("2.1-1", "print", "inside print and an f-string", "print(X < Y)\nprint(f'X > Y:\\n{X > Y}')"),
    V("2.1-1", "helper", "a helper returning both, called in the next cell",
      "def compare(a, b):\n    return {'<': a < b, '>': a > b}", "result = compare(X, Y)\nresult['<']"),
    V("2.1-1", "split", "assigned, torch.gt, over two cells", "less = X < Y", "greater = torch.gt(X, Y)\nless, greater"),
    V("2.1-1", "none", "a comparison with a number, used as a mask", "mask = X > 10\nX[mask]", expect=ABSENT),
    # -- 2.1-2: broadcasting with 3-D tensors -----------------------------------------------------
    V("2.1-2", "print", "a sum of 3-D tensors inside an f-string",
      "a3 = torch.arange(6).reshape(3, 1, 2)\nb3 = torch.arange(4).reshape(1, 2, 2)\nprint(f'shape: {(a3 + b3).shape}')"),
    V("2.1-2", "helper", "a helper with try/except over shape pairs",
      "def try_broadcast(s1, s2):\n    try:\n        return (torch.ones(s1) + torch.ones(s2)).shape\n"
      "    except RuntimeError as e:\n        return str(e)",
      "for s1, s2 in [((2, 3, 1), (1, 3, 4)), ((2, 3, 4), (3, 2, 1))]:\n    print(s1, s2, try_broadcast(s1, s2))"),
    V("2.1-2", "split", "numpy arrays", "import numpy as np\nA3 = np.ones((2, 1, 4))\nB3 = np.arange(12).reshape(3, 4)",
      "C3 = A3 * B3\nC3.shape"),
    V("2.1-2", "none", "3-D tensors of the same shape", "Z3 = torch.zeros((2, 3, 4))\nZ3 + Z3", expect=ABSENT),
    # -- 2.2-1: Abalone ---------------------------------------------------------------------------
    V("2.2-1", "print", "ucimlrepo, shares printed",
      "from ucimlrepo import fetch_ucirepo\nabalone = fetch_ucirepo(id=1)\nX_ab = abalone.data.features\n"
      "print(f'missing: {X_ab.isna().mean().mean():.2%}')\nn_num = X_ab.select_dtypes(include='number').shape[1]\n"
      "print(f'numerical share: {n_num / X_ab.shape[1]:.1%}')"),
    V("2.2-1", "helper", "a helper computing the numerical share",
      "def numeric_share(df):\n    return df.select_dtypes(include='number').shape[1] / df.shape[1]",
      f"ab = pd.read_csv('{ABALONE_URL}', header=None)\nshare = numeric_share(ab)\nshare"),
    V("2.2-1", "split", "counted in code, shares written in markdown",
      f"abalone_df = pd.read_csv('{ABALONE_URL}', header=None)\n"
      "abalone_df.isnull().sum().sum(), abalone_df.dtypes.value_counts()",
      md("No value is missing (0 %). Eight of the nine columns are numerical (88.9 %), one is categorical "
         "(11.1 %).")),
    V("2.2-1", "none", "Abalone loaded and shown, no share",
      f"abalone_raw = pd.read_csv('{ABALONE_URL}', header=None)\nabalone_raw.head()", expect=NOT_CORRECT),
    # -- 2.2-2: columns by name -------------------------------------------------------------------
    V("2.2-2", "print", "a list of names inside print", "print(data[['NumRooms', 'Price']])"),
    V("2.2-2", "helper", "the names in a variable", "cols = ['NumRooms', 'RoofType']\nsubset = data[cols]\nsubset"),
    V("2.2-2", "split", "loc by name, used in the next cell", "prices = data.loc[:, 'Price']", "prices.mean()"),
    V("2.2-2", "none", "a dict indexed by a string", "settings = {'lr': 0.1}\nsettings['lr']", expect=ABSENT),
    # -- 2.3-1..3: transpose identities -----------------------------------------------------------
    V("2.3-1", "print", "torch.equal inside print",
      "M = torch.arange(6.).reshape(2, 3)\nN = torch.ones(2, 3)\nprint('1:', torch.equal(M.T.T, M))"),
    V("2.3-2", "print", "an f-string with .all()", "print(f'2: {(M.T + N.T == (M + N).T).all()}')"),
    V("2.3-3", "print", "torch.equal inside print", "S = torch.randn(3, 3)\nprint('3:', torch.equal(S + S.T, (S + S.T).T))"),
    V("2.3-1", "helper", "a helper defined in one cell, called in the next",
      "def transpose_checks(P, Q):\n    return torch.equal(P.t().t(), P), torch.equal(P.t() + Q.t(), (P + Q).t())\n\n"
      "def is_symmetric(M):\n    return bool((M == M.T).all())",
      "P = torch.randn(3, 4)\nQ = torch.randn(3, 4)\nprint(transpose_checks(P, Q))\nsq = torch.randn(4, 4)\n"
      "print(is_symmetric(sq + sq.T))"),
    V("2.3-2", "helper", "the same helper"),
    V("2.3-3", "helper", "the same helper"),
    V("2.3-1", "split", "named intermediate results", "AT = A.T\nATT = AT.T\nprint(ATT == A)"),
    V("2.3-2", "split", "named sides, over two cells", "B2 = torch.ones(2, 3)\nlhs = A.T + B2.T\nrhs = (A + B2).T",
      "torch.equal(lhs, rhs)"),
    V("2.3-3", "split", "the sum named, compared in the next cell", "C4 = torch.randn(4, 4)\nsym = C4 + C4.T",
      "sym.T == sym"),
    V("2.3-1", "none", "the book's A == A.T on another matrix", "A2 = torch.tensor([[1, 2], [2, 1]])\nA2 == A2.T",
      expect=ABSENT),
    V("2.3-3", "none", "the same cell", expect=ABSENT),
    V("2.3-2", "none", "the transpose of a sum, never compared", "E2 = torch.ones(2, 2)\nsum_t = (A2 + E2).T\nsum_t",
      expect=ABSENT),
    # -- 2.3-4, 2.3-5: len ------------------------------------------------------------------------
    V("2.3-4", "print", "inside f-strings", "T = torch.zeros(2, 3, 4)\nprint(f'len(T) = {len(T)}')\n"
      "print(f'len of a 5x2 matrix: {len(torch.ones(5, 2))}')"),
    V("2.3-5", "print", "the same cell"),
    V("2.3-4", "helper", "a helper over a loop of shapes", "def first_axis(t):\n    return len(t)",
      "for shape in [(2, 3, 4), (4, 1), (3, 5, 2, 1)]:\n    print(shape, first_axis(torch.zeros(shape)))"),
    V("2.3-5", "helper", "the same helper"),
    V("2.3-4", "split", "separate cells", "len(X)", "Z = torch.ones(6, 2)\nlen(Z)"),
    V("2.3-5", "split", "the same cells"),
    V("2.3-4", "none", "len of a vector", "v3 = torch.arange(5)\nlen(v3)", expect=ABSENT),
    V("2.3-5", "none", "the same cell", expect=ABSENT),
    # -- 2.3-6: A / A.sum(axis=1) -----------------------------------------------------------------
    V("2.3-6", "print", "inside print in try/except",
      "try:\n    print(A / A.sum(axis=1))\nexcept RuntimeError as e:\n    print('error:', e)"),
    V("2.3-6", "helper", "a helper on a square matrix", "def normalise_rows(Mat):\n    return Mat / Mat.sum(axis=1)",
      "Sq = torch.arange(9.).reshape(3, 3)\nnormalise_rows(Sq)"),
    V("2.3-6", "split", "numpy, the row sums named", "import numpy as np\nAn = np.arange(6).reshape(2, 3)\n"
      "row_sums = An.sum(axis=1)", "An / row_sums"),
    V("2.3-6", "none", "row sums kept as a column (the book)", "kept = A.sum(axis=1, keepdims=True)\nA / kept",
      expect=ABSENT),
    # -- 2.3-8: sums along axes -------------------------------------------------------------------
    V("2.3-8", "print", "a loop printing shapes", "for axis in range(3):\n    print(f'axis {axis}:', X.sum(axis=axis).shape)"),
    V("2.3-8", "helper", "a helper in a list comprehension", "def summed_shape(t, k):\n    return t.sum(dim=k).shape",
      "[summed_shape(torch.ones(2, 3, 4), k) for k in (0, 1, 2)]"),
    V("2.3-8", "split", "one cell per axis", "X.sum(axis=0).shape", "X.sum(axis=1).shape", "torch.sum(X, dim=2).shape"),
    V("2.3-8", "none", "sums of a matrix", "A.sum(axis=0), A.sum(axis=1)", expect=ABSENT),
    # -- 2.3-9: norms -----------------------------------------------------------------------------
    V("2.3-9", "print", "inside an f-string", "print(f'{torch.linalg.norm(torch.ones(2, 3, 4)):.4f}')"),
    V("2.3-9", "helper", "a helper", "def frob(t):\n    return torch.norm(t)", "frob(X.float())"),
    V("2.3-9", "split", "the method, on a tensor of four axes", "X4 = torch.randn(2, 2, 3, 2)", "X4.norm()"),
    V("2.3-9", "none", "the norm of a matrix", "torch.linalg.norm(torch.ones(3, 3))", expect=ABSENT),
    # -- 2.5-2: backward twice --------------------------------------------------------------------
    V("2.5-2", "print", "try/except printing the error",
      "z2 = (x * x).sum()\nz2.backward()\ntry:\n    z2.backward()\nexcept RuntimeError as err:\n"
      "    print('second backward:', err)"),
    V("2.5-2", "helper", "a helper running it twice",
      "def grad_twice(v):\n    out = (v ** 3).sum()\n    out.backward()\n    out.backward()\n    return v.grad",
      "grad_twice(torch.ones(3, requires_grad=True))"),
    V("2.5-2", "split", "the second backward in its own cell",
      "w = torch.tensor([1.0, 2.0], requires_grad=True)\nloss = (w ** 2).sum()\nloss.backward()", "loss.backward()"),
    V("2.5-2", "none", "twice with retain_graph",
      "q = torch.ones(2, requires_grad=True)\nr = (q * 3).sum()\nr.backward(retain_graph=True)\nr.backward()\nq.grad",
      expect=ABSENT),
    # -- 2.5-3: the control-flow function on a vector or matrix -------------------------------------
    V("2.5-3", "print", "a vector, the check printed",
      "a = torch.randn(size=(3,), requires_grad=True)\nd = f(a)\nd.sum().backward()\nprint(a.grad == d / a)"),
    V("2.5-3", "split", "a matrix, backward in the next cell", "a2 = torch.randn(2, 3, requires_grad=True)\nd2 = f(a2)",
      "d2.backward(torch.ones_like(d2))\na2.grad"),
    V("2.5-3", "helper", "the plain backward raising, caught",
      "vec = torch.randn(4, requires_grad=True)\nout = f(vec)\ntry:\n    out.backward()\nexcept RuntimeError as e:\n"
      "    print(e)"),
    V("2.5-3", "none", "a scalar again (the book)", "a0 = torch.randn(size=(), requires_grad=True)\nd0 = f(a0)\n"
      "d0.backward()\na0.grad == d0 / a0", expect=ABSENT),
    # -- 2.5-4: sin and its derivative ------------------------------------------------------------
    V("2.5-4", "print", "backward with a gradient argument, plt in the same cell",
      "import matplotlib.pyplot as plt\nx_s = torch.arange(-6.0, 6.0, 0.1)\nx_s.requires_grad_(True)\n"
      "y_s = torch.sin(x_s)\ny_s.backward(torch.ones_like(x_s))\nplt.plot(x_s.detach(), y_s.detach(), label='sin')\n"
      "plt.plot(x_s.detach(), x_s.grad, label='d sin / dx')\nplt.legend()\nplt.show()"),
    V("2.5-4", "split", "computed in one cell, plotted in the next",
      "xs = torch.linspace(-5, 5, 101, requires_grad=True)\nys = torch.sin(xs)\nys.sum().backward()",
      "import matplotlib.pyplot as plt\nplt.plot(xs.detach(), ys.detach(), label='sin(x)')\n"
      "plt.plot(xs.detach(), xs.grad, '--', label='autograd')\nplt.legend()\nplt.show()"),
    V("2.5-4", "helper", "torch.autograd.grad into a tuple",
      "import matplotlib.pyplot as plt\nt = torch.linspace(0, 2 * torch.pi, 50, requires_grad=True)\n"
      "(dt,) = torch.autograd.grad(torch.sin(t).sum(), t)\nplt.plot(t.detach(), torch.sin(t).detach(), label='sin')\n"
      "plt.plot(t.detach(), dt, label='grad')\nplt.legend()\nplt.show()"),
    V("2.5-4", "none", "sin and cos plotted, no autograd",
      "import matplotlib.pyplot as plt\nu = torch.linspace(-3, 3, 50)\nplt.plot(u, torch.sin(u))\n"
      "plt.plot(u, torch.cos(u))\nplt.show()", expect=ABSENT),
    # -- 2.5-6: the chain rule --------------------------------------------------------------------
    V("2.5-6", "print", "the formula as code, compared in print",
      "xc = torch.linspace(0.5, 4, 8, requires_grad=True)\nfc = torch.log(xc ** 2) * torch.sin(xc) + 1 / xc\n"
      "fc.sum().backward()\nmanual = 2 * torch.sin(xc) / xc + torch.log(xc ** 2) * torch.cos(xc) - 1 / xc ** 2\n"
      "print(torch.allclose(xc.grad, manual))"),
    V("2.5-6", "helper", "the function and its derivative as helpers",
      "def f6(v):\n    return torch.log(v ** 2) * torch.sin(v) + 1 / v\n\n"
      "def df6(v):\n    return 2 * torch.sin(v) / v + torch.log(v ** 2) * torch.cos(v) - v ** -2",
      "pts = torch.tensor([0.5, 1.0, 2.0, 3.0], requires_grad=True)\nf6(pts).sum().backward()\n"
      "by_rule = df6(pts.detach())\nprint(pts.grad, by_rule)"),
    V("2.5-6", "split", "autograd, the derivation in markdown",
      "xs6 = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\ny6 = torch.log(xs6 ** 2) * torch.sin(xs6) + 1 / xs6\n"
      "y6.backward(torch.ones_like(y6))\nxs6.grad",
      md("By the chain rule, d/dx log(x^2) = 2/x, so f'(x) = 2 sin(x)/x + log(x^2) cos(x) - 1/x^2, which is what "
         "autograd printed.")),
    V("2.5-6", "none", "autograd alone", "xn = torch.tensor([1.0, 2.0], requires_grad=True)\n"
      "(torch.log(xn ** 2) * torch.sin(xn) + 1 / xn).sum().backward()\nxn.grad", expect=NOT_CORRECT),
    # -- 3.2-2: without save_hyperparameters -------------------------------------------------------
    V("3.2-2", "print", "read in __init__, printed",
      "class B3(d2l.HyperParameters):\n    def __init__(self, a, b, c):\n        print('a =', self.a)\n\nb3 = B3(1, 2, 3)"),
    V("3.2-2", "split", "the class in one cell, the instance in the next",
      "class NoSave(d2l.HyperParameters):\n    def __init__(self, a, b):\n        self.total = self.a + self.b",
      "ns = NoSave(1, 2)"),
    V("3.2-2", "helper", "the AttributeError caught and printed",
      "class B4(d2l.HyperParameters):\n    def __init__(self, a, b):\n        self.s = self.a * self.b\n\n"
      "try:\n    B4(a=1, b=2)\nexcept AttributeError as err:\n    print('AttributeError:', err)"),
    V("3.2-2", "none", "attributes set by hand",
      "class ByHand(d2l.HyperParameters):\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n"
      "        print(self.a + self.b)\n\nbh = ByHand(1, 2)", expect=NOT_CORRECT),
    # -- 3.4-1: zero or variance-1000 initialisation ----------------------------------------------
    V("3.4-1", "print", "sigma=0, error printed",
      "zero = LinearRegressionScratch(2, lr=0.03, sigma=0)\nd2l.Trainer(max_epochs=3).fit(zero, data)\n"
      "print(f'error in w: {(data.w - zero.w.reshape(data.w.shape)).detach()}')"),
    V("3.4-1", "split", "weights replaced in one cell, trained in the next",
      "m0 = LinearRegressionScratch(2, lr=0.03)\nm0.w = torch.zeros((2, 1), requires_grad=True)",
      "trainer0 = d2l.Trainer(max_epochs=3)\ntrainer0.fit(m0, data)"),
    V("3.4-1", "helper", "a loop over both initialisations",
      "for sigma in [0, 1000 ** 0.5]:\n    m = LinearRegressionScratch(2, lr=0.03, sigma=sigma)\n"
      "    d2l.Trainer(max_epochs=3).fit(m, data)\n    print(sigma, (data.w - m.w.reshape(data.w.shape)).detach())"),
    V("3.4-1", "none", "retrained with the book's initialisation",
      "again = LinearRegressionScratch(2, lr=0.01)\nd2l.Trainer(max_epochs=3).fit(again, data)", expect=ABSENT),
    # -- 3.4-2: Ohm's law -------------------------------------------------------------------------
    V("3.4-2", "print", "R learnt, printed in an f-string",
      "current = torch.tensor([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])\nvoltage = 4.7 * current\n"
      "R = torch.tensor(1.0, requires_grad=True)\nfor step in range(200):\n"
      "    loss = ((R * current - voltage) ** 2).mean()\n    loss.backward()\n    with torch.no_grad():\n"
      "        R -= 0.05 * R.grad\n        R.grad.zero_()\nprint(f'R = {R.item():.3f} ohm')"),
    V("3.4-2", "helper", "a helper with an optimizer",
      "def fit_resistance(i, v, steps=300):\n    r = torch.zeros(1, requires_grad=True)\n"
      "    opt = torch.optim.SGD([r], lr=0.05)\n    for _ in range(steps):\n        opt.zero_grad()\n"
      "        ((r * i - v) ** 2).mean().backward()\n        opt.step()\n    return r",
      "amps = torch.linspace(0.1, 2, 20)\nvolts = 3.3 * amps\nR_hat = fit_resistance(amps, volts)\nR_hat"),
    V("3.4-2", "split", "the data in one cell, the fit in the next",
      "current_A = torch.linspace(0, 1, 11)\nvoltage_V = 10 * current_A",
      "R = torch.rand(1, requires_grad=True)\nfor i in range(500):\n    loss = ((R * current_A - voltage_V) ** 2).mean()\n"
      "    loss.backward()\n    with torch.no_grad():\n        R -= 0.5 * R.grad\n        R.grad.zero_()\nR"),
    V("3.4-2", "none", "a closed-form slope, no autograd", "import numpy as np\ncurrent_np = np.array([1.0, 2.0, 3.0])\n"
      "voltage_np = 2 * current_np\nR_ls = np.polyfit(current_np, voltage_np, 1)[0]\nR_ls", expect=NOT_CORRECT),
    # -- 3.4-3: Planck's law ----------------------------------------------------------------------
    V("3.4-3", "print", "curve_fit, printed",
      "import numpy as np\nfrom scipy.optimize import curve_fit\n\nh, c, k = 6.626e-34, 3.0e8, 1.381e-23\n\n"
      "def radiance(lam, T):\n    return 2 * h * c**2 / lam**5 / (np.exp(h * c / (lam * k * T)) - 1)\n\n"
      "lam = np.linspace(2e-7, 3e-6, 100)\nmeasured = radiance(lam, 5000) * (1 + 0.01 * np.sin(lam * 1e7))\n"
      "popt, _ = curve_fit(radiance, lam, measured, p0=[3000])\nprint(f'T = {popt[0]:.1f} K')"),
    V("3.4-3", "helper", "a grid search in numpy",
      "import numpy as np\nh, c, k = 6.626e-34, 2.998e8, 1.381e-23\n"
      "def planck(wl, T):\n    return 2 * h * c**2 / wl**5 / np.expm1(h * c / (wl * k * T))",
      "wl = np.linspace(3e-7, 2.5e-6, 60)\nspectrum = planck(wl, 5800)\ntemps = np.arange(3000.0, 9000.0, 1.0)\n"
      "errs = [np.sum((planck(wl, t) - spectrum) ** 2) for t in temps]\nT_best = temps[int(np.argmin(errs))]\nT_best"),
    V("3.4-3", "split", "the constants from scipy.constants",
      "import numpy as np\nfrom scipy.constants import h, c, k\nfrom scipy.optimize import curve_fit\n"
      "def B(lam_nm, T):\n    lam_m = lam_nm * 1e-9\n    return 2 * h * c**2 / lam_m**5 / (np.exp(h * c / (lam_m * k * T)) - 1)\n"
      "lam_nm = np.linspace(300, 2500, 80)\nobs = B(lam_nm, 4500)\n(T_fit,), _ = curve_fit(B, lam_nm, obs, p0=[3500])\nT_fit"),
    V("3.4-3", "none", "a photon's energy (h, no k)", "E_photon = 6.626e-34 * 3e8 / 500e-9\nE_photon", expect=ABSENT),
    # -- 3.4-7: the last minibatch ----------------------------------------------------------------
    V("3.4-7", "print", "an empty loop, the size printed",
      "for X_b, y_b in data.train_dataloader():\n    pass\nprint(f'last batch: {len(X_b)}')"),
    V("3.4-7", "helper", "enumerate, sizes collected",
      "small = d2l.SyntheticRegressionData(w=torch.tensor([2, -3.4]), b=4.2, num_train=100, batch_size=30)\n"
      "sizes = []\nfor i, (features, labels) in enumerate(small.train_dataloader()):\n"
      "    sizes.append(features.shape[0])\nsizes"),
    V("3.4-7", "split", "every batch in a list", "batches = list(data.train_dataloader())",
      "print(len(batches), batches[-1][0].shape)"),
    V("3.4-7", "none", "the first batch only", "X_first, y_first = next(iter(data.train_dataloader()))\nX_first.shape",
      expect=ABSENT),
    # -- 5.1-2: pReLU -----------------------------------------------------------------------------
    V("5.1-2", "print", "torch.prelu, gradient printed",
      "z = torch.arange(-3.0, 3.0, 0.5, requires_grad=True)\ntorch.prelu(z, torch.tensor([0.2])).sum().backward()\n"
      "print(z.grad)"),
    V("5.1-2", "split", "nn.PReLU", "prelu = torch.nn.PReLU(init=0.1)\nxp = torch.linspace(-2, 2, 9, requires_grad=True)",
      "prelu(xp).sum().backward()\nxp.grad"),
    V("5.1-2", "helper", "our own prelu, plotted",
      "def prelu(v, alpha=0.25):\n    zero = torch.zeros_like(v)\n    return torch.max(zero, v) + alpha * torch.min(zero, v)",
      "xq = torch.arange(-4.0, 4.0, 0.5, requires_grad=True)\nyq = prelu(xq)\nyq.backward(torch.ones_like(xq))\n"
      "d2l.plot(xq.detach(), xq.grad, 'x', 'grad of prelu', figsize=(5, 2.5))"),
    V("5.1-2", "none", "the gradient of relu", "xr = torch.arange(-2.0, 2.0, 0.5, requires_grad=True)\n"
      "torch.relu(xr).sum().backward()\nxr.grad", expect=ABSENT),
    # -- 5.1-3: Swish -----------------------------------------------------------------------------
    V("5.1-3", "print", "x * sigmoid(beta x), printed",
      "w = torch.linspace(-4, 4, 33, requires_grad=True)\n(w * torch.sigmoid(1.5 * w)).sum().backward()\nprint(w.grad[:3])"),
    V("5.1-3", "helper", "a swish helper with beta",
      "def swish(v, beta=1.0):\n    return v * torch.sigmoid(beta * v)",
      "xsw = torch.linspace(-5, 5, 50, requires_grad=True)\nswish(xsw, beta=2.0).sum().backward()\n"
      "d2l.plot(xsw.detach(), xsw.grad, 'x', \"swish'\", figsize=(5, 2.5))"),
    V("5.1-3", "split", "F.silu", "import torch.nn.functional as F\nvs = torch.randn(20, requires_grad=True)\nout = F.silu(vs)",
      "out.backward(torch.ones_like(out))\nvs.grad"),
    V("5.1-3", "none", "the gradient of sigmoid alone", "xg = torch.arange(-2.0, 2.0, 0.5, requires_grad=True)\n"
      "torch.sigmoid(xg).sum().backward()\nxg.grad", expect=ABSENT),
    # -- 5.1-act: activations compared by training ------------------------------------------------
    V("5.1-act", "print", "a loop over activation classes, accuracies printed",
      "from torch import nn\n" + SHORT_TRAIN,
      "for act in [nn.ReLU, nn.Sigmoid]:\n    net = train_short(nn.Sequential(nn.Flatten(), nn.Linear(784, 64), act(), "
      "nn.Linear(64, 10)))\n    X, y = next(iter(d2l.FashionMNIST(batch_size=512).val_dataloader()))\n"
      "    print(act.__name__, (net(X).argmax(1) == y).float().mean().item())"),
    V("5.1-act", "helper", "a dict comprehension over a helper",
      "from torch import nn\n" + SHORT_TRAIN,
      "acts = {'relu': nn.ReLU(), 'tanh': nn.Tanh()}\n"
      "nets = {name: train_short(nn.Sequential(nn.Flatten(), nn.Linear(784, 64), a, nn.Linear(64, 10))) "
      "for name, a in acts.items()}"),
    V("5.1-act", "split", "one cell per activation",
      "from torch import nn\n" + SHORT_TRAIN,
      "relu_net = train_short(nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10)))",
      "tanh_net = train_short(nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.Tanh(), nn.Linear(64, 10)))"),
    V("5.1-act", "none", "one model, one activation", "from torch import nn\n" + SHORT_TRAIN,
      "one_net = train_short(nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)), steps=10)",
      expect=ABSENT),
    # -- 5.2-1, 5.2-4: sweeps ---------------------------------------------------------------------
    V("5.2-1", "print", "a d2l loop over num_hiddens",
      "for h in [32, 128]:\n    sweep_model = MLP(num_outputs=10, num_hiddens=h, lr=0.1)\n"
      "    d2l.Trainer(max_epochs=max_epochs).fit(sweep_model, data)\n    print(h, 'trained')"),
    V("5.2-1", "helper", "a helper called in a loop",
      "def run_hidden(h):\n    model = MLP(num_outputs=10, num_hiddens=h, lr=0.1)\n"
      "    d2l.Trainer(max_epochs=max_epochs).fit(model, data)\n    return model",
      "hidden_models = [run_hidden(h) for h in (64, 512)]"),
    V("5.2-1", "split", "one cell per width",
      "m64 = MLP(num_outputs=10, num_hiddens=64, lr=0.1)\nd2l.Trainer(max_epochs=max_epochs).fit(m64, data)",
      "m512 = MLP(num_outputs=10, num_hiddens=512, lr=0.1)\nd2l.Trainer(max_epochs=max_epochs).fit(m512, data)"),
    V("5.2-1", "none", "the book's two models (two classes, one width)", expect=ABSENT),
    V("5.2-4", "none", "the book's two models (two classes, one learning rate)", expect=ABSENT),
    V("5.2-4", "print", "a d2l loop over learning rates",
      "for lr in [0.03, 0.3]:\n    lr_model = MLP(num_outputs=10, num_hiddens=256, lr=lr)\n"
      "    d2l.Trainer(max_epochs=max_epochs).fit(lr_model, data)\n    print(lr, 'trained')"),
    V("5.2-4", "helper", "a helper called in a dict comprehension",
      "def run_lr(rate):\n    model = MLP(num_outputs=10, num_hiddens=256, lr=rate)\n"
      "    d2l.Trainer(max_epochs=max_epochs).fit(model, data)\n    return model",
      "by_lr = {rate: run_lr(rate) for rate in (0.05, 0.2)}"),
    V("5.2-4", "split", "one cell per learning rate",
      "slow = MLP(num_outputs=10, num_hiddens=256, lr=0.01)\nd2l.Trainer(max_epochs=max_epochs).fit(slow, data)",
      "fast = MLP(num_outputs=10, num_hiddens=256, lr=0.5)\nd2l.Trainer(max_epochs=max_epochs).fit(fast, data)"),
    # -- 5.2-2: a deeper MLP ----------------------------------------------------------------------
    V("5.2-2", "print", "LazyLinear layers in a d2l class",
      "class DeepMLP(d2l.Classifier):\n    def __init__(self, num_outputs, lr):\n        super().__init__()\n"
      "        self.save_hyperparameters()\n        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(256), nn.ReLU(),\n"
      "                                 nn.LazyLinear(128), nn.ReLU(), nn.LazyLinear(num_outputs))",
      "deep = DeepMLP(num_outputs=10, lr=0.1)\nd2l.Trainer(max_epochs=max_epochs).fit(deep, data)\nprint('trained')"),
    V("5.2-2", "helper", "from scratch with three weight matrices",
      "class MLPScratch3(d2l.Classifier):\n    def __init__(self, num_inputs, num_outputs, h1, h2, lr, sigma=0.01):\n"
      "        super().__init__()\n        self.save_hyperparameters()\n"
      "        self.W1 = nn.Parameter(torch.randn(num_inputs, h1) * sigma)\n        self.b1 = nn.Parameter(torch.zeros(h1))\n"
      "        self.W2 = nn.Parameter(torch.randn(h1, h2) * sigma)\n        self.b2 = nn.Parameter(torch.zeros(h2))\n"
      "        self.W3 = nn.Parameter(torch.randn(h2, num_outputs) * sigma)\n"
      "        self.b3 = nn.Parameter(torch.zeros(num_outputs))\n\n"
      "    def forward(self, X):\n        X = X.reshape((-1, self.num_inputs))\n"
      "        H1 = relu(torch.matmul(X, self.W1) + self.b1)\n        H2 = relu(torch.matmul(H1, self.W2) + self.b2)\n"
      "        return torch.matmul(H2, self.W3) + self.b3",
      "scratch3 = MLPScratch3(num_inputs=784, num_outputs=10, h1=256, h2=128, lr=0.1)\n"
      "d2l.Trainer(max_epochs=max_epochs).fit(scratch3, data)"),
    V("5.2-2", "split", "a custom layer in a ModuleList, a loop of our own",
      "class Dense(nn.Module):\n    def __init__(self, n_in, n_out):\n        super().__init__()\n"
      "        self.weight = nn.Parameter(torch.randn(n_in, n_out) * 0.01)\n"
      "        self.bias = nn.Parameter(torch.zeros(n_out))\n\n    def forward(self, X):\n"
      "        return X @ self.weight + self.bias\n\n"
      "class DeepNet(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
      "        self.layers = nn.ModuleList([Dense(784, 256), Dense(256, 64), Dense(64, 10)])\n\n"
      "    def forward(self, X):\n        X = X.reshape(-1, 784)\n        for layer in self.layers[:-1]:\n"
      "            X = torch.relu(layer(X))\n        return self.layers[-1](X)",
      "deep_net = DeepNet()\nopt = torch.optim.SGD(deep_net.parameters(), lr=0.1)\n"
      "for i, (Xb, yb) in enumerate(data.train_dataloader()):\n"
      "    loss = nn.functional.cross_entropy(deep_net(Xb), yb)\n    opt.zero_grad()\n    loss.backward()\n"
      "    opt.step()\n    if i == 60:\n        break"),
    V("5.2-2", "none", "one hidden layer, wider (a ModuleList of Linear)",
      "class Wide(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
      "        self.layers = nn.ModuleList([nn.Linear(784, 512), nn.Linear(512, 10)])\n\n"
      "    def forward(self, X):\n        return self.layers[1](torch.relu(self.layers[0](X.reshape(-1, 784))))",
      "wide = Wide()\nopt = torch.optim.SGD(wide.parameters(), lr=0.1)\n"
      "for i, (Xb, yb) in enumerate(data.train_dataloader()):\n"
      "    loss = nn.functional.cross_entropy(wide(Xb), yb)\n    opt.zero_grad()\n    loss.backward()\n"
      "    opt.step()\n    if i == 20:\n        break", expect=ABSENT),
    # -- 5.3-1: the gradient with respect to a matrix ---------------------------------------------
    V("5.3-1", "print", "the gradient's shape printed",
      "import torch\nW = torch.randn(3, 4, requires_grad=True)\nloss = (W ** 2).sum()\nloss.backward()\nprint(W.grad.shape)"),
    V("5.3-1", "helper", "a helper scalar function",
      "import torch\ndef scalar_fn(M):\n    return (M @ M.T).trace()",
      "Mx = torch.ones(2, 5, requires_grad=True)\nscalar_fn(Mx).backward()\nMx.grad.shape"),
    V("5.3-1", "split", "torch.autograd.grad into a tuple",
      "import torch\nWm = torch.rand(4, 2, requires_grad=True)\n(gW,) = torch.autograd.grad(torch.tanh(Wm).sum(), Wm)\n"
      "gW.shape == Wm.shape"),
    V("5.3-1", "none", "a vector", "import torch\nvv = torch.randn(5, requires_grad=True)\n(vv ** 2).sum().backward()\n"
      "vv.grad", expect=NOT_CORRECT),
]

MERGED_23 = ("T = torch.arange(24.).reshape(2, 3, 4)\nprint(len(T), len(T[0]))\n"
             "print([T.sum(axis=i).shape for i in range(3)])\nprint(torch.linalg.norm(T))\n"
             "Asq = torch.randn(3, 3)\nBsq = torch.randn(3, 3)\n"
             "print(torch.equal(Asq.T.T, Asq), torch.allclose(Asq.T + Bsq.T, (Asq + Bsq).T),\n"
             "      torch.equal(Asq + Asq.T, (Asq + Asq.T).T))\nprint(Asq / Asq.sum(axis=1))")
MERGED_25 = ("a = torch.randn(3, requires_grad=True)\nd = f(a)\ntry:\n    d.backward()\nexcept RuntimeError as e:\n"
             "    print('vector:', e)\nd.sum().backward()\nprint(a.grad == d / a)\ntry:\n    d.sum().backward()\n"
             "except RuntimeError as e:\n    print('twice:', e)")

VARIANTS += [
    # -- one big cell per section's book code; several exercises answered in one cell ------------------
    V("2.1-1", "merged", "torch.lt/gt in one answer cell with the broadcasting",
      "print('<', torch.lt(X, Y))\nprint('>', X > Y)\nu3 = torch.ones(4, 1, 3)\nv3 = torch.ones(2, 1)\nprint((u3 * v3).shape)"),
    V("2.1-2", "merged", "the same cell"),
    V("2.2-1", "merged", "ratios named, next to the selection by name",
      "from ucimlrepo import fetch_ucirepo\naba = fetch_ucirepo(id=1)\ndf = aba.data.features\n"
      "missing_ratio = df.isna().sum().sum() / df.size\n"
      "categorical_ratio = len(df.select_dtypes(exclude='number').columns) / len(df.columns)\n"
      "print(missing_ratio, categorical_ratio)\nprint(data[['RoofType']])"),
    V("2.2-2", "merged", "the same cell"),
    *[V(e, "merged", "every 2.3 answer in one cell" if e == "2.3-1" else "the same cell",
        *([MERGED_23] if e == "2.3-1" else [])) for e in ("2.3-1", "2.3-2", "2.3-3", "2.3-4", "2.3-5", "2.3-6",
                                                           "2.3-8", "2.3-9")],
    V("2.5-3", "merged", "vector, plain backward, sum, backward again: one cell", MERGED_25),
    V("2.5-2", "merged", "the same cell"),
    V("2.5-4", "merged", "d2l.plot of both curves",
      "from d2l import torch as d2l\nxx = torch.arange(0.0, 10.0, 0.1, requires_grad=True)\nyy = torch.sin(xx)\n"
      "yy.sum().backward()\nd2l.plot(xx.detach(), [yy.detach(), xx.grad], 'x', 'f(x)', legend=['sin', 'derivative'])"),
    V("2.5-6", "merged", "the largest difference printed",
      "x5 = torch.linspace(0.5, 3, 6, requires_grad=True)\ng = torch.log(x5 ** 2) * torch.sin(x5) + 1 / x5\n"
      "g.sum().backward()\nexpected = 2 * torch.sin(x5) / x5 + torch.log(x5 ** 2) * torch.cos(x5) - 1 / x5 ** 2\n"
      "print((x5.grad - expected).abs().max())"),
    V("3.2-2", "merged", "the book's B with the call commented out",
      "class B(d2l.HyperParameters):\n    def __init__(self, a, b, c):\n"
      "        # self.save_hyperparameters(ignore=['c'])\n        print('self.a =', self.a, 'self.b =', self.b)\n\n"
      "b = B(a=1, b=2, c=3)"),
    V("3.4-1", "merged", "weights zeroed in place",
      "zmodel = LinearRegressionScratch(2, lr=0.03)\nwith torch.no_grad():\n    zmodel.w.zero_()\n"
      "d2l.Trainer(max_epochs=3).fit(zmodel, data)\nprint(data.w - zmodel.w.reshape(data.w.shape))"),
    V("3.4-2", "merged", "nn.Linear(1, 1) without bias",
      "I_meas = torch.tensor([[0.1], [0.2], [0.3], [0.4], [0.5]])\nV_meas = 8.2 * I_meas\n"
      "resistor = torch.nn.Linear(1, 1, bias=False)\nopt = torch.optim.SGD(resistor.parameters(), lr=0.5)\n"
      "for _ in range(2000):\n    opt.zero_grad()\n    loss = ((resistor(I_meas) - V_meas) ** 2).mean()\n"
      "    loss.backward()\n    opt.step()\nprint(resistor.weight.item())"),
    V("3.4-7", "merged", "the last batch kept in a variable",
      "data64 = d2l.SyntheticRegressionData(w=torch.tensor([2, -3.4]), b=4.2, batch_size=64)\n"
      "for batch in data64.train_dataloader():\n    last = batch\nprint(last[0].shape)"),
    V("5.1-2", "merged", "nn.PReLU in one cell",
      "pr = torch.nn.PReLU()\nxx = torch.linspace(-3, 3, 61, requires_grad=True)\nyy = pr(xx)\n"
      "yy.backward(torch.ones_like(yy))\nprint(xx.grad.unique())"),
    V("5.1-3", "merged", "nn.SiLU in one cell",
      "silu = torch.nn.SiLU()\nxs3 = torch.linspace(-3, 3, 61, requires_grad=True)\nsilu(xs3).sum().backward()\nxs3.grad[:5]"),
    V("5.1-act", "merged", "a d2l class taking the activation, trained with d2l",
      "from torch import nn\nclass ActMLP(d2l.Classifier):\n    def __init__(self, act, lr):\n        super().__init__()\n"
      "        self.save_hyperparameters()\n        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(64), act, "
      "nn.LazyLinear(10))\n\nfmnist = d2l.FashionMNIST(batch_size=256)\nfor act in [nn.ReLU(), nn.Sigmoid()]:\n"
      "    d2l.Trainer(max_epochs=max_epochs).fit(ActMLP(act, 0.1), fmnist)"),
    V("5.2-1", "merged", "positional arguments in a loop",
      "for n_h in [64, 512]:\n    d2l.Trainer(max_epochs=max_epochs).fit(MLP(10, n_h, 0.1), data)"),
    V("5.2-4", "merged", "positional arguments in a loop",
      "for rate in [0.01, 0.5]:\n    d2l.Trainer(max_epochs=max_epochs).fit(MLP(10, 256, rate), data)"),
    V("5.2-2", "merged", "a ModuleList built from a list of sizes",
      "class MLPn(nn.Module):\n    def __init__(self, sizes):\n        super().__init__()\n"
      "        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])\n\n"
      "    def forward(self, X):\n        X = X.flatten(1)\n        for layer in self.layers[:-1]:\n"
      "            X = torch.relu(layer(X))\n        return self.layers[-1](X)\n\n"
      "mlpn = MLPn([784, 256, 128, 10])\nopt = torch.optim.SGD(mlpn.parameters(), lr=0.1)\n"
      "for i, (Xb, yb) in enumerate(data.train_dataloader()):\n"
      "    loss = nn.functional.cross_entropy(mlpn(Xb), yb)\n    opt.zero_grad()\n    loss.backward()\n"
      "    opt.step()\n    if i == 60:\n        break"),
    V("5.3-1", "merged", "an assert on the shape",
      "import torch\nXm = torch.randn(2, 3, requires_grad=True)\nym = torch.mm(Xm, torch.ones(3, 1)).sum()\n"
      "ym.backward()\nassert Xm.grad.shape == Xm.shape\nXm.grad"),
    # -- more non-answers, near the styles the recognisers now follow ----------------------------------
    V("2.2-1", "none2", "Abalone described, no share",
      f"abalone_desc = pd.read_csv('{ABALONE_URL}', header=None)\nprint(abalone_desc.describe())\n"
      "print(abalone_desc[0].value_counts(normalize=True))", expect=NOT_CORRECT),
    V("2.2-2", "none2", "a list of names indexed by position", "labels = ['x', 'y']\nlabels[0]", expect=ABSENT),
    V("2.3-1", "none2", "a named transpose compared with the transpose", "B5 = A.T\nB5 == A.T", expect=ABSENT),
    V("2.3-6", "none2", "row sums divided by their total", "rs = A.sum(axis=1)\nrs / rs.sum()", expect=ABSENT),
    V("2.5-4", "none2", "only the gradient plotted, in the next cell",
      "xg = torch.linspace(-3, 3, 61, requires_grad=True)\ntorch.sin(xg).sum().backward()",
      "import matplotlib.pyplot as plt\nplt.plot(xg.detach(), xg.grad)\nplt.show()", expect=NOT_CORRECT),
    V("3.4-1", "none2", "a loop over small spreads",
      "for sigma in [0.01, 0.1]:\n    ms = LinearRegressionScratch(2, lr=0.03, sigma=sigma)\n"
      "    d2l.Trainer(max_epochs=3).fit(ms, data)", expect=ABSENT),
    V("5.1-act", "none2", "the same activation in two cells, two widths",
      "from torch import nn\n" + SHORT_TRAIN,
      "narrow = train_short(nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10)), steps=10)",
      "broad = train_short(nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)), steps=10)",
      expect=ABSENT),
]

VARIANTS += [
    # -- the book's own cells adapted: its plots of activations, its f, its MLP ------------------------
    V("5.1-2", "bookstyle", "the book's plot cells with prelu",
      "y = torch.nn.functional.prelu(x, torch.tensor([0.25]))\n"
      "d2l.plot(x.detach(), y.detach(), 'x', 'prelu(x)', figsize=(5, 2.5))",
      "x.grad.data.zero_()\ny.backward(torch.ones_like(x), retain_graph=True)\n"
      "d2l.plot(x.detach(), x.grad, 'x', 'grad of prelu', figsize=(5, 2.5))"),
    V("5.1-3", "bookstyle", "the book's plot cells with swish",
      "y = x * torch.sigmoid(x)\nd2l.plot(x.detach(), y.detach(), 'x', 'swish(x)', figsize=(5, 2.5))",
      "x.grad.data.zero_()\ny.backward(torch.ones_like(x), retain_graph=True)\n"
      "d2l.plot(x.detach(), x.grad, 'x', 'grad of swish', figsize=(5, 2.5))"),
    V("2.5-3", "bookstyle", "the book's cells with a vector made by requires_grad_()",
      "a = torch.randn(5).requires_grad_()\nd = f(a)\nd.sum().backward()", "a.grad == d / a"),
    V("5.2-4", "bookstyle", "an optimizer's lr swept in a loop of our own",
      "from torch import nn\nlr_nets = {}\nfor lr in [0.01, 0.3]:\n"
      "    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))\n"
      "    opt = torch.optim.SGD(net.parameters(), lr=lr)\n"
      "    for i, (X, y) in enumerate(data.train_dataloader()):\n"
      "        loss = nn.functional.cross_entropy(net(X), y)\n        opt.zero_grad()\n        loss.backward()\n"
      "        opt.step()\n        if i == 30:\n            break\n    lr_nets[lr] = net"),
]

NOTEBOOKS = ("print", "helper", "split", "merged", "bookstyle", "none", "none2")


def _book(section: str, nb: str) -> list[str]:
    """The book's cells of a section; in the style notebooks 5.2 keeps its classes and data but not its two
    trainings (the sweeps train enough), the non-answer notebook runs all of it."""
    cells = list(BOOK[section])
    if section == "5.2" and not nb.startswith("none"):
        cells = [c for c in cells if ".fit(" not in c]
        cells.append("data = d2l.FashionMNIST(batch_size=256)\ntrainer = d2l.Trainer(max_epochs=max_epochs)")
    return cells


def cells_of(nb: str) -> list[nbformat.NotebookNode]:
    """The notebook of one style: every section with a variant in it, the variants after the book's code."""
    extra: dict[str, list[nbformat.NotebookNode]] = {}
    for variant in VARIANTS:
        if variant.notebook == nb and variant.cells:
            section = SECTION[variant.exercise]
            extra.setdefault(section, [md("### Exercises")])
            extra[section].append(md(f"#### {variant.label}"))
            extra[section] += [code(c) if isinstance(c, str) else c for c in variant.cells]
    cells = [md(f"# HW 1 ({nb})"), code(PARAMETERS, "parameters")]
    for section in ("2.1", "2.2", "2.3", "2.5", "3.2", "3.4", "5.1", "5.2", "5.3"):
        if section in extra:
            book = _book(section, nb)
            book = ["\n\n".join(book)] if nb == "merged" and book else book   # the section's code in one cell
            cells += [md(heading(section))] + [code(s) for s in book] + extra[section]
    return cells


@pytest.fixture(scope="module")
def verdicts(options: Options, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, tuple]]:
    """Grade each style notebook once: exercise id -> (status, message)."""
    cache: dict[str, dict[str, tuple]] = {}

    def get(nb: str) -> dict[str, tuple]:
        if nb not in cache:
            path = write(notebook(cells_of(nb)), tmp_path_factory.mktemp(nb) / f"{nb}.ipynb")
            [unit] = grade([path], options=options, homework_id=HW).units
            cache[nb] = {e["id"]: (e["status"], e["message"]) for e in unit.extra["exercises"]}
        return cache[nb]
    return get


def _id(variant: Variant) -> str:
    return f"{variant.exercise}-{variant.notebook}"


@pytest.mark.parametrize("variant", VARIANTS, ids=_id)
def test_variant(variant: Variant, verdicts: Callable[[str], dict[str, tuple]]) -> None:
    got = verdicts(variant.notebook).get(variant.exercise)
    status = got[0] if got else ABSENT
    if variant.expect == CORRECT:
        assert status == CORRECT, f"{variant.label}: {got}"
    elif variant.expect == ABSENT:
        assert got is None, f"{variant.label}: {got}"
    else:
        assert status != CORRECT, f"{variant.label}: {got}"


def test_every_recogniser_has_three_styles_and_a_non_answer() -> None:
    from grader.homeworks.d2l_ch2_5 import HOMEWORK

    for recogniser in HOMEWORK.exercises:
        mine = [v for v in VARIANTS if v.exercise == recogniser.id]
        assert len({v.notebook for v in mine if v.expect == CORRECT}) >= 3, recogniser.id
        assert any(v.expect != CORRECT for v in mine), recogniser.id


@pytest.mark.parametrize("nb", ["none", "none2"])
def test_the_non_answer_notebooks_credit_nothing(nb: str, verdicts: Callable[[str], dict[str, tuple]]) -> None:
    """The book's code of every section plus unrelated computations: no exercise is credited."""
    assert {k: v for k, v in verdicts(nb).items() if v[0] == CORRECT} == {}
