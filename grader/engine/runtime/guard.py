# Kernel side: the run-time guard for forbidden calls.
#
# The static rules (grader/notebook/static.py) read the student's source; a notebook can
# hide a call from them (an alias made by `from numpy import broadcast_shapes as f`,
# `sys.modules['numpy']`, `importlib.__import__`, `operator.attrgetter`, a callable
# instance, a swapped `__code__`). While the grader's probe calls a function named by a
# forbidden rule, this guard watches every call with a profile function: a call whose
# callee *is* a forbidden function (the same code object or builtin, whatever name or
# path reached it) is recorded and sent back with the probe's answer. The grader turns a
# record into the failure the static rule gives. Nothing is wrapped or replaced, so there
# is nothing to undo after the probe except the profile function itself, and the
# original callables keep working for everyone else.
#
# What it sees: Python functions (by code object), builtins (by identity), numpy's
# dispatchers (through their implementation), methods named by a `.name` rule when the
# student's own code calls them on a tensor, array or DataFrame, a forbidden module first
# imported during the call, and a student function that removes or replaces the profile
# function. What it does not see: calls made from C without the interpreter (numpy
# ufuncs such as np.cos, ctypes), classes (a rule naming a class is left to the static
# rules), and code that reimplements the function. See docs/AUTHORING.md.
import types as _types

_GUARD = {"active": None, "found": [], "groups": [], "cache": {}}
# Captured when the runtime boots, before any student cell can replace them.
_GUARD_ORIG = {"setprofile": _sys.setprofile, "getprofile": _sys.getprofile}
try:
    import threading as _threading
    _GUARD_ORIG["thread_setprofile"] = _threading.setprofile
except Exception:  # pragma: no cover - threading is always there
    _GUARD_ORIG["thread_setprofile"] = None
_GUARD_MAX_RECORDS = 50


def _norm_module(name):
    """`torch._C._linalg` -> `torch.linalg`, `_pickle` -> `pickle`: where a builtin is
    exposed, compared with the rule's module."""
    parts = [p.lstrip("_") for p in str(name or "").split(".")]
    return ".".join(p for p in parts if p and p != "C")


def _within(name, rule):
    return name == rule or name.startswith(rule + ".")


def _better(label, old):
    """The name students know: fewer private parts, then shorter (`numpy.broadcast_shapes`
    rather than `numpy.lib._stride_tricks_impl.broadcast_shapes`)."""
    if old is None:
        return True
    return _rank(label) < _rank(old)


def _rank(label):
    return sum(part.startswith("_") for part in label.split(".")), len(label)


def _add_targets(obj, label, codes, builtins):
    """Register the code objects / builtins by which a call of ``obj`` shows up."""
    for _ in range(4):
        kind = type(obj)  # exact types: isinstance would ask objects that lie about __class__
        if kind is _types.FunctionType:
            if _better(label, codes.get(obj.__code__)):
                codes[obj.__code__] = label
            obj = obj.__dict__.get("__wrapped__")
        elif kind is _types.BuiltinFunctionType:
            if _better(label, builtins.get(id(obj), (None,))[0]):
                builtins[id(obj)] = (label, obj)
            return
        elif kind.__name__ == "_ArrayFunctionDispatcher":  # numpy's public functions
            obj = getattr(obj, "_implementation", None)
        else:
            return


def _guardable(value):
    kind = type(value)
    return kind is _types.FunctionType or kind is _types.BuiltinFunctionType or \
        kind.__name__ == "_ArrayFunctionDispatcher"


def _resolve_rule(rule, codes, builtins):
    """Every callable a rule names: a function (`numpy.polyfit`), or the functions a module
    and its imported submodules define (`torch.linalg`: norm, lstsq, ...)."""
    for name, module in list(_sys.modules.items()):
        if not _within(name, rule) or not isinstance(module, _types.ModuleType):
            continue
        try:
            items = list(vars(module).items())  # vars, not getattr: no lazy imports
        except TypeError:
            continue
        for attr, value in items:
            if attr.startswith("__") or not _guardable(value):
                continue
            try:
                owner = _norm_module(getattr(value, "__module__", "") or name)
            except Exception:
                continue
            if _within(owner, _norm_module(rule)):
                _add_targets(value, "%s.%s" % (name, attr), codes, builtins)
    parts = rule.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the longest imported module prefix
        module = _sys.modules.get(".".join(parts[:cut]))
        if module is None:
            continue
        value = module
        try:
            for attr in parts[cut:]:
                value = getattr(value, attr)
        except Exception:
            return
        if not isinstance(value, _types.ModuleType):
            _add_targets(value, rule, codes, builtins)
        return


def _library_roots():
    import sysconfig
    roots = {_sys.prefix, _sys.base_prefix, _sys.exec_prefix, _sys.base_exec_prefix}
    try:
        roots.update(sysconfig.get_paths().values())
    except Exception:
        pass
    return tuple(sorted({r.rstrip("/") + "/" for r in roots if r and r.rstrip("/")}))


