"""Exercise answers for test notebooks, written for these tests: right ones and the
mistakes real submissions make (wrong tensors, a cos in the derivative, too few steps,
standard deviation for variance, a wrong law). Each value is a list of code sources."""

from __future__ import annotations

import nbformat

from nbfactory import code, md

RIGHT: dict[str, list[str]] = {
    "2.1-1": ["X < Y, X > Y"],
    "2.1-2": [
        "p = torch.arange(6).reshape((2, 3, 1))\nq = torch.arange(6).reshape((2, 1, 3))\nr = p + q\nr.shape",
        "torch.arange(12).reshape((2, 3, 2)) + torch.arange(18).reshape((3, 2, 3))",
    ],
    "2.2-1": [
        "from ucimlrepo import fetch_ucirepo\n\nabalone = fetch_ucirepo(id=1)\n"
        "frame = pd.concat([abalone.data.features, abalone.data.targets], axis=1)\nframe.shape",
        "missing_fraction = float(frame.isnull().any(axis=1).mean())\n"
        "kinds = abalone.variables['type'].value_counts(normalize=True)\n"
        "categorical_fraction = float(kinds['Categorical'])\nnumerical_fraction = 1 - categorical_fraction\n"
        "missing_fraction, categorical_fraction, numerical_fraction",
    ],
    "2.5-4": [
        "from matplotlib import pyplot as plt\n\nxs = torch.linspace(-2 * torch.pi, 2 * torch.pi, 200, requires_grad=True)\n"
        "torch.sin(xs).sum().backward()\nplt.plot(xs.detach(), torch.sin(xs).detach(), label='sin')\n"
        "plt.plot(xs.detach(), xs.grad, '--', label='derivative by autograd')\nplt.legend()\nplt.show()",
    ],
    "3.2-2": [
        "class B2(d2l.HyperParameters):\n    def __init__(self, a, b, c):\n"
        "        print('self.a =', self.a, 'self.b =', self.b)\n\nb2 = B2(a=1, b=2, c=3)",
    ],
    "3.4-1": [
        "class ZeroInit(LinearRegressionScratch):\n    def __init__(self, num_inputs, lr):\n"
        "        super().__init__(num_inputs, lr)\n        self.w = torch.zeros((num_inputs, 1), requires_grad=True)\n\n"
        "zero_model = ZeroInit(2, lr=0.03)\nd2l.Trainer(max_epochs=3).fit(zero_model, data)\n"
        "print('zero init, error in w:', (data.w - zero_model.w.reshape(data.w.shape)).detach())",
        "large_model = LinearRegressionScratch(2, lr=0.03, sigma=1000 ** 0.5)\n"
        "d2l.Trainer(max_epochs=3).fit(large_model, data)\n"
        "print('variance 1000, error in w:', (data.w - large_model.w.reshape(data.w.shape)).detach())",
    ],
    "3.4-2": [
        "current = torch.tensor([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])\nvoltage = 4.7 * current + 0.01 * torch.randn(6)\n"
        "R = torch.tensor(1.0, requires_grad=True)\nfor step in range(200):\n"
        "    loss = ((R * current - voltage) ** 2).mean()\n    loss.backward()\n    with torch.no_grad():\n"
        "        R -= 0.05 * R.grad\n        R.grad.zero_()\nprint(f'R = {R.item():.3f} ohm')",
    ],
    "3.4-3": [
        "import numpy as np\nfrom scipy.optimize import curve_fit\n\nh, c, k = 6.626e-34, 3.0e8, 1.381e-23\n\n"
        "def radiance(lam, T):\n    return 2 * h * c**2 / lam**5 / (np.exp(h * c / (lam * k * T)) - 1)\n\n"
        "lam = np.linspace(2e-7, 3e-6, 100)\nrng = np.random.default_rng(0)\n"
        "measured = radiance(lam, 5000) * (1 + 0.02 * rng.standard_normal(100))\n"
        "popt, _ = curve_fit(radiance, lam, measured, p0=[3000])\nT_fit = popt[0]\nprint(f'T = {T_fit:.1f} K')",
    ],
    "5.1-act": [
        "from torch import nn\n\nby_activation = {}\nfor act in [nn.ReLU, nn.Sigmoid]:\n"
        "    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), act(), nn.Linear(64, 10))\n"
        "    opt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
        "    for i, (X, y) in enumerate(d2l.FashionMNIST(batch_size=256).train_dataloader()):\n"
        "        loss = nn.functional.cross_entropy(net(X), y)\n        opt.zero_grad()\n        loss.backward()\n"
        "        opt.step()\n        if i == 60:\n            break\n    by_activation[act.__name__] = net",
    ],
    "5.2-1": [
        "for num_hiddens in [16, 32, 64, 128]:\n    sweep_model = MLP(num_outputs=10, num_hiddens=num_hiddens, lr=0.1)\n"
        "    d2l.Trainer(max_epochs=max_epochs).fit(sweep_model, data)",
    ],
}

