"""The data store: the course's datasets, verified, in one directory.

``grade data import DIR`` copies a local mirror (such as ``../shared/data``),
``grade data fetch`` downloads from the datasets' home URLs; both verify checksums and
then write decoded ``.npy`` copies that the kernel and the grader load in milliseconds.
The kernel only ever reads this directory; it never downloads anything.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from grader.errors import DataStoreError

__all__ = [
    "DataFile", "DATASETS", "status", "import_mirror", "fetch", "require",
    "load_fashion_mnist", "load_abalone_rows", "ABALONE_COLUMNS",
]

FASHION_URLS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
)
ABALONE_URLS = ("https://archive.ics.uci.edu/ml/machine-learning-databases/abalone/",)
ABALONE_COLUMNS = (
    "Sex", "Length", "Diameter", "Height", "Whole_weight",
    "Shucked_weight", "Viscera_weight", "Shell_weight", "Rings",
)
FIX_HINT = "run `grade data import ../shared/data` (a local mirror) or `grade data fetch` (download)"


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset with its published size and checksum."""

    dataset: str
    name: str
    size: int
    algorithm: str
    digest: str
    bases: tuple[str, ...]

    @property
    def relpath(self) -> str:
        return f"{self.dataset}/{self.name}"

    @property
    def urls(self) -> list[str]:
        return [base + self.name for base in self.bases]


DATASETS: tuple[DataFile, ...] = (
    DataFile("fashion-mnist", "train-images-idx3-ubyte.gz", 26421880, "md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", FASHION_URLS),
    DataFile("fashion-mnist", "train-labels-idx1-ubyte.gz", 29515, "md5", "25c81989df183df01b3e8a0aad5dffbe", FASHION_URLS),
    DataFile("fashion-mnist", "t10k-images-idx3-ubyte.gz", 4422102, "md5", "bef4ecab320f06d8554ea6380940ec79", FASHION_URLS),
    DataFile("fashion-mnist", "t10k-labels-idx1-ubyte.gz", 5148, "md5", "bb300cfdad3c16e7a12a480ee83cd310", FASHION_URLS),
    DataFile("abalone", "abalone.data", 191873, "sha256", "de37cdcdcaaa50c309d514f248f7c2302a5f1f88c168905eba23fe2fbc78449f", ABALONE_URLS),
    DataFile("abalone", "abalone.names", 4323, "sha256", "d70d39884ce8e111fdf9b4c4c077fdb6ccfff9830b0512cf39d6d10abcfa7626", ABALONE_URLS),
)

# Decoded copies written next to the originals: name -> (source file, idx header bytes).
DECODED = {
    "fashion-mnist/train-images.npy": ("train-images-idx3-ubyte.gz", 16),
    "fashion-mnist/train-labels.npy": ("train-labels-idx1-ubyte.gz", 8),
    "fashion-mnist/test-images.npy": ("t10k-images-idx3-ubyte.gz", 16),
    "fashion-mnist/test-labels.npy": ("t10k-labels-idx1-ubyte.gz", 8),
}


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _problem(root: Path, spec: DataFile) -> str | None:
    path = root / spec.relpath
    if not path.is_file():
        return "missing"
    if path.stat().st_size != spec.size:
        return f"size {path.stat().st_size}, expected {spec.size}"
    if _digest(path, spec.algorithm) != spec.digest:
        return f"{spec.algorithm} mismatch"
    return None


def status(root: Path) -> list[tuple[DataFile, str]]:
    """Each dataset file with 'ok' or what is wrong with it."""
    return [(spec, _problem(root, spec) or "ok") for spec in DATASETS]


def _install(src: Path, dest: Path, spec: DataFile) -> None:
    """Copy ``src`` to ``dest`` atomically after verifying its checksum."""
    if src.stat().st_size != spec.size or _digest(src, spec.algorithm) != spec.digest:
        raise DataStoreError(f"{src}: checksum mismatch for {spec.relpath}; the file is corrupt or not the published one")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    os.close(fd)
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)


