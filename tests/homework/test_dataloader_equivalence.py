"""The grader serves Fashion-MNIST from memory; it must be exactly what the book's path gives.

The real path: torchvision's FashionMNIST reading the idx files from a root, as a
student's notebook does after downloading, through a DataLoader with worker processes.
The grader's path: the runtime's FashionMNIST (data store, transforms applied once) and
its DataLoader (workers forced to 0). Same items, same batches, same order, same seed.
"""

from __future__ import annotations

import gzip
import shutil
import types
from pathlib import Path

import pytest
import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import mnist

from grader.config import load_options
from grader.engine.runtime import load_namespace

DATA = load_options().data_path / "fashion-mnist"
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
pytestmark = pytest.mark.skipif(not all((DATA / f"{f}.gz").is_file() for f in FILES), reason="no data store")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root as torchvision leaves it after a download: FashionMNIST/raw/<idx files>."""
    base = tmp_path_factory.mktemp("data")
    raw = base / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILES:
        with gzip.open(DATA / f"{name}.gz", "rb") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return base


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """(the real dataset class, the grader's dataset class, the grader's DataLoader class)."""
    real = mnist.FashionMNIST
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", real)  # restored after the test
    rt = load_namespace()
    rt._CONFIG["data_dir"] = str(DATA.parent)
    fake_mnist = types.SimpleNamespace(FashionMNIST=real, VisionDataset=mnist.VisionDataset)
    rt._patch_torchvision_mnist(fake_mnist)
    loader_class = type("Loader", (DataLoader,), {})
    rt._patch_dataloader(types.SimpleNamespace(DataLoader=loader_class))
    torch.set_num_threads(1)
    return real, fake_mnist.FashionMNIST, loader_class


TRANSFORMS = {
    "ToTensor": transforms.ToTensor(),
    "d2l default (Resize 28, ToTensor)": transforms.Compose([transforms.Resize((28, 28)), transforms.ToTensor()]),
    "d2l 4.2 (Resize 32, ToTensor)": transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()]),
    "Normalize": transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]),
}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_same_items(paths, root: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    real_class, grader_class, _ = paths
    for train in (True, False):
        real = real_class(root=str(root), train=train, transform=TRANSFORMS[name], download=False)
        ours = grader_class(root="/nowhere", train=train, transform=TRANSFORMS[name], download=True)
        assert len(real) == len(ours)
        for i in (0, 1, 2, 777, len(real) - 1):
            (x1, y1), (x2, y2) = real[i], ours[i]
            assert y1 == y2 and x1.dtype == x2.dtype and torch.equal(x1, x2), (name, train, i)


@pytest.mark.parametrize("name", ["d2l default (Resize 28, ToTensor)", "d2l 4.2 (Resize 32, ToTensor)"])
def test_same_batches_in_the_same_order(paths, root: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    real_class, grader_class, loader_class = paths
    real = real_class(root=str(root), train=True, transform=TRANSFORMS[name])
    ours = grader_class(root=str(root), train=True, transform=TRANSFORMS[name])
    for seed in (0, 123):
        torch.manual_seed(seed)
        book = iter(DataLoader(real, 64, shuffle=True, num_workers=2))
        book_batches = [next(book) for _ in range(3)]
        after_book = torch.rand(3)  # what the notebook's next random call gets
        torch.manual_seed(seed)
        graded = loader_class(ours, 64, shuffle=True, num_workers=4)
        assert graded.num_workers == 0
        graded_iter = iter(graded)
        graded_batches = [next(graded_iter) for _ in range(3)]
        after_graded = torch.rand(3)
        for (x1, y1), (x2, y2) in zip(book_batches, graded_batches):
            assert torch.equal(y1, y2) and torch.equal(x1, x2)
        assert torch.equal(after_book, after_graded)


def test_validation_loader_is_in_file_order(paths, root: Path) -> None:  # type: ignore[no-untyped-def]
    real_class, grader_class, loader_class = paths
    t = TRANSFORMS["d2l default (Resize 28, ToTensor)"]
    book = DataLoader(real_class(root=str(root), train=False, transform=t), 256, shuffle=False, num_workers=2)
    graded = loader_class(grader_class(root=str(root), train=False, transform=t), 256, shuffle=False, num_workers=4)
    for (x1, y1), (x2, y2), _ in zip(book, graded, range(2)):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
