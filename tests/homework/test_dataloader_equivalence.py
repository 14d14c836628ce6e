"""The grader serves Fashion-MNIST from memory; it must be exactly what the book's path gives.

The real path: torchvision's FashionMNIST reading the idx files from a root, as a
student's notebook does after downloading, through a DataLoader with worker processes.
The grader's path: the runtime's FashionMNIST (data store, transforms applied once), its
DataLoader (workers forced to 0) and its fetcher (a batch is one indexing of the tensors
in memory). Same items, same batches, same order, same seed. A notebook's own dataset
keeps everything the book's path has: its workers, its __getitem__.
"""

from __future__ import annotations

import gzip
import shutil
import types
from pathlib import Path

import pytest
import torch
import torchvision
from torch.utils.data import DataLoader, Dataset, get_worker_info
from torch.utils.data._utils import fetch
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
    monkeypatch.setattr(fetch._MapDatasetFetcher, "fetch", fetch._MapDatasetFetcher.fetch)  # restored after the test
    rt._patch_fetch(fetch)
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


def _count_items(monkeypatch: pytest.MonkeyPatch, cls: type) -> list[int]:
    """Indices passed to ``cls.__getitem__`` from now on (the per-item path)."""
    seen: list[int] = []
    original = cls.__getitem__

    def counted(self, index):  # type: ignore[no-untyped-def]
        seen.append(index)
        return original(self, index)

    monkeypatch.setattr(cls, "__getitem__", counted)
    return seen


def test_a_batch_is_one_indexing_not_one_call_per_item(paths, root: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real_class, grader_class, loader_class = paths
    t = TRANSFORMS["d2l default (Resize 28, ToTensor)"]
    ours = grader_class(root=str(root), train=True, transform=t)
    batch = ours._d2lgrade_batch([5, 0, 59_999, 5])
    assert batch is not None and [b.dtype for b in batch] == [torch.float32, torch.int64]
    real = real_class(root=str(root), train=True, transform=t)
    for i, n in enumerate([5, 0, 59_999, 5]):
        assert torch.equal(batch[0][i], real[n][0]) and int(batch[1][i]) == real[n][1]
    batch[0].zero_()  # a batch is the notebook's own copy
    assert float(ours[5][0].sum()) > 0
    for odd in ([], [60_000], [-1], [1.0], [True], (0, 1)):
        assert ours._d2lgrade_batch(odd) is None, odd
    seen = _count_items(monkeypatch, grader_class)
    x, y = next(iter(loader_class(ours, 256, shuffle=True, num_workers=4)))
    assert (x.shape, y.shape, seen) == ((256, 1, 28, 28), (256,), [])


@pytest.mark.parametrize(("change", "per_item"), [("target_transform", True), ("subclass", True), ("data", True),
                                                  ("targets", False)])
def test_changed_datasets_give_the_books_batches(paths, root: Path, monkeypatch, change: str,  # type: ignore[no-untyped-def]
                                                 per_item: bool) -> None:
    """A target transform, a subclass's own __getitem__, replaced data: each item goes
    through __getitem__ as in the book. Replaced targets are read as they are now, in one
    indexing. Either way the batches are the book's."""
    real_class, grader_class, loader_class = paths
    t = TRANSFORMS["ToTensor"]
    kwargs = {"target_transform": lambda y: y + 100} if change == "target_transform" else {}
    real = real_class(root=str(root), train=False, transform=t, **kwargs)
    cls = grader_class
    if change == "subclass":
        cls = type("Flipped", (grader_class,), {"__getitem__": lambda self, i: grader_class.__getitem__(self, 9_999 - i)})
        real = torch.utils.data.Subset(real, range(9_999, -1, -1))
    ours = cls(root=str(root), train=False, transform=t, **kwargs)
    if change == "data":
        ours.data = real.data = ours.data.flip(0)
    if change == "targets":
        ours.targets = real.targets = ours.targets.flip(0)
    seen = _count_items(monkeypatch, cls)
    book = DataLoader(real, 100, shuffle=False)
    graded = loader_class(ours, 100, shuffle=False, num_workers=4)
    for _, (x1, y1), (x2, y2) in zip(range(3), book, graded):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert len(seen) == (300 if per_item else 0)


class Squares(Dataset):  # a notebook's own dataset
    def __len__(self) -> int:
        return 32

    def __getitem__(self, i: int):  # type: ignore[no-untyped-def]
        info = get_worker_info()
        return torch.tensor([float(i * i)]), -1 if info is None else info.id


def test_a_notebooks_own_dataset_keeps_its_workers(paths) -> None:  # type: ignore[no-untyped-def]
    _, _, loader_class = paths
    loader = loader_class(Squares(), batch_size=4, num_workers=2)
    assert loader.num_workers == 2
    batches = list(loader)
    assert torch.cat([x for x, _ in batches]).flatten().tolist() == [float(i * i) for i in range(32)]
    assert {int(w) for _, ws in batches for w in ws} == {0, 1}   # items made in both worker processes
