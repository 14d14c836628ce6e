# Kernel side: turn student objects into plain JSON data.
#
# This file is sent into the student's kernel as source text (see runtime/__init__.py)
# and runs there; it must only use the standard library and modules the kernel has.
# Only exact, known types are encoded, through their base-class methods, so that a
# subclass with a lying __eq__, __iter__, __array__ or __float__ cannot choose what the
# grader receives. Everything else becomes {"__unsupported__": type name}.
import struct as _struct

_MAX_STR = 20_000
_MAX_ITEMS = 100_000
_MAX_DEPTH = 12


class _TooLarge(Exception):
    pass


# What the encoder calls is captured right after torch and numpy are imported, before the
# next student statement can run: a notebook that later patches `torch.Tensor.detach`,
# `numpy.ascontiguousarray` or replaces `sys.modules["torch"]` cannot choose the data sent
# back. Methods are taken from the immutable C types (`torch._C.TensorBase`,
# `numpy.ndarray`), which Python code cannot patch.
@_on_import("torch")
def _capture_torch(torch):
    _ORIG["torch"] = {
        "module": torch, "Tensor": torch.Tensor, "TensorBase": torch._C.TensorBase,
        "Parameter": torch.nn.Parameter, "Module": torch.nn.Module, "Size": torch.Size, "dtype": torch.dtype,
        "no_subclass": torch._C.DisableTorchFunctionSubclass, "half": (torch.bfloat16, torch.float16),
        "named_parameters": torch.nn.Module.named_parameters, "named_buffers": torch.nn.Module.named_buffers,
    }


@_on_import("numpy")
def _capture_numpy(np):
    _ORIG["numpy"] = {"module": np, "ndarray": np.ndarray, "generic": np.generic, "dtype": np.dtype,
                      "ascontiguousarray": np.ascontiguousarray, "asarray": np.asarray,
                      "complex128": np.complex128}


def _api(name):
    """The captured torch or numpy entry points; None when the module is not imported."""
    if name not in _ORIG and name in _sys.modules:  # imported while the import watcher was bypassed
        (_capture_torch if name == "torch" else _capture_numpy)(_sys.modules[name])
    return _ORIG.get(name)


def _npy_bytes(arr):
    """The .npy encoding of a numeric ndarray, written here so numpy.save can't be patched in."""
    descr = arr.dtype.str
    header = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, tuple(int(n) for n in arr.shape))
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + _struct.pack("<H", len(header)) + header.encode("latin1") + arr.tobytes(order="C")


def _encode_ndarray(arr, budget, framework, extra=None):
    np = _api("numpy")
    kind = arr.dtype.kind
    if kind not in "biufc" or arr.dtype.hasobject:
        return {"__unsupported__": "ndarray of dtype %s" % arr.dtype}
    if kind == "c":
        arr = arr.astype(np["complex128"])
    nbytes = int(arr.size) * int(arr.dtype.itemsize)
    budget[0] -= nbytes
    if budget[0] < 0:
        raise _TooLarge("array of %d bytes" % nbytes)
    arr = np["ascontiguousarray"](arr).reshape(arr.shape)  # ascontiguousarray alone makes 0-d arrays 1-d
    out = {"__array__": _b64.b64encode(_npy_bytes(arr)).decode("ascii"), "framework": framework,
           "dtype": str(arr.dtype)}
    if extra:
        out.update(extra)
    return out


