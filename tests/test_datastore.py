import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from grader import datastore
from grader.errors import DataStoreError

MIRROR = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def _fake_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny dataset with real checksums, so import/fetch logic runs without 30 MB copies."""
    src = tmp_path / "mirror" / "toy"
    src.mkdir(parents=True)
    (src / "a.txt").write_bytes(b"hello")
    spec = datastore.DataFile("toy", "a.txt", 5, "md5", hashlib.md5(b"hello").hexdigest(), ("http://example.invalid/",))
    monkeypatch.setattr(datastore, "DATASETS", (spec,))
    monkeypatch.setattr(datastore, "_decode_all", lambda root: None)
    monkeypatch.setattr(datastore, "_resize_cache", lambda root: None)
    return tmp_path / "mirror"


def test_import_verifies_and_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = _fake_specs(tmp_path, monkeypatch)
    store = tmp_path / "store"
    datastore.import_mirror(mirror, store, log=lambda s: None)
    assert (store / "toy/a.txt").read_bytes() == b"hello"
    assert [s for _, s in datastore.status(store)] == ["ok"]
    (mirror / "toy/a.txt").write_bytes(b"HELLO")
    with pytest.raises(DataStoreError, match="checksum mismatch for toy/a.txt"):
        datastore.import_mirror(mirror, tmp_path / "other", log=lambda s: None)
    (store / "toy/a.txt").write_bytes(b"hellO")
    assert [s for _, s in datastore.status(store)] == ["md5 mismatch"]


def test_missing_file_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_specs(tmp_path, monkeypatch)
    with pytest.raises(DataStoreError, match=r"no toy/a.txt in this mirror; run `grade data import"):
        datastore.import_mirror(tmp_path / "empty", tmp_path / "store", log=lambda s: None)
    with pytest.raises(DataStoreError, match=r"toy/a.txt is missing or incomplete; run `grade data import"):
        datastore.require(tmp_path / "store", ("toy",))


def test_fetch_tries_each_url_and_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_specs(tmp_path, monkeypatch)
    calls = []

    def download(url: str, dest: Path, timeout: float) -> None:
        calls.append(url)
        dest.write_bytes(b"hello")

    datastore.fetch(tmp_path / "store", log=lambda s: None, download=download)
    assert calls == ["http://example.invalid/a.txt"]

    def broken(url: str, dest: Path, timeout: float) -> None:
        dest.write_bytes(b"tampered")

    with pytest.raises(DataStoreError, match="could not download toy/a.txt: .*checksum mismatch"):
        datastore.fetch(tmp_path / "store2", log=lambda s: None, download=broken)


@pytest.mark.skipif(not MIRROR.is_dir(), reason="needs ../shared/data")
def test_real_mirror_decodes_to_the_published_shapes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(MIRROR / "fashion-mnist", store / "fashion-mnist")
    datastore._decode_all(store)
    train = np.load(store / "fashion-mnist/train-images.npy")
    labels = np.load(store / "fashion-mnist/test-labels.npy")
    assert train.shape == (60000, 28, 28) and labels.shape == (10000,) and set(labels.tolist()) == set(range(10))
    raw = gzip.decompress((store / "fashion-mnist/train-images-idx3-ubyte.gz").read_bytes())
    assert np.array_equal(train[0].ravel(), np.frombuffer(raw, np.uint8, count=784, offset=16))


def test_loaders_on_the_configured_store(options) -> None:  # type: ignore[no-untyped-def]
    images, labels = datastore.load_fashion_mnist(options.data_path, "test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8 and labels[:3].tolist() == [9, 2, 1]
    rows = datastore.load_abalone_rows(options.data_path)
    assert len(rows) == 4177 and len(rows[0]) == 9 and rows[0][0] == "M"
