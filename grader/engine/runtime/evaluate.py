# Kernel side: evaluate one probe request and send its answer back as plain data.
#
# A request is JSON built by grader/probe.py: steps that look up the student's globals,
# call the student's functions on the grader's inputs, and the names of the step
# results to send back. Student exceptions become data ({"raised": [type, message]});
# the grader decides what they are worth. A request may carry a `guard`: forbidden calls
# watched while the named student functions run (guard.py); what was seen rides along
# in the answer as `guarded`.


_RUNTIME_CALLS = {"environment"}


class _Raised:
    def __init__(self, exc):
        self.type = type(exc).__name__
        self.message = _safe_str(exc)
        # the first failure of a chain of steps, so later steps can name the real cause
        self.root = getattr(exc, "_d2lgrade_root", None) or self


def _decode_array(node):
    import io
    np = __import__("numpy")
    arr = np.load(io.BytesIO(_b64.b64decode(node["npy"])), allow_pickle=False)
    if node.get("torch"):
        torch = __import__("torch")
        t = torch.from_numpy(arr.copy())
        if node.get("requires_grad"):
            t.requires_grad_(True)
        return t
    return arr


def _fashion_node(node):
    torch = __import__("torch")
    data, targets = _fashion_arrays(node["split"] == "train")
    if node.get("indices") is not None:
        index = torch.from_numpy(_decode_array({"npy": node["indices"]}).astype("int64"))
        data, targets = data[index], targets[index]
    if node["part"] == "labels":
        return targets
    images = data.to(torch.float32)
    images.div_(255)  # in place: the float copy is new, and 60,000 images are 188 MB
    return images.reshape(len(images), -1) if node.get("flatten") else images.unsqueeze(1)


def _frame_node(node):
    """A pandas DataFrame from the grader's plain columns (arrays or strings with None)."""
    pd = __import__("pandas")
    data = {}
    for col in node["columns"]:
        if "npy" in col:
            values = _decode_array({"npy": col["npy"]})
        else:
            values = [None if s is None else str(s) for s in col["strings"]]
        data[col["name"]] = pd.Series(values, dtype=col.get("dtype"))
    return pd.DataFrame(data)


def _lookup_global(name):
    ns = _ORIG["user_ns"]
    if name not in ns:
        raise NameError("name %r is not defined in the notebook" % name)
    return ns[name]


def _call(fn, args, kwargs):
    if not callable(fn):
        raise TypeError("%s object is not callable" % type(fn).__name__)
    return fn(*args, **kwargs)


def _logits(model, X, batch=2048):
    torch = __import__("torch")
    was_training = getattr(model, "training", None)
    if isinstance(model, torch.nn.Module):
        model.eval()
    try:
        with torch.no_grad():
            outs = [model(X[i:i + batch]) for i in range(0, len(X), batch)]
    finally:
        if was_training and isinstance(model, torch.nn.Module):
            model.train()
    return torch.cat([torch.as_tensor(o) for o in outs])


def _eval(node, env):
    kind = node["kind"]
    if kind == "const":
        return _decode_const(node["value"])
    if kind == "array":
        return _decode_array(node)
    if kind == "global":
        return _lookup_global(node["name"])
    if kind == "ref":
        value = env[node["name"]]
        if isinstance(value, _Raised):
            exc = RuntimeError("step %r failed earlier: %s: %s" % (node["name"], value.root.type, value.root.message))
            exc._d2lgrade_root = value.root
            raise exc
        return value
    if kind == "fashion":
        return _fashion_node(node)
    if kind == "frame":
        return _frame_node(node)
    if kind == "call":
        fn = _eval(node["fn"], env)
        args = [_eval(a, env) for a in node.get("args", [])]
        kwargs = {k: _eval(v, env) for k, v in node.get("kwargs", {}).items()}
        return _invoke(node["fn"], fn, args, kwargs)
    if kind == "map":
        fn = _eval(node["fn"], env)
        results = []
        for item in node["calls"]:
            args = [_eval(a, env) for a in item.get("args", [])]
            kwargs = {k: _eval(v, env) for k, v in item.get("kwargs", {}).items()}
            _reseed(node.get("seed"))
            try:
                results.append(_invoke(node["fn"], fn, args, kwargs))
            except KeyboardInterrupt:
                raise  # the grader's own time limit (or the student's): stop this probe
            except BaseException as exc:  # SystemExit from a student function is an outcome too
                results.append(_Raised(exc))
        return results
    if kind == "logits":
        return _logits(_eval(node["model"], env), _eval(node["X"], env))
    if kind == "runtime" and node["name"] in _RUNTIME_CALLS:
        return globals()[node["name"]]
    if kind == "attribute":
        return getattr(_eval(node["of"], env), node["name"])
    raise ValueError("unknown probe node %r" % kind)


def _decode_const(value):
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_decode_const(v) for v in value["__tuple__"])
    if isinstance(value, list):
        return [_decode_const(v) for v in value]
    return value


def _reseed(seed):
    if seed is None:
        return
    import random
    random.seed(seed)
    if "numpy" in _sys.modules:
        _sys.modules["numpy"].random.seed(seed)
    if "torch" in _sys.modules:
        _sys.modules["torch"].manual_seed(seed)


def _encode_result(value, budget):
    if isinstance(value, _Raised):
        return {"raised": [value.type, value.message]}
    try:
        return {"ok": encode(value, budget)}
    except _TooLarge as exc:
        return {"raised": ["ValueTooLarge", "the value is too large for the grader (%s)" % exc]}
    except Exception as exc:
        return {"raised": ["UnencodableValue", "%s: %s" % (type(exc).__name__, _safe_str(exc))]}


def answer(request_json):
    """Evaluate one probe request and publish its single answer."""
    request = _ORIG["json.loads"](request_json)
    started = _time.perf_counter()
    env = {}
    _STATE["in_probe"] = True
    # forbidden calls to watch for while the named student functions run (guard.py)
    _GUARD["groups"] = [g for g in request.get("guard", []) if isinstance(g, dict)]
    _GUARD["found"] = []
    try:
        _reseed(request.get("seed"))
        for name, node in request["steps"]:
            try:
                env[name] = _eval(node, env)
            except BaseException as exc:
                env[name] = _Raised(exc)
                if isinstance(exc, KeyboardInterrupt):
                    break
        budget = [int(request.get("max_bytes", 64 * 1024 * 1024))]
        results = {}
        for name in request["return"]:
            if name not in env:
                results[name] = {"raised": ["NotRun", "an earlier step was interrupted"]}
                continue
            mapped = next((node for key, node in request["steps"] if key == name and node["kind"] == "map"), None)
            value = env[name]
            if mapped is not None and type(value) is list:
                results[name] = {"ok": [_encode_result(v, budget) for v in value], "mapped": True}
            else:
                results[name] = _encode_result(value, budget)
    finally:
        _STATE["in_probe"] = False
        _GUARD["groups"] = []
    payload = {"nonce": request["nonce"], "results": results, "seconds": _time.perf_counter() - started}
    if _GUARD["found"]:
        payload["guarded"] = list(_GUARD["found"])
    _publish(MIME_RESULT, payload)
