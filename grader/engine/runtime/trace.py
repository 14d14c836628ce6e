# Kernel side: what each cell of a homework did with tensors, for the exercise recognisers.
#
# A homework's first probe (before the first cell) calls start_trace(). From then on every
# student cell runs under a torch.overrides.TorchFunctionMode that notes, cheaply and in
# bounded space: element-wise binary operations with their operand and result shapes
# (so `print(a + b)` and a helper function's `x * y` count as broadcasting), reductions
# along a dimension, operations on tensors that require grad, backward()/autograd.grad
# calls, and every operation that raised (with its operand shapes: the broadcasting
# RuntimeError of an exercise). pandas frames read from files are noted by the offline
# patches. The mode is paused inside d2l's Trainer.fit (models.py says so) and stops
# recording after _TRACE_MAX_CALLS calls in one cell, so training loops cost almost
# nothing. The end-of-cell event carries {"trace": {...}}; the grader checks its shape
# and sizes, and trusts nothing in it beyond "this is what the cell claims it did".
_TRACE_MAX_OPS = 48          # distinct (operation, shapes) per cell
_TRACE_MAX_ERRORS = 8
_TRACE_MAX_BACKWARD = 8
_TRACE_MAX_CALLS = 20_000    # intercepted calls per cell before recording stops
_TRACE_PROBE_PREFIX = "__import__('sys').modules['_d2lgrade_runtime']"
_BINARY = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "truediv": "div", "true_divide": "div",
           "floordiv": "floordiv", "floor_divide": "floordiv", "pow": "pow", "matmul": "matmul",
           "lt": "lt", "gt": "gt", "le": "le", "ge": "ge", "eq": "eq", "ne": "ne", "less": "lt",
           "greater": "gt", "less_equal": "le", "greater_equal": "ge", "maximum": "maximum", "minimum": "minimum"}
_REDUCE = {"sum", "mean"}
# Calls whose result is a number: len() (the first axis), norms, whole-tensor equality.
_VALUED = {"len": "len", "norm": "norm", "linalg_norm": "norm", "linalg_vector_norm": "norm",
           "equal": "equal", "allclose": "equal"}
_COMPARE = {"lt", "gt", "le", "ge", "eq", "ne"}
_AUTOGRAD = {"backward", "grad"}
_trace = {"enabled": False, "mode": None, "active": False, "paused": 0, "cell": None}


def _op_name(func):
    name = getattr(func, "__name__", "") or ""
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
        if name not in _BINARY and name[:1] in ("r", "i") and name[1:] in _BINARY:
            name = name[1:]
    return name


def _shape(value):
    torch = _sys.modules["torch"]
    if isinstance(value, torch.Tensor):
        return [int(n) for n in value.shape][:8]
    return None


def _new_cell_record():
    return {"ops": {}, "errors": [], "backward": [], "grad_ops": [], "frames": [], "calls": 0, "truncated": False}


def _note_op(record, name, args, kwargs, result):
    torch = _sys.modules["torch"]
    shapes = [_shape(a) for a in args[:2]]
    if name in _BINARY:
        if not any(s is not None for s in shapes):
            return
        out = _shape(result)
        extra = None
        if name in _COMPARE and isinstance(result, torch.Tensor) and result.numel() <= 1024:
            extra = int(result.sum())
        key = (_BINARY[name], tuple(tuple(s) if s is not None else None for s in shapes),
               tuple(out) if out is not None else None)
    elif name in _REDUCE:
        dim = kwargs.get("dim", kwargs.get("axis", args[1] if len(args) > 1 else None))
        if dim is None or shapes[0] is None:
            return
        dim = [int(d) for d in dim] if isinstance(dim, (tuple, list)) else int(dim)
        keep = bool(kwargs.get("keepdim", kwargs.get("keepdims", args[2] if len(args) > 2 else False)))
        extra = [dim, keep]
        key = (name, (tuple(shapes[0]),), tuple(_shape(result) or ()))
    elif name in _VALUED:
        if shapes[0] is None:
            return
        extra = _valued_extra(result)
        key = (_VALUED[name], tuple(tuple(s) if s is not None else None for s in shapes), None)
    else:
        first = args[0] if args else None
        if isinstance(first, torch.Tensor) and first.requires_grad and len(record["grad_ops"]) < 16:
            entry = [name, _shape(first), bool(first.is_leaf)]
            if entry not in record["grad_ops"]:
                record["grad_ops"].append(entry)
        return
    ops = record["ops"]
    if key in ops:
        ops[key][0] += 1
    elif len(ops) < _TRACE_MAX_OPS:
        ops[key] = [1, extra]


def _valued_extra(result):
    """The number a _VALUED call returned: an int (len, 0/1 for equality) or [a float] (a norm)."""
    torch = _sys.modules["torch"]
    if isinstance(result, bool):
        return int(result)
    if isinstance(result, int):
        return result
    if isinstance(result, torch.Tensor) and result.numel() == 1 and result.is_floating_point():
        return [round(float(result), 6)]
    return None


