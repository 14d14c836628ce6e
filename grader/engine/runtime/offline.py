# Kernel side: the course's datasets served from the data store, offline and fast.
#
# torchvision.datasets.FashionMNIST (and so d2l.FashionMNIST) reads the store whatever
# root or download flag it is given. Deterministic transforms are applied to every
# image once, through the very transform object, and the results are kept in memory:
# __getitem__ then returns the same tensors the per-image path would, and loaders over
# these datasets run in the main process (num_workers=0), which draws the same shuffled
# order from the same seed, and fetch each batch with one indexing of those tensors. ucimlrepo.fetch_ucirepo(id=1) and pandas.read_csv of the
# UCI Abalone URL read the store's copy of abalone.data.
_DETERMINISTIC_TRANSFORMS = {"ToTensor", "PILToTensor", "Resize", "CenterCrop", "Normalize",
                             "Grayscale", "Pad", "ConvertImageDtype"}
_fashion_cache = {}
_ABALONE_COLUMNS = ["Sex", "Length", "Diameter", "Height", "Whole_weight",
                    "Shucked_weight", "Viscera_weight", "Shell_weight", "Rings"]
_ABALONE_URL_PARTS = ("archive.ics.uci.edu", "abalone")
# The same words as grader.datastore.FIX_HINT (a test keeps the two equal): the kernel
# cannot import the grader, so the hint travels here as text.
_STORE_FIX_HINT = "run `grade data import ../shared/data` (a local mirror) or `grade data fetch` (download)"


def _store_path(*parts):
    import os
    return os.path.join(_CONFIG["data_dir"], *parts)


def _store_file(*parts):
    """The path of a data store file, or FileNotFoundError saying which file and how to fix it."""
    import os
    path = _store_path(*parts)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            "d2l-grade serves this dataset offline from its data store, but %s has no %s; %s, then grade again"
            % (_CONFIG["data_dir"] or "(no data store configured)", "/".join(parts), _STORE_FIX_HINT))
    return path


def _fashion_arrays(train):
    key = ("raw", bool(train))
    if key not in _fashion_cache:
        np = __import__("numpy")
        torch = __import__("torch")
        split = "train" if train else "test"
        images = np.load(_store_file("fashion-mnist", split + "-images.npy"))
        labels = np.load(_store_file("fashion-mnist", split + "-labels.npy")).astype("int64")
        _fashion_cache[key] = (torch.from_numpy(images), torch.from_numpy(labels))
    data, targets = _fashion_cache[key]
    return data.clone(), targets.clone()


def _transform_steps(transform):
    if transform is None:
        return None
    if type(transform).__name__ == "Compose":
        steps = list(transform.transforms)
    else:
        steps = [transform]
    if all(type(t).__name__ in _DETERMINISTIC_TRANSFORMS and type(t).__module__.startswith("torchvision")
           for t in steps):
        return steps
    return None


def _is_identity_resize(step):
    if type(step).__name__ != "Resize" or step.max_size is not None:
        return False
    size = step.size if isinstance(step.size, (list, tuple)) else [step.size]
    return list(size) in ([28, 28], [28])


def _resized_uint8(dataset, resize):
    """Every image through ``resize`` as uint8, read from the store's cache when it has this size."""
    np = __import__("numpy")
    import os
    from PIL import Image
    from torchvision.transforms import functional as F
    size = resize.size if isinstance(resize.size, (list, tuple)) else [resize.size]
    h, w = F._compute_resized_output_size((28, 28), list(size), resize.max_size)
    mode = F.pil_modes_mapping[resize.interpolation]
    split = "train" if dataset.train else "test"
    cached = _store_path("fashion-mnist", "%s-images-%dx%d.npy" % (split, h, w))
    sample = [Image.fromarray(img.numpy(), mode="L") for img in dataset.data[:4]]
    reference = np.stack([np.asarray(resize(img)) for img in sample])
    if mode == Image.BILINEAR and os.path.exists(cached):
        out = np.load(cached)
        if np.array_equal(out[:4], reference):
            return out
    out = np.stack([np.asarray(Image.fromarray(img, mode="L").resize((w, h), mode)) for img in dataset.data.numpy()])
    if not np.array_equal(out[:4], reference):
        return None
    return out