WRONG: dict[str, list[str]] = {
    # compares the 1-D x and y of an earlier cell instead of X and Y
    "2.1-1": ["x < y, x > y"],
    # the derivative written as cos, and only the derivative plotted
    "2.5-4": [
        "from matplotlib import pyplot as plt\n\nxs = torch.linspace(-3, 3, 100, requires_grad=True)\n"
        "torch.sin(xs).sum().backward()\nplt.plot(xs.detach(), torch.cos(xs).detach())\nplt.show()",
    ],
    # stops after 5 steps: R is still far from the data's slope
    "3.4-2": [
        "current = torch.tensor([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])\nvoltage = 4.7 * current\n"
        "R = torch.tensor(1.0, requires_grad=True)\nfor step in range(5):\n"
        "    loss = ((R * current - voltage) ** 2).mean()\n    loss.backward()\n    with torch.no_grad():\n"
        "        R -= 0.01 * R.grad\n        R.grad.zero_()\nprint(f'R = {R.item():.3f} ohm')",
    ],
    # lambda ** 4 instead of lambda ** 5: the fitted temperature obeys a wrong law
    "3.4-3": [
        "import numpy as np\nfrom scipy.optimize import curve_fit\n\nh, c, k = 6.626e-34, 3.0e8, 1.381e-23\n\n"
        "def radiance(lam, T):\n    return 2 * h * c**2 / lam**4 / (np.exp(h * c / (lam * k * T)) - 1)\n\n"
        "lam = np.linspace(2e-7, 3e-6, 100)\nmeasured = radiance(lam, 5000)\n"
        "popt, _ = curve_fit(radiance, lam, measured, p0=[3000])\nT_fit = popt[0]\nprint(f'T = {T_fit:.1f} K')",
    ],
    # standard deviation 10 is variance 100: neither reading of "variance 1000"
    "3.4-1": [
        "large_model = LinearRegressionScratch(2, lr=0.03, sigma=10)\nd2l.Trainer(max_epochs=3).fit(large_model, data)",
    ],
}

# Prompts pasted without an answer: our own paraphrases, as a student would paste them.
PROMPTS = {
    "2.1": "### Exercises\n1. What do you get with X < Y or X > Y instead of X == Y?\n"
           "2. Do 3-D tensors broadcast as you expect?",
    "2.2": "### Exercises\n1. Load Abalone from UCI. What share of it is missing? What share of the variables is numerical?\n"
           "2. Can you select columns by name instead of position?",
    "2.5": "### Exercises\n1. Why is the second derivative more expensive than the first?\n"
           "2. Can you plot sin and its derivative without writing cos?",
    "3.4": "### Exercises\n1. What happens with zero initial weights, or weights of variance 1000?\n"
           "2. Could Ohm have learnt a resistance with autograd?\n3. Can Planck's law give the temperature of a star?",
}


def cells(answers: dict[str, list[str]], exercise: str) -> list[nbformat.NotebookNode]:
    """The code cells of one exercise's answer, headed like a student would."""
    return [md(f"#### Exercise {exercise}")] + [code(s) for s in answers[exercise]]