def _encode_tensor(t, budget):
    torch = _api("torch")
    T = torch["TensorBase"]
    with torch["no_subclass"]():
        base = T.detach(t)
        requires_grad = bool(T.requires_grad.__get__(t))
        is_leaf = bool(T.is_leaf.__get__(t))
        dtype = str(T.dtype.__get__(base))
        if T.is_sparse.__get__(base):
            base = T.to_dense(base)
        if T.dtype.__get__(base) in torch["half"]:
            base = T.float(base)
        base = T.cpu(base)
        if T.is_complex(base):
            base = T.resolve_conj(base)
        grad = T.grad.__get__(t)
        arr = T.numpy(base, force=True)
    extra = {"torch_dtype": dtype, "requires_grad": requires_grad, "is_leaf": is_leaf,
             "subclass": type(t).__name__ if type(t) not in (torch["Tensor"], torch["Parameter"]) else ""}
    if grad is not None and isinstance(grad, T):
        extra["grad"] = _encode_tensor(grad, budget)
    return _encode_ndarray(arr, budget, "torch", extra)


def _encode_float(x):
    if _math.isfinite(x):
        return x
    return {"__float__": "nan" if x != x else ("inf" if x > 0 else "-inf")}


def _module_config(m):
    """Constructor arguments of standard torch.nn layers, enough to rebuild them."""
    names = ("in_features", "out_features", "start_dim", "end_dim", "p", "dim", "negative_slope",
             "alpha", "beta", "threshold", "approximate", "num_parameters", "inplace")
    cfg = {}
    for name in names:
        if name in getattr(m, "__dict__", {}):
            value = m.__dict__[name]
            if type(value) in (int, float, bool, str) or value is None:
                cfg[name] = value
    if "in_features" in cfg:
        cfg["bias"] = m.__dict__.get("_parameters", {}).get("bias") is not None
    return cfg


def _describe_module(m, depth=0):
    cls = type(m)
    node = {"class": cls.__name__, "module": cls.__module__, "config": _module_config(m),
            "forward_from": getattr(cls.forward, "__module__", "") or "",
            "children": []}
    if depth < _MAX_DEPTH:
        for name, child in m.__dict__.get("_modules", {}).items():
            if child is not None:
                node["children"].append([name, _describe_module(child, depth + 1)])
    return node


def _encode_module(m, budget):
    torch = _api("torch")
    params = {}
    for name, p in torch["named_parameters"](m):
        if type(p).__name__ == "UninitializedParameter":
            params[name] = {"__unsupported__": "uninitialized lazy parameter"}
        else:
            params[name] = _encode_tensor(p, budget)
    buffers = {name: _encode_tensor(b, budget) for name, b in torch["named_buffers"](m)}
    extra = {}
    for name, value in m.__dict__.items():
        if isinstance(value, torch["TensorBase"]) and not name.startswith("_"):
            extra[name] = _encode_tensor(value, budget)
    return {"__module__": {"tree": _describe_module(m), "params": params, "buffers": buffers,
                           "tensors": extra, "training": bool(m.__dict__.get("training", True))}}


def _encode_frame(df, budget):
    pd = _sys.modules["pandas"]
    columns = []
    for name in list(pd.DataFrame.keys(df)):
        series = pd.DataFrame.__getitem__(df, name)
        if isinstance(series, pd.DataFrame):
            series = series.iloc[:, 0]
        columns.append(_encode_series(series, budget, name))
    return {"__dataframe__": {"columns": columns, "nrows": int(df.shape[0])}}


def _encode_series(series, budget, name=None):
    pd = _sys.modules["pandas"]
    np = _api("numpy")
    dtype = series.dtype
    entry = {"name": str(series.name if name is None else name), "dtype": str(dtype)}
    if isinstance(dtype, pd.CategoricalDtype):
        entry["categories"] = [str(c) for c in dtype.categories[:_MAX_ITEMS]]
        entry["codes"] = _encode_ndarray(np["asarray"](series.cat.codes.to_numpy(), dtype="int64"), budget, "pandas")
    elif dtype.kind in "biuf" and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        entry["values"] = _encode_ndarray(series.to_numpy(), budget, "pandas")
    elif dtype.kind in "biuf" or str(dtype) == "boolean":
        values = series.to_numpy(dtype="float64", na_value=float("nan"))
        entry["values"] = _encode_ndarray(values, budget, "pandas")
    else:
        items = []
        for v in series.to_list()[:_MAX_ITEMS]:
            if v is None or (isinstance(v, float) and v != v) or v is pd.NA or v is pd.NaT:
                items.append(None)
            else:
                items.append(str.__str__(str(v))[:200])
        budget[0] -= sum(len(s or "") for s in items)
        if budget[0] < 0:
            raise _TooLarge("text column")
        entry["strings"] = items
    return entry