def _note_error(record, name, args, exc):
    if len(record["errors"]) < _TRACE_MAX_ERRORS:
        record["errors"].append([name, [_shape(a) for a in args[:2]], type(exc).__name__, _safe_str(exc)[:200]])


def _note_autograd(record, name, args, kwargs, error):
    if len(record["backward"]) >= _TRACE_MAX_BACKWARD:
        return
    root = args[0] if args else kwargs.get("outputs")
    if isinstance(root, (tuple, list)):
        root = root[0] if root else None
    given = kwargs.get("gradient", kwargs.get("grad_outputs", args[1] if len(args) > 1 else None)) is not None
    record["backward"].append([name, _shape(root), given, error])


def _make_mode():
    overrides = __import__("torch.overrides", fromlist=["TorchFunctionMode"])

    class _CellTrace(overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            record = _trace["cell"]
            if record is None or _trace["paused"] or _STATE["in_probe"] or record["truncated"]:
                return func(*args, **kwargs)
            record["calls"] += 1
            if record["calls"] > _TRACE_MAX_CALLS:
                record["truncated"] = True
            name = _op_name(func)
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                try:
                    if name in _AUTOGRAD:
                        _note_autograd(record, name, args, kwargs, "%s: %s" % (type(exc).__name__, _safe_str(exc)[:160]))
                    _note_error(record, name, args, exc)
                except Exception:
                    pass
                raise
            try:
                if name in _AUTOGRAD:
                    _note_autograd(record, name, args, kwargs, "")
                else:
                    _note_op(record, name, args, kwargs, result)
            except Exception as exc:  # the trace must never reach the student's code
                _STATE.setdefault("hook_errors", []).append("trace: %s: %s" % (type(exc).__name__, exc))
            return result

    return _CellTrace()


def _trace_enter():
    if not _trace["enabled"] or _trace["active"] or _trace["cell"] is None or "torch" not in _sys.modules:
        return
    try:
        if _trace["mode"] is None:
            _trace["mode"] = _make_mode()
        _trace["mode"].__enter__()
        _trace["active"] = True
    except Exception as exc:
        _STATE.setdefault("hook_errors", []).append("trace: %s: %s" % (type(exc).__name__, exc))


def _trace_pre_run(info=None):
    raw = getattr(info, "raw_cell", "") or ""
    if not _trace["enabled"] or raw.startswith(_TRACE_PROBE_PREFIX):
        _trace["cell"] = None
        return
    _trace["cell"] = _new_cell_record()
    _trace["paused"] = 0
    _trace_enter()


def _trace_cell_end():
    record, _trace["cell"] = _trace["cell"], None
    _trace_leave()
    if record is None:
        return {}
    frames, _STATE["frames"] = _STATE.get("frames", []), []
    record["frames"] = frames[:8]
    ops = [[key[0], [list(s) if s is not None else None for s in key[1]], list(key[2]) if key[2] is not None else None,
            count, extra] for key, (count, extra) in record["ops"].items()]
    out = {"ops": ops, "errors": record["errors"], "backward": record["backward"], "grad_ops": record["grad_ops"],
           "frames": record["frames"], "calls": record["calls"], "truncated": record["truncated"]}
    if not (ops or record["errors"] or record["backward"] or record["grad_ops"] or record["frames"]):
        return {}
    return {"trace": out}


def _trace_leave():
    """Take the mode off torch's stack: while it is on, every torch call pays a Python
    dispatch, recorded or not (a 10-epoch training ran 40 % slower with it merely paused)."""
    if _trace["active"]:
        _trace["active"] = False
        try:
            _trace["mode"].__exit__(None, None, None)
        except Exception as exc:
            _STATE.setdefault("hook_errors", []).append("trace exit: %s: %s" % (type(exc).__name__, exc))


class _TracePause:
    """``with _TracePause():`` stops recording (training loops), nestable; the mode leaves
    torch's stack for the duration and comes back after."""

    def __enter__(self):
        _trace["paused"] += 1
        if _trace["paused"] == 1:
            _trace_leave()

    def __exit__(self, *exc):
        _trace["paused"] = max(0, _trace["paused"] - 1)
        if _trace["paused"] == 0:
            _trace_enter()


def _note_frame(source, frame):
    """A pandas frame the notebook read (called by the offline patches)."""
    if not _trace["enabled"]:
        return
    frames = _STATE.setdefault("frames", [])
    shape = getattr(frame, "shape", None)
    if len(frames) < 8 and isinstance(shape, tuple) and len(shape) == 2:
        frames.append([str(source)[:80], int(shape[0]), int(shape[1])])


def start_trace():
    """Record every later student cell (the homework's first probe calls this)."""
    if not _trace["enabled"]:
        _trace["enabled"] = True
        get_ipython().events.register("pre_run_cell", _trace_pre_run)  # noqa: F821
    return True


_RUNTIME_CALLS.add("start_trace")
_CELL_END.insert(0, _trace_cell_end)
_on_import("torch")(lambda torch: _trace_enter())