def _is_library(filename):
    roots = _GUARD["cache"].get("roots")
    if roots is None:
        roots = _GUARD["cache"]["roots"] = _library_roots()
    return filename.startswith(roots) or filename.startswith("<frozen ")


def _guard_state(groups):
    """What to watch for ``groups`` (each: rule index, rules), cached while no module is imported."""
    key = (tuple((g["rule"], tuple(g["rules"])) for g in groups), len(_sys.modules))
    state = _GUARD["cache"].get("state")
    if state is not None and state["key"] == key:
        return state
    codes, builtins, methods, pending = {}, {}, {}, []
    for group in groups:
        for rule in group["rules"]:
            rule = str(rule)
            if rule.startswith("."):
                methods.setdefault(rule[1:], (group["rule"], rule))
                continue
            found_codes, found_builtins = {}, {}
            _resolve_rule(rule, found_codes, found_builtins)
            for code, label in found_codes.items():
                codes.setdefault(code, (group["rule"], label))
            for ident, (label, obj) in found_builtins.items():
                builtins.setdefault(ident, (group["rule"], label, obj))
            if rule not in _sys.modules:
                pending.append((group["rule"], rule))
    tamper = (-1, "sys.setprofile")
    builtins[id(_GUARD_ORIG["setprofile"])] = tamper + (_GUARD_ORIG["setprofile"],)
    if _GUARD_ORIG["thread_setprofile"] is not None:
        codes[_GUARD_ORIG["thread_setprofile"].__code__] = (-1, "threading.setprofile")
    state = {"key": key, "codes": codes, "builtins": builtins, "methods": methods, "pending": pending}
    _GUARD["cache"]["state"] = state
    return state


def _method_owner(obj):
    """Whether ``obj`` is a tensor, array or DataFrame (a `.name` rule's receiver)."""
    kinds = []
    for module, names in (("torch", ("Tensor",)), ("numpy", ("ndarray", "generic")),
                          ("pandas", ("DataFrame", "Series", "Index"))):
        mod = _sys.modules.get(module)
        if mod is not None:
            kinds += [getattr(mod, n) for n in names if isinstance(getattr(mod, n, None), type)]
    try:
        return isinstance(obj, tuple(kinds))
    except Exception:
        return False


def _note(rule, name, function=None):
    found = _GUARD["found"]
    if function is None:
        function = (_GUARD["active"] or {}).get("function", "")
    entry = {"rule": rule, "name": name, "function": function}
    if entry not in found and len(found) < _GUARD_MAX_RECORDS:
        found.append(entry)


def _guard_profile(frame, event, arg):
    """The profile function: never raises (an exception here would land in student code)."""
    try:
        state = _GUARD["active"]
        if state is None:
            return
        if event == "call":
            code = frame.f_code
            hit = state["codes"].get(code)
            if hit is None:
                method = state["methods"].get(code.co_name)
                caller = frame.f_back
                if method is None or caller is None or not _is_library(code.co_filename) \
                        or _is_library(caller.f_code.co_filename):
                    return
                hit = method
            _note(*hit[:2])
        elif event == "c_call":
            hit = state["builtins"].get(id(arg))
            if hit is not None and hit[2] is arg:
                _note(hit[0], hit[1])
                return
            method = state["methods"].get(getattr(arg, "__name__", None))
            if method is not None and not _is_library(frame.f_code.co_filename) \
                    and _method_owner(getattr(arg, "__self__", None)):
                _note(*method)
    except Exception:
        pass


def _guarded_call(groups, name, fn, args, kwargs):
    """Call the student's ``fn`` with the guard for ``groups`` watching."""
    try:
        state = dict(_guard_state(groups), function=name)
    except Exception:  # the guard's own failure must not cost the student: static rules still hold
        return _call(fn, args, kwargs)
    previous = _GUARD_ORIG["getprofile"]()
    _GUARD["active"] = state
    if _GUARD_ORIG["thread_setprofile"] is not None:
        _GUARD_ORIG["thread_setprofile"](_guard_profile)
    _GUARD_ORIG["setprofile"](_guard_profile)
    try:
        return _call(fn, args, kwargs)
    finally:
        removed = _GUARD_ORIG["getprofile"]() is not _guard_profile
        _GUARD["active"] = None  # first: restoring the profile is not the student's call
        _GUARD_ORIG["setprofile"](previous)
        if _GUARD_ORIG["thread_setprofile"] is not None:
            _GUARD_ORIG["thread_setprofile"](None)
        if removed:
            _note(-1, "sys.setprofile", name)
        for rule, module in state["pending"]:
            if module in _sys.modules:
                _note(rule, "import %s" % module, name)


def _invoke(fn_node, fn, args, kwargs):
    """Call ``fn``; under the guard when the request forbids calls inside that function."""
    name = fn_node.get("name") if fn_node.get("kind") == "global" else None
    groups = [g for g in _GUARD["groups"] if name is not None and name in g.get("functions", ())]
    if not groups:
        return _call(fn, args, kwargs)
    return _guarded_call(groups, name, fn, args, kwargs)