def _precompute(dataset, steps):
    """Every item's transformed image, computed once, bit-identical to the per-image path."""
    torch = __import__("torch")
    names = [type(s).__name__ for s in steps if not _is_identity_resize(s)]
    pixels = None
    if names and names[0] == "ToTensor" and set(names[1:]) <= {"Normalize"}:
        pixels = dataset.data
    elif names[:2] == ["Resize", "ToTensor"] and set(names[2:]) <= {"Normalize"}:
        resize = next(s for s in steps if type(s).__name__ == "Resize")
        resized = _resized_uint8(dataset, resize)
        pixels = torch.from_numpy(resized) if resized is not None else None
    if pixels is not None:
        out = pixels.unsqueeze(1).to(torch.get_default_dtype()).div(255)
        for step in steps:
            if type(step).__name__ == "Normalize":
                mean = torch.as_tensor(step.mean, dtype=out.dtype).view(-1, 1, 1)
                std = torch.as_tensor(step.std, dtype=out.dtype).view(-1, 1, 1)
                out = out.sub(mean).div(std)
        return out
    from PIL import Image
    transform = dataset.transform
    items = [transform(Image.fromarray(img.numpy(), mode="L")) for img in dataset.data]
    if all(isinstance(x, torch.Tensor) for x in items):
        return torch.stack(items)
    return items


def _patch_torchvision_mnist(mnist):
    Base = mnist.FashionMNIST
    if getattr(Base, "_d2lgrade", False):
        return

    class FashionMNIST(Base):
        _d2lgrade = True
        __doc__ = Base.__doc__

        def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
            mnist.VisionDataset.__init__(self, root, transform=transform, target_transform=target_transform)
            self.train = train
            self.data, self.targets = _fashion_arrays(train)
            self._pristine = (self.data, self.transform)
            self._items = None

        def _fast_items(self):
            data, transform = self._pristine
            if data is not self.data or transform is not self.transform:  # replaced (`==` would compare tensors)
                return None
            if self._items is None:
                steps = _transform_steps(self.transform)
                if steps is None:
                    self._pristine = (None, None)
                    return None
                key = (bool(self.train), repr(self.transform))
                if key not in _fashion_cache:
                    _fashion_cache[key] = _precompute(self, steps)
                self._items = _fashion_cache[key]
            return self._items

        def __getitem__(self, index):
            items = self._fast_items()
            if items is None:
                return Base.__getitem__(self, index)
            img = items[index]
            img = img.clone() if hasattr(img, "clone") else img
            target = int(self.targets[index])
            if self.target_transform is not None:
                target = self.target_transform(target)
            return img, target

        def _d2lgrade_batch(self, indices):
            """The collated batch of ``indices`` (what default_collate makes of the items), or
            None when the per-item path must run: a subclass's own __getitem__, a target
            transform, changed data or targets, indices other than in-range ints."""
            if type(self).__getitem__ is not FashionMNIST.__getitem__ or self.target_transform is not None:
                return None
            items = self._fast_items()
            torch = _sys.modules["torch"]
            targets = self.targets
            if not isinstance(items, torch.Tensor) or not isinstance(targets, torch.Tensor) \
                    or targets.dtype != torch.int64 or targets.dim() != 1 or len(targets) != len(items):
                return None
            if type(indices) is not list or not indices or not all(type(i) is int for i in indices) \
                    or min(indices) < 0 or max(indices) >= len(items):
                return None
            index = torch.tensor(indices, dtype=torch.int64)
            return [items.index_select(0, index), targets.index_select(0, index)]

        def _check_exists(self):
            return True

        def download(self):
            return None

    FashionMNIST.__name__ = FashionMNIST.__qualname__ = "FashionMNIST"
    FashionMNIST.__module__ = Base.__module__
    mnist.FashionMNIST = FashionMNIST
    datasets = _sys.modules.get("torchvision.datasets")
    if datasets is not None:
        datasets.FashionMNIST = FashionMNIST


def _patch_dataloader(data_module):
    Loader = data_module.DataLoader
    original_init = Loader.__init__
    if getattr(original_init, "_d2lgrade", False):
        return
    import inspect
    signature = inspect.signature(original_init)

    def __init__(self, dataset, *args, **kwargs):
        if getattr(type(dataset), "_d2lgrade", False):
            bound = signature.bind(self, dataset, *args, **kwargs)
            bound.arguments["num_workers"] = 0
            bound.arguments.pop("prefetch_factor", None)
            bound.arguments.pop("multiprocessing_context", None)
            if "persistent_workers" in bound.arguments:
                bound.arguments["persistent_workers"] = False
            return original_init(*bound.args, **bound.kwargs)
        return original_init(self, dataset, *args, **kwargs)

    __init__._d2lgrade = True
    __init__.__wrapped__ = original_init
    Loader.__init__ = __init__