def _decode_all(root: Path) -> None:
    for name, (source, header) in DECODED.items():
        out = root / name
        if out.is_file():
            continue
        raw = gzip.decompress((root / "fashion-mnist" / source).read_bytes())
        array = np.frombuffer(raw, dtype=np.uint8, offset=header)
        if "images" in name:
            array = array.reshape(-1, 28, 28)
        tmp = out.with_suffix(".part.npy")
        np.save(tmp, array)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)


def _resize_cache(root: Path) -> None:
    """32 x 32 copies (the book's ``resize=(32, 32)``), made with PIL's bilinear filter as
    torchvision's Resize does on PIL images; the kernel checks them before use."""
    from PIL import Image

    for split in ("train", "test"):
        out = root / f"fashion-mnist/{split}-images-32x32.npy"
        if out.is_file():
            continue
        images = np.load(root / f"fashion-mnist/{split}-images.npy")
        resized = np.stack([np.asarray(Image.fromarray(img, mode="L").resize((32, 32), Image.BILINEAR))
                            for img in images])
        tmp = out.with_suffix(".part.npy")
        np.save(tmp, resized)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)


def import_mirror(source: Path, root: Path, log: Callable[[str], None] = print) -> None:
    """Copy every dataset file from a local mirror laid out like the store."""
    for spec in DATASETS:
        if _problem(root, spec) is None:
            log(f"ok       {spec.relpath}")
            continue
        candidates = [source / spec.relpath, source / spec.name]
        src = next((p for p in candidates if p.is_file()), None)
        if src is None:
            raise DataStoreError(f"{source}: no {spec.relpath} in this mirror; {FIX_HINT}")
        _install(src, root / spec.relpath, spec)
        log(f"imported {spec.relpath}")
    _decode_all(root)
    _resize_cache(root)


def _download(url: str, dest: Path, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response, dest.open("wb") as fh:
        shutil.copyfileobj(response, fh)


def fetch(root: Path, log: Callable[[str], None] = print, timeout: float = 60.0,
          download: Callable[[str, Path, float], None] = _download) -> None:
    """Download every missing or corrupt file from its home URL, verifying checksums."""
    for spec in DATASETS:
        if _problem(root, spec) is None:
            log(f"ok         {spec.relpath}")
            continue
        errors = []
        for url in spec.urls:
            with tempfile.TemporaryDirectory() as tmpdir:
                tmp = Path(tmpdir) / spec.name
                try:
                    download(url, tmp, timeout)
                    _install(tmp, root / spec.relpath, spec)
                except (OSError, DataStoreError) as exc:
                    errors.append(f"{url}: {exc}")
                    continue
            log(f"downloaded {spec.relpath}")
            break
        else:
            raise DataStoreError(f"could not download {spec.relpath}: " + "; ".join(errors))
    _decode_all(root)
    _resize_cache(root)


def require(root: Path, datasets: Iterable[str] = ("fashion-mnist", "abalone")) -> None:
    """Fail with a clear message unless the named datasets are present (size check only)."""
    for spec in DATASETS:
        if spec.dataset not in datasets:
            continue
        path = root / spec.relpath
        if not path.is_file() or path.stat().st_size != spec.size:
            raise DataStoreError(f"data store {root}: {spec.relpath} is missing or incomplete; {FIX_HINT}")
    if "fashion-mnist" in datasets and not all((root / n).is_file() for n in DECODED):
        _decode_all(root)


def load_fashion_mnist(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N x 28 x 28 uint8) and labels (N int64) of ``split`` ('train' or 'test')."""
    require(root, ("fashion-mnist",))
    images = np.load(root / f"fashion-mnist/{split}-images.npy", mmap_mode="r")
    labels = np.load(root / f"fashion-mnist/{split}-labels.npy").astype(np.int64)
    return images, labels


def load_abalone_rows(root: Path) -> list[list[str]]:
    """The raw Abalone rows as strings (no header in the original file)."""
    require(root, ("abalone",))
    text = (root / "abalone/abalone.data").read_text(encoding="ascii")
    return [line.split(",") for line in text.splitlines() if line.strip()]