def encode(value, budget=None, depth=0):
    """Plain JSON for ``value``; ``budget`` is a one-item list of bytes still allowed."""
    if budget is None:
        budget = [64 * 1024 * 1024]
    if depth > _MAX_DEPTH:
        return {"__unsupported__": "nesting deeper than %d" % _MAX_DEPTH}
    t = type(value)
    if value is None or t is bool:
        return value
    if t is int:
        return value if abs(value) < 2**53 else {"__bigint__": str(value)}
    if t is float:
        return _encode_float(value)
    if t is str:
        budget[0] -= len(value)
        if budget[0] < 0:
            raise _TooLarge("string")
        return value[:_MAX_STR] if len(value) <= _MAX_STR else {"__str__": value[:_MAX_STR], "length": len(value)}
    if t is complex:
        return {"__complex__": [_encode_float(value.real), _encode_float(value.imag)]}
    if t in (list, tuple) or (isinstance(value, tuple) and hasattr(t, "_fields")):
        items = list(tuple.__iter__(value)) if isinstance(value, tuple) else list(list.__iter__(value))
        if len(items) > _MAX_ITEMS:
            raise _TooLarge("sequence of %d items" % len(items))
        encoded = [encode(v, budget, depth + 1) for v in items]
        return encoded if t is list else {"__tuple__": encoded}
    if t is dict:
        if dict.__len__(value) > _MAX_ITEMS:
            raise _TooLarge("dict of %d items" % dict.__len__(value))
        pairs = [[encode(k, budget, depth + 1), encode(v, budget, depth + 1)] for k, v in dict.items(value)]
        return {"__dict__": pairs}
    if t in (set, frozenset):
        return {"__set__": [encode(v, budget, depth + 1) for v in list(value)[:_MAX_ITEMS]]}
    module = t.__module__.split(".")[0]
    torch = _api("torch")
    np = _api("numpy")
    if torch is not None:
        if t is torch["Size"]:
            return {"__tuple__": [int(n) for n in tuple.__iter__(value)]}
        if isinstance(value, torch["TensorBase"]):
            return _encode_tensor(value, budget)
        if isinstance(value, torch["Module"]):
            return _encode_module(value, budget)
        if t is torch["dtype"]:
            return {"__dtype__": str(value)}
    if np is not None:
        if t is np["ndarray"]:
            return _encode_ndarray(value, budget, "numpy")
        if isinstance(value, np["generic"]) and module == "numpy":
            return _encode_ndarray(np["asarray"](value), budget, "numpy", {"scalar": True})
        if t is np["dtype"] or isinstance(value, np["dtype"]):
            return {"__dtype__": str(value)}
    pd = _sys.modules.get("pandas")
    if pd is not None and module == "pandas":
        if isinstance(value, pd.DataFrame):
            return _encode_frame(value, budget)
        if isinstance(value, pd.Series):
            return {"__series__": _encode_series(value, budget)}
    mpl_figure = _sys.modules.get("matplotlib.figure")
    if mpl_figure is not None and isinstance(value, mpl_figure.Figure):
        return {"__figure__": _figure_data(value)}
    if isinstance(value, BaseException):
        return {"__exception__": [type(value).__name__, _safe_str(value)]}
    return {"__unsupported__": "%s.%s" % (t.__module__, t.__qualname__)}


def _safe_str(exc):
    try:
        text = BaseException.__str__(exc)
    except Exception:
        text = "<unprintable>"
    return text[:2000]