def _patch_fetch(fetch_module):
    """Batches of the grader's FashionMNIST in one indexing each (a batch of 256 was 256
    __getitem__ calls and a collate: most of an epoch's time); anything else as before."""
    Fetcher = fetch_module._MapDatasetFetcher
    original = Fetcher.fetch
    if getattr(original, "_d2lgrade", False):
        return
    default_collate = __import__("torch.utils.data._utils.collate", fromlist=["x"]).default_collate

    def fetch(self, possibly_batched_index):
        batch_of = getattr(type(self.dataset), "_d2lgrade_batch", None)
        if batch_of is not None and self.auto_collation and self.collate_fn is default_collate:
            _trace["paused"] += 1  # the runtime's own work: not the notebook's operations
            try:
                batch = batch_of(self.dataset, possibly_batched_index)
            finally:
                _trace["paused"] -= 1
            if batch is not None:
                return batch
        return original(self, possibly_batched_index)

    fetch._d2lgrade = True
    fetch.__wrapped__ = original
    Fetcher.fetch = fetch


def _abalone_frame():
    pd = __import__("pandas")
    return pd.read_csv(_store_file("abalone", "abalone.data"), header=None, names=_ABALONE_COLUMNS)


def _is_abalone_url(value):
    return isinstance(value, str) and all(p in value.lower() for p in _ABALONE_URL_PARTS) \
        and value.lower().endswith((".data", ".csv", "abalone"))


def _patch_pandas(pd):
    original = pd.read_csv
    if getattr(original, "_d2lgrade", False):
        return

    def read_csv(filepath_or_buffer, *args, **kwargs):
        if _is_abalone_url(filepath_or_buffer):
            _record_offline("pandas.read_csv", filepath_or_buffer)
            filepath_or_buffer = _store_file("abalone", "abalone.data")
        frame = original(filepath_or_buffer, *args, **kwargs)
        _note_frame(filepath_or_buffer if isinstance(filepath_or_buffer, str) else "a buffer", frame)
        return frame

    read_csv._d2lgrade = True
    read_csv.__doc__ = original.__doc__
    read_csv.__wrapped__ = original
    pd.read_csv = read_csv


_ABALONE_TYPES = ["Categorical"] + ["Continuous"] * 7 + ["Integer"]
_ABALONE_UNITS = [None, "mm", "mm", "mm", "grams", "grams", "grams", "grams", None]


def _fetch_abalone():
    pd = __import__("pandas")
    dotdict = __import__("ucimlrepo.dotdict", fromlist=["dotdict"]).dotdict
    df = _abalone_frame()
    variables = pd.DataFrame({
        "name": _ABALONE_COLUMNS,
        "role": ["Feature"] * 8 + ["Target"],
        "type": _ABALONE_TYPES,
        "demographic": [None] * 9,
        "description": ["M, F, and I (infant)", "longest shell measurement", "perpendicular to length",
                        "with meat in shell", "whole abalone", "weight of meat", "gut weight (after bleeding)",
                        "after being dried", "+1.5 gives the age in years"],
        "units": _ABALONE_UNITS,
        "missing_values": ["no"] * 9,
    })
    metadata = {"uci_id": 1, "name": "Abalone", "repository_url": "https://archive.ics.uci.edu/dataset/1/abalone",
                "data_url": "https://archive.ics.uci.edu/static/public/1/data.csv",
                "abstract": "Predict the age of abalone from physical measurements",
                "area": "Biology", "tasks": ["Classification", "Regression"], "characteristics": ["Tabular"],
                "num_instances": 4177, "num_features": 8, "feature_types": ["Categorical", "Integer", "Real"],
                "target_col": ["Rings"], "has_missing_values": "no", "year_of_dataset_creation": 1994,
                "additional_info": None, "intro_paper": None}
    data = {"ids": None, "features": df[_ABALONE_COLUMNS[:8]], "targets": df[["Rings"]], "original": df,
            "headers": pd.Index(_ABALONE_COLUMNS)}
    return dotdict({"data": dotdict(data), "metadata": dotdict(metadata), "variables": variables})


def _patch_ucimlrepo(pkg):
    fetch_module = _sys.modules.get("ucimlrepo.fetch")
    original = pkg.fetch_ucirepo

    def fetch_ucirepo(name=None, id=None):
        if id == 1 or (isinstance(name, str) and name.strip().lower() == "abalone"):
            _record_offline("ucimlrepo.fetch_ucirepo", "id=1 (Abalone)")
            repo = _fetch_abalone()
            _note_frame("ucimlrepo id=1 (Abalone)", repo.data.original)
            return repo
        return original(name=name, id=id)

    fetch_ucirepo.__doc__ = original.__doc__
    pkg.fetch_ucirepo = fetch_ucirepo
    if fetch_module is not None:
        fetch_module.fetch_ucirepo = fetch_ucirepo


def _record_offline(api, what):
    _STATE["offline_served"].append("%s: %s" % (api, what))
