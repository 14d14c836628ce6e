"""The book's code, section by section, as the cells a student runs (d2l 1.0.3, PyTorch).

Test notebooks for the homework are assembled from these cells (``homework_cells``),
so every test runs the code the course actually asks students to run. Training cells
read ``max_epochs`` from a tagged ``parameters`` cell (10, as in the book) so that the
grader's injected budget keeps test runs short; everything else is the book's code.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import nbformat

from nbfactory import code, md

TITLES = {
    "2.1": "Data Manipulation", "2.2": "Data Preprocessing", "2.3": "Linear Algebra",
    "2.5": "Automatic Differentiation", "3.1": "Linear Regression", "3.2": "Object-Oriented Design for Implementation",
    "3.4": "Linear Regression Implementation from Scratch", "4.1": "Softmax Regression",
    "4.2": "The Image Classification Dataset", "4.3": "The Base Classification Model",
    "4.4": "Softmax Regression Implementation from Scratch", "5.1": "Multilayer Perceptrons",
    "5.2": "Implementation of Multilayer Perceptrons", "5.3": "Forward Propagation, Backward Propagation, and Computational Graphs",
}
SECTIONS = tuple(TITLES)
CHAPTERS = {"2": ("2.1", "2.2", "2.3", "2.5"), "3": ("3.1", "3.2", "3.4"), "4": ("4.1", "4.2", "4.3", "4.4"),
            "5": ("5.1", "5.2", "5.3")}

PARAMETERS = "max_epochs = 10"

BOOK: dict[str, list[str]] = {
    "2.1": [
        "import torch",
        "x = torch.arange(12, dtype=torch.float32)\nx",
        "x.numel()",
        "x.shape",
        "X = x.reshape(3, 4)\nX",
        "torch.zeros((2, 3, 4))",
        "torch.ones((2, 3, 4))",
        "torch.randn(3, 4)",
        "torch.tensor([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])",
        "X[-1], X[1:3]",
        "X[1, 2] = 17\nX",
        "X[:2, :] = 12\nX",
        "torch.exp(x)",
        "x = torch.tensor([1.0, 2, 4, 8])\ny = torch.tensor([2, 2, 2, 2])\nx + y, x - y, x * y, x / y, x ** y",
        "X = torch.arange(12, dtype=torch.float32).reshape((3,4))\n"
        "Y = torch.tensor([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])\n"
        "torch.cat((X, Y), dim=0), torch.cat((X, Y), dim=1)",
        "X == Y",
        "X.sum()",
        "a = torch.arange(3).reshape((3, 1))\nb = torch.arange(2).reshape((1, 2))\na, b",
        "a + b",
        "before = id(Y)\nY = Y + X\nid(Y) == before",
        "Z = torch.zeros_like(Y)\nprint('id(Z):', id(Z))\nZ[:] = X + Y\nprint('id(Z):', id(Z))",
        "before = id(X)\nX += Y\nid(X) == before",
        "A = X.numpy()\nB = torch.from_numpy(A)\ntype(A), type(B)",
        "a = torch.tensor([3.5])\na, a.item(), float(a), int(a)",
    ],
    "2.2": [
        "import os\n\nos.makedirs(os.path.join('..', 'data'), exist_ok=True)\n"
        "data_file = os.path.join('..', 'data', 'house_tiny.csv')\n"
        "with open(data_file, 'w') as f:\n"
        "    f.write('''NumRooms,RoofType,Price\nNA,NA,127500\n2,NA,106000\n4,Slate,178100\nNA,NA,140000''')",
        "import pandas as pd\n\ndata = pd.read_csv(data_file)\nprint(data)",
        "inputs, targets = data.iloc[:, 0:2], data.iloc[:, 2]\ninputs = pd.get_dummies(inputs, dummy_na=True)\nprint(inputs)",
        "inputs = inputs.fillna(inputs.mean())\nprint(inputs)",
        "import torch\n\nX = torch.tensor(inputs.to_numpy(dtype=float))\ny = torch.tensor(targets.to_numpy(dtype=float))\nX, y",
    ],
    "2.3": [
        "import torch",
        "x = torch.tensor(3.0)\ny = torch.tensor(2.0)\n\nx + y, x * y, x / y, x**y",
        "x = torch.arange(3)\nx",
        "x[2]",
        "len(x)",
        "x.shape",
        "A = torch.arange(6).reshape(3, 2)\nA",
        "A.T",
        "A = torch.tensor([[1, 2, 3], [2, 0, 4], [3, 4, 5]])\nA == A.T",
        "torch.arange(24).reshape(2, 3, 4)",
        "A = torch.arange(6, dtype=torch.float32).reshape(2, 3)\nB = A.clone()  # Assign a copy of A to B by allocating new memory\nA, A + B",
        "A * B",
        "a = 2\nX = torch.arange(24).reshape(2, 3, 4)\na + X, (a * X).shape",
        "x = torch.arange(3, dtype=torch.float32)\nx, x.sum()",
        "A.shape, A.sum()",
        "A.shape, A.sum(axis=0).shape",
        "A.shape, A.sum(axis=1).shape",
        "A.sum(axis=[0, 1]) == A.sum()  # Same as A.sum()",
        "A.mean(), A.sum() / A.numel()",
        "A.mean(axis=0), A.sum(axis=0) / A.shape[0]",
        "sum_A = A.sum(axis=1, keepdims=True)\nsum_A, sum_A.shape",
        "A / sum_A",
        "A.cumsum(axis=0)",
        "y = torch.ones(3, dtype = torch.float32)\nx, y, torch.dot(x, y)",
        "torch.sum(x * y)",
        "A.shape, x.shape, torch.mv(A, x), A@x",
        "B = torch.ones(3, 4)\ntorch.mm(A, B), A@B",
        "u = torch.tensor([3.0, -4.0])\ntorch.norm(u)",
        "torch.abs(u).sum()",
        "torch.norm(torch.ones((4, 9)))",
    ],
    "2.5": [
        "import torch",
        "x = torch.arange(4.0)\nx",
        "# Can also create x = torch.arange(4.0, requires_grad=True)\nx.requires_grad_(True)\nx.grad  # The gradient is None by default",
        "y = 2 * torch.dot(x, x)\ny",
        "y.backward()\nx.grad",
        "x.grad == 4 * x",
        "x.grad.zero_()  # Reset the gradient\ny = x.sum()\ny.backward()\nx.grad",
        "x.grad.zero_()\ny = x * x\ny.backward(gradient=torch.ones(len(y)))  # Faster: y.sum().backward()\nx.grad",
        "x.grad.zero_()\ny = x * x\nu = y.detach()\nz = u * x\n\nz.sum().backward()\nx.grad == u",
        "x.grad.zero_()\ny.sum().backward()\nx.grad == 2 * x",
        "def f(a):\n    b = a * 2\n    while b.norm() < 1000:\n        b = b * 2\n    if b.sum() > 0:\n        c = b\n"
        "    else:\n        c = 100 * b\n    return c",
        "a = torch.randn(size=(), requires_grad=True)\nd = f(a)\nd.backward()",
        "a.grad == d / a",
    ],
    "3.1": [
        "%matplotlib inline\nimport math\nimport time\nimport numpy as np\nimport torch\nfrom d2l import torch as d2l",
        "n = 10000\na = torch.ones(n)\nb = torch.ones(n)",
        "c = torch.zeros(n)\nt = time.time()\nfor i in range(n):\n    c[i] = a[i] + b[i]\nf'{time.time() - t:.5f} sec'",
        "t = time.time()\nd = a + b\nf'{time.time() - t:.5f} sec'",
        "def normal(x, mu, sigma):\n    p = 1 / math.sqrt(2 * math.pi * sigma**2)\n    return p * np.exp(-0.5 * (x - mu)**2 / sigma**2)",
        "# Use NumPy again for visualization\nx = np.arange(-7, 7, 0.01)\n\n# Mean and standard deviation pairs\n"
        "params = [(0, 1), (0, 2), (3, 1)]\nd2l.plot(x, [normal(x, mu, sigma) for mu, sigma in params], xlabel='x',\n"
        "         ylabel='p(x)', figsize=(4.5, 2.5),\n         legend=[f'mean {mu}, std {sigma}' for mu, sigma in params])",
    ],
    "3.2": [
        "import time\nimport numpy as np\nimport torch\nfrom torch import nn\nfrom d2l import torch as d2l",
        "def add_to_class(Class):  #@save\n    \"\"\"Register functions as methods in created class.\"\"\"\n"
        "    def wrapper(obj):\n        setattr(Class, obj.__name__, obj)\n    return wrapper",
        "class A:\n    def __init__(self):\n        self.b = 1\n\na = A()",
        "@add_to_class(A)\ndef do(self):\n    print('Class attribute \"b\" is', self.b)\n\na.do()",
        "class HyperParameters:  #@save\n    \"\"\"The base class of hyperparameters.\"\"\"\n"
        "    def save_hyperparameters(self, ignore=[]):\n        raise NotImplemented",
        "# Call the fully implemented HyperParameters class saved in d2l\nclass B(d2l.HyperParameters):\n"
        "    def __init__(self, a, b, c):\n        self.save_hyperparameters(ignore=['c'])\n"
        "        print('self.a =', self.a, 'self.b =', self.b)\n        print('There is no self.c =', not hasattr(self, 'c'))\n\n"
        "b = B(a=1, b=2, c=3)",
        "class ProgressBoard(d2l.HyperParameters):  #@save\n    \"\"\"The board that plots data points in animation.\"\"\"\n"
        "    def __init__(self, xlabel=None, ylabel=None, xlim=None,\n                 ylim=None, xscale='linear', yscale='linear',\n"
        "                 ls=['-', '--', '-.', ':'], colors=['C0', 'C1', 'C2', 'C3'],\n"
        "                 fig=None, axes=None, figsize=(3.5, 2.5), display=True):\n        self.save_hyperparameters()\n\n"
        "    def draw(self, x, y, label, every_n=1):\n        raise NotImplemented",
        "board = d2l.ProgressBoard('x')\nfor x in np.arange(0, 10, 0.1):\n    board.draw(x, np.sin(x), 'sin', every_n=2)\n"
        "    board.draw(x, np.cos(x), 'cos', every_n=10)",
        "class Module(nn.Module, d2l.HyperParameters):  #@save\n    \"\"\"The base class of models.\"\"\"\n"
        "    def __init__(self, plot_train_per_epoch=2, plot_valid_per_epoch=1):\n        super().__init__()\n"
        "        self.save_hyperparameters()\n        self.board = ProgressBoard()\n\n"
        "    def loss(self, y_hat, y):\n        raise NotImplementedError\n\n"
        "    def forward(self, X):\n        assert hasattr(self, 'net'), 'Neural network is defined'\n        return self.net(X)\n\n"
        "    def plot(self, key, value, train):\n        \"\"\"Plot a point in animation.\"\"\"\n"
        "        assert hasattr(self, 'trainer'), 'Trainer is not inited'\n        self.board.xlabel = 'epoch'\n"
        "        if train:\n            x = self.trainer.train_batch_idx / \\\n                self.trainer.num_train_batches\n"
        "            n = self.trainer.num_train_batches / \\\n                self.plot_train_per_epoch\n"
        "        else:\n            x = self.trainer.epoch + 1\n            n = self.trainer.num_val_batches / \\\n"
        "                self.plot_valid_per_epoch\n"
        "        self.board.draw(x, value.to(d2l.cpu()).detach().numpy(),\n"
        "                        ('train_' if train else 'val_') + key,\n                        every_n=int(n))\n\n"
        "    def training_step(self, batch):\n        l = self.loss(self(*batch[:-1]), batch[-1])\n"
        "        self.plot('loss', l, train=True)\n        return l\n\n"
        "    def validation_step(self, batch):\n        l = self.loss(self(*batch[:-1]), batch[-1])\n"
        "        self.plot('loss', l, train=False)\n\n"
        "    def configure_optimizers(self):\n        raise NotImplementedError",
        "class DataModule(d2l.HyperParameters):  #@save\n    \"\"\"The base class of data.\"\"\"\n"
        "    def __init__(self, root='../data', num_workers=4):\n        self.save_hyperparameters()\n\n"
        "    def get_dataloader(self, train):\n        raise NotImplementedError\n\n"
        "    def train_dataloader(self):\n        return self.get_dataloader(train=True)\n\n"
        "    def val_dataloader(self):\n        return self.get_dataloader(train=False)",
        "class Trainer(d2l.HyperParameters):  #@save\n    \"\"\"The base class for training models with data.\"\"\"\n"
        "    def __init__(self, max_epochs, num_gpus=0, gradient_clip_val=0):\n        self.save_hyperparameters()\n"
        "        assert num_gpus == 0, 'No GPU support yet'\n\n"
        "    def prepare_data(self, data):\n        self.train_dataloader = data.train_dataloader()\n"
        "        self.val_dataloader = data.val_dataloader()\n        self.num_train_batches = len(self.train_dataloader)\n"
        "        self.num_val_batches = (len(self.val_dataloader)\n"
        "                                if self.val_dataloader is not None else 0)\n\n"
        "    def prepare_model(self, model):\n        model.trainer = self\n        model.board.xlim = [0, self.max_epochs]\n"
        "        self.model = model\n\n"
        "    def fit(self, model, data):\n        self.prepare_data(data)\n        self.prepare_model(model)\n"
        "        self.optim = model.configure_optimizers()\n        self.epoch = 0\n        self.train_batch_idx = 0\n"
        "        self.val_batch_idx = 0\n        for self.epoch in range(self.max_epochs):\n            self.fit_epoch()\n\n"
        "    def fit_epoch(self):\n        raise NotImplementedError",
    ],
    "3.4": [
        "%matplotlib inline\nimport torch\nfrom d2l import torch as d2l",
        "class LinearRegressionScratch(d2l.Module):  #@save\n    \"\"\"The linear regression model implemented from scratch.\"\"\"\n"
        "    def __init__(self, num_inputs, lr, sigma=0.01):\n        super().__init__()\n        self.save_hyperparameters()\n"
        "        self.w = torch.normal(0, sigma, (num_inputs, 1), requires_grad=True)\n"
        "        self.b = torch.zeros(1, requires_grad=True)",
        "@d2l.add_to_class(LinearRegressionScratch)  #@save\ndef forward(self, X):\n    return torch.matmul(X, self.w) + self.b",
        "@d2l.add_to_class(LinearRegressionScratch)  #@save\ndef loss(self, y_hat, y):\n    l = (y_hat - y) ** 2 / 2\n    return l.mean()",
        "class SGD(d2l.HyperParameters):  #@save\n    \"\"\"Minibatch stochastic gradient descent.\"\"\"\n"
        "    def __init__(self, params, lr):\n        self.save_hyperparameters()\n\n"
        "    def step(self):\n        for param in self.params:\n            param -= self.lr * param.grad\n\n"
        "    def zero_grad(self):\n        for param in self.params:\n            if param.grad is not None:\n"
        "                param.grad.zero_()",
        "@d2l.add_to_class(LinearRegressionScratch)  #@save\ndef configure_optimizers(self):\n    return SGD([self.w, self.b], self.lr)",
        "@d2l.add_to_class(d2l.Trainer)  #@save\ndef prepare_batch(self, batch):\n    return batch\n\n"
        "@d2l.add_to_class(d2l.Trainer)  #@save\ndef fit_epoch(self):\n    self.model.train()\n"
        "    for batch in self.train_dataloader:\n        loss = self.model.training_step(self.prepare_batch(batch))\n"
        "        self.optim.zero_grad()\n        with torch.no_grad():\n            loss.backward()\n"
        "            if self.gradient_clip_val > 0:  # To be discussed later\n"
        "                self.clip_gradients(self.gradient_clip_val, self.model)\n            self.optim.step()\n"
        "        self.train_batch_idx += 1\n    if self.val_dataloader is None:\n        return\n    self.model.eval()\n"
        "    for batch in self.val_dataloader:\n        with torch.no_grad():\n"
        "            self.model.validation_step(self.prepare_batch(batch))\n        self.val_batch_idx += 1",
        "model = LinearRegressionScratch(2, lr=0.03)\ndata = d2l.SyntheticRegressionData(w=torch.tensor([2, -3.4]), b=4.2)\n"
        "trainer = d2l.Trainer(max_epochs=3)\ntrainer.fit(model, data)",
        "with torch.no_grad():\n    print(f'error in estimating w: {data.w - model.w.reshape(data.w.shape)}')\n"
        "    print(f'error in estimating b: {data.b - model.b}')",
    ],
    "4.1": [],
    "4.2": [
        "%matplotlib inline\nimport time\nimport torch\nimport torchvision\nfrom torchvision import transforms\n"
        "from d2l import torch as d2l\n\nd2l.use_svg_display()",
        "class FashionMNIST(d2l.DataModule):  #@save\n    \"\"\"The Fashion-MNIST dataset.\"\"\"\n"
        "    def __init__(self, batch_size=64, resize=(28, 28)):\n        super().__init__()\n        self.save_hyperparameters()\n"
        "        trans = transforms.Compose([transforms.Resize(resize),\n                                    transforms.ToTensor()])\n"
        "        self.train = torchvision.datasets.FashionMNIST(\n            root=self.root, train=True, transform=trans, download=True)\n"
        "        self.val = torchvision.datasets.FashionMNIST(\n            root=self.root, train=False, transform=trans, download=True)",
        "data = FashionMNIST(resize=(32, 32))\nlen(data.train), len(data.val)",
        "data.train[0][0].shape",
        "@d2l.add_to_class(FashionMNIST)  #@save\ndef text_labels(self, indices):\n    \"\"\"Return text labels.\"\"\"\n"
        "    labels = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat',\n"
        "              'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot']\n    return [labels[int(i)] for i in indices]",
        "@d2l.add_to_class(FashionMNIST)  #@save\ndef get_dataloader(self, train):\n    data = self.train if train else self.val\n"
        "    return torch.utils.data.DataLoader(data, self.batch_size, shuffle=train,\n"
        "                                       num_workers=self.num_workers)",
        "X, y = next(iter(data.train_dataloader()))\nprint(X.shape, X.dtype, y.shape, y.dtype)",
        "tic = time.time()\nfor X, y in data.train_dataloader():\n    continue\nf'{time.time() - tic:.2f} sec'",
        "def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5):  #@save\n    \"\"\"Plot a list of images.\"\"\"\n"
        "    raise NotImplementedError",
        "@d2l.add_to_class(FashionMNIST)  #@save\ndef visualize(self, batch, nrows=1, ncols=8, labels=[]):\n    X, y = batch\n"
        "    if not labels:\n        labels = self.text_labels(y)\n    d2l.show_images(X.squeeze(1), nrows, ncols, titles=labels)\n\n"
        "batch = next(iter(data.val_dataloader()))\ndata.visualize(batch)",
    ],
    "4.3": [
        "import torch\nfrom d2l import torch as d2l",
        "class Classifier(d2l.Module):  #@save\n    \"\"\"The base class of classification models.\"\"\"\n"
        "    def validation_step(self, batch):\n        Y_hat = self(*batch[:-1])\n"
        "        self.plot('loss', self.loss(Y_hat, batch[-1]), train=False)\n"
        "        self.plot('acc', self.accuracy(Y_hat, batch[-1]), train=False)",
        "@d2l.add_to_class(d2l.Module)  #@save\ndef configure_optimizers(self):\n"
        "    return torch.optim.SGD(self.parameters(), lr=self.lr)",
        "@d2l.add_to_class(Classifier)  #@save\ndef accuracy(self, Y_hat, Y, averaged=True):\n"
        "    \"\"\"Compute the number of correct predictions.\"\"\"\n    Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))\n"
        "    preds = Y_hat.argmax(axis=1).type(Y.dtype)\n    compare = (preds == Y.reshape(-1)).type(torch.float32)\n"
        "    return compare.mean() if averaged else compare",
    ],
    "4.4": [
        "import torch\nfrom d2l import torch as d2l",
        "X = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])\nX.sum(0, keepdims=True), X.sum(1, keepdims=True)",
        "def softmax(X):\n    X_exp = torch.exp(X)\n    partition = X_exp.sum(1, keepdims=True)\n"
        "    return X_exp / partition  # The broadcasting mechanism is applied here",
        "X = torch.rand((2, 5))\nX_prob = softmax(X)\nX_prob, X_prob.sum(1)",
        "class SoftmaxRegressionScratch(d2l.Classifier):\n    def __init__(self, num_inputs, num_outputs, lr, sigma=0.01):\n"
        "        super().__init__()\n        self.save_hyperparameters()\n"
        "        self.W = torch.normal(0, sigma, size=(num_inputs, num_outputs),\n                              requires_grad=True)\n"
        "        self.b = torch.zeros(num_outputs, requires_grad=True)\n\n    def parameters(self):\n        return [self.W, self.b]",
        "@d2l.add_to_class(SoftmaxRegressionScratch)\ndef forward(self, X):\n    X = X.reshape((-1, self.W.shape[0]))\n"
        "    return softmax(torch.matmul(X, self.W) + self.b)",
        "y = torch.tensor([0, 2])\ny_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])\ny_hat[[0, 1], y]",
        "def cross_entropy(y_hat, y):\n    return -torch.log(y_hat[list(range(len(y_hat))), y]).mean()\n\ncross_entropy(y_hat, y)",
        "@d2l.add_to_class(SoftmaxRegressionScratch)\ndef loss(self, y_hat, y):\n    return cross_entropy(y_hat, y)",
        "data = d2l.FashionMNIST(batch_size=256)\nmodel = SoftmaxRegressionScratch(num_inputs=784, num_outputs=10, lr=0.1)\n"
        "trainer = d2l.Trainer(max_epochs=max_epochs)\ntrainer.fit(model, data)",
        "X, y = next(iter(data.val_dataloader()))\npreds = model(X).argmax(axis=1)\npreds.shape",
        "wrong = preds.type(y.dtype) != y\nX, y, preds = X[wrong], y[wrong], preds[wrong]\n"
        "labels = [a+'\\n'+b for a, b in zip(\n    data.text_labels(y), data.text_labels(preds))]\n"
        "data.visualize([X, y], labels=labels)",
    ],
    "5.1": [
        "%matplotlib inline\nimport torch\nfrom d2l import torch as d2l",
        "x = torch.arange(-8.0, 8.0, 0.1, requires_grad=True)\ny = torch.relu(x)\n"
        "d2l.plot(x.detach(), y.detach(), 'x', 'relu(x)', figsize=(5, 2.5))",
        "y.backward(torch.ones_like(x), retain_graph=True)\nd2l.plot(x.detach(), x.grad, 'x', 'grad of relu', figsize=(5, 2.5))",
        "y = torch.sigmoid(x)\nd2l.plot(x.detach(), y.detach(), 'x', 'sigmoid(x)', figsize=(5, 2.5))",
        "# Clear out previous gradients\nx.grad.data.zero_()\ny.backward(torch.ones_like(x),retain_graph=True)\n"
        "d2l.plot(x.detach(), x.grad, 'x', 'grad of sigmoid', figsize=(5, 2.5))",
        "y = torch.tanh(x)\nd2l.plot(x.detach(), y.detach(), 'x', 'tanh(x)', figsize=(5, 2.5))",
        "# Clear out previous gradients\nx.grad.data.zero_()\ny.backward(torch.ones_like(x),retain_graph=True)\n"
        "d2l.plot(x.detach(), x.grad, 'x', 'grad of tanh', figsize=(5, 2.5))",
    ],
    "5.2": [
        "import torch\nfrom torch import nn\nfrom d2l import torch as d2l",
        "class MLPScratch(d2l.Classifier):\n    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):\n"
        "        super().__init__()\n        self.save_hyperparameters()\n"
        "        self.W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)\n"
        "        self.b1 = nn.Parameter(torch.zeros(num_hiddens))\n"
        "        self.W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs) * sigma)\n"
        "        self.b2 = nn.Parameter(torch.zeros(num_outputs))",
        "def relu(X):\n    a = torch.zeros_like(X)\n    return torch.max(X, a)",
        "@d2l.add_to_class(MLPScratch)\ndef forward(self, X):\n    X = X.reshape((-1, self.num_inputs))\n"
        "    H = relu(torch.matmul(X, self.W1) + self.b1)\n    return torch.matmul(H, self.W2) + self.b2",
        "model = MLPScratch(num_inputs=784, num_outputs=10, num_hiddens=256, lr=0.1)\n"
        "data = d2l.FashionMNIST(batch_size=256)\ntrainer = d2l.Trainer(max_epochs=max_epochs)\ntrainer.fit(model, data)",
        "class MLP(d2l.Classifier):\n    def __init__(self, num_outputs, num_hiddens, lr):\n        super().__init__()\n"
        "        self.save_hyperparameters()\n        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_hiddens),\n"
        "                                 nn.ReLU(), nn.LazyLinear(num_outputs))",
        "model = MLP(num_outputs=10, num_hiddens=256, lr=0.1)\ntrainer.fit(model, data)",
    ],
    "5.3": [],
}


def heading(section: str, style: str = "## {id} {title}") -> str:
    """A section heading in one of the styles students use (``{id}``, ``{title}``)."""
    return style.format(id=section, title=TITLES[section])


def section_cells(section: str, *, style: str = "## {id} {title}", discussion: str | None = None,
                  extra: Sequence[nbformat.NotebookNode] = (), merged: bool = False) -> list[nbformat.NotebookNode]:
    """A heading, the book's cells (or one merged cell), extra cells, then a discussion."""
    cells: list[nbformat.NotebookNode] = [md(heading(section, style))] if style else []
    sources = BOOK[section]
    if merged and sources:
        cells.append(code("\n\n".join(sources)))
    else:
        cells += [code(s) for s in sources]
    cells += list(extra)
    if discussion:
        cells.append(md(f"### Discussion\n\n{discussion}"))
    return cells


def homework_cells(sections: Iterable[str] = SECTIONS, *, style: str = "## {id} {title}",
                   discussions: dict[str, str] | None = None,
                   extra: dict[str, Sequence[nbformat.NotebookNode]] | None = None,
                   parameters: bool = True, merged: Sequence[str] = (),
                   transform: Callable[[str, list[nbformat.NotebookNode]], list[nbformat.NotebookNode]] | None = None,
                   ) -> list[nbformat.NotebookNode]:
    """Cells of a homework notebook over ``sections`` (a title cell, the parameters cell, each section)."""
    cells = [md("# Deep Learning homework 1: d2l chapters 2-5")]
    if parameters:
        cells.append(code(PARAMETERS, "parameters"))
    for section in sections:
        part = section_cells(section, style=style, discussion=(discussions or {}).get(section),
                             extra=(extra or {}).get(section, ()), merged=section in merged)
        cells += transform(section, part) if transform else part
    return cells
