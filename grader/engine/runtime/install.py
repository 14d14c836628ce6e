# Kernel side: install the runtime (boot) and start one submission (begin).
#
# boot() runs once per kernel, possibly ahead of time in the warm pool: import hooks,
# output caps, the network audit hook, figure capture. begin() runs right before the
# student's first cell: the seeds and per-submission options.
import importlib.abc as _abc
import importlib.util as _util


class _HookedLoader(_abc.Loader):
    def __init__(self, loader, name):
        self._loader, self._name = loader, name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _run_import_hooks(self._name, module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _ImportWatcher(_abc.MetaPathFinder):
    """Runs hooks after watched modules import, and refuses modules hidden by the grader."""

    def __init__(self):
        self._busy = set()

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if top in _CONFIG["hide_modules"] or fullname in _CONFIG["hide_modules"]:
            raise ModuleNotFoundError("No module named %r" % fullname, name=fullname)
        if fullname not in _POST_IMPORT or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = _util.find_spec(fullname)
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _HookedLoader(spec.loader, fullname)
        return spec


_hooks_done = set()


def _run_import_hooks(name, module):
    if name in _hooks_done:
        return
    _hooks_done.add(name)
    for hook in _POST_IMPORT.get(name, []):
        try:
            hook(module)
        except Exception as exc:
            _STATE.setdefault("hook_errors", []).append("%s: %s: %s" % (name, type(exc).__name__, exc))


class _CappedStream:
    """Forwards writes to the kernel's stream until this cell's output limit is reached."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        if not isinstance(text, str):
            return self._stream.write(text)
        room = _CONFIG["output_limit"] - _STATE["out_bytes"]
        if room <= 0:
            if not _STATE["out_marked"]:
                _STATE["out_marked"] = True
                self._stream.write("\n[d2l-grade: output beyond %d bytes in this cell was dropped]\n"
                                   % _CONFIG["output_limit"])
            return len(text)
        _STATE["out_bytes"] += min(len(text), room)
        self._stream.write(text[:room])
        return len(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _audit(event, args):
    if event == "socket.getaddrinfo":
        _note_network("lookup of %s" % (args[0],))
    elif event == "socket.connect":
        sock, address = args[0], args[1]
        family = getattr(sock, "family", None)
        if getattr(family, "name", "") == "AF_UNIX":
            return
        _note_network("connect to %s" % (address,))
    elif event == "urllib.Request":
        _note_network("request of %s" % (args[0],))


def _note_network(what):
    attempts = _STATE["network"]
    if len(attempts) < 50:
        attempts.append(what)
    if _CONFIG["network"] == "python-guard":
        raise PermissionError("network access is disabled while the grader runs this notebook")


def _pre_execute():
    _STATE["out_bytes"] = 0
    _STATE["out_marked"] = False


def _post_execute():
    event = {}
    for collect in _CELL_END:
        try:
            event.update(collect())
        except Exception as exc:
            event.setdefault("errors", []).append("%s: %s" % (type(exc).__name__, exc))
    if any(event.values()):
        _publish(MIME_EVENT, event)


def _cell_end_data():
    _capture_open_figures()
    network, _STATE["network"] = _STATE["network"], []
    served, _STATE["offline_served"] = _STATE["offline_served"], []
    return {"figures": _take_figures(), "network": network, "offline": served}


_CELL_END.append(_cell_end_data)


def _seed_torch(torch):
    if _CONFIG["threads"]:
        torch.set_num_threads(int(_CONFIG["threads"]))
    torch.manual_seed(_CONFIG["seed"])


_on_import("torch")(_seed_torch)
_on_import("numpy")(lambda np: np.random.seed(_CONFIG["seed"]))
_on_import("matplotlib.pyplot")(_patch_pyplot)
_on_import("torchvision.datasets.mnist")(_patch_torchvision_mnist)
_on_import("torch.utils.data.dataloader")(_patch_dataloader)
_on_import("torch.utils.data._utils.fetch")(_patch_fetch)
_on_import("pandas")(_patch_pandas)
_on_import("ucimlrepo")(_patch_ucimlrepo)
_on_import("d2l.torch")(_patch_d2l)


def _install_check_stub():
    import types
    stub = types.ModuleType("grader")
    stub.__doc__ = "Stand-in for d2l-grade inside a notebook that is being graded."

    def check(*args, **kwargs):
        print("d2l-grade: check() is skipped while the grader runs this notebook.")

    stub.check = check
    stub.__all__ = ["check"]
    _sys.modules["grader"] = stub


def boot(config_json):
    """Install the runtime once per kernel; ``preload`` imports heavy modules ahead of time."""
    config = _json.loads(config_json)  # before any student code: json is still the real one
    _CONFIG.update({k: v for k, v in config.items() if k != "preload"})
    ip = get_ipython()  # noqa: F821 - defined in every IPython kernel
    _ORIG["user_ns"] = ip.user_ns
    _ORIG["publish"] = ip.display_pub.publish
    _ORIG["json.loads"] = _json.loads
    _sys.meta_path.insert(0, _ImportWatcher())
    _sys.addaudithook(_audit)
    _sys.stdout = _CappedStream(_sys.stdout)
    _sys.stderr = _CappedStream(_sys.stderr)
    ip.events.register("pre_execute", _pre_execute)
    ip.events.register("post_execute", _post_execute)
    _install_check_stub()
    for name in list(_POST_IMPORT):
        if name in _sys.modules:
            _run_import_hooks(name, _sys.modules[name])
    for name in config.get("preload", []):
        __import__(name)


def begin(config_json):
    """Start one submission: options, then the seeds, right before its first cell."""
    _CONFIG.update(_ORIG["json.loads"](config_json))
    _figure_state["images"] = bool(_CONFIG["figures"])
    _reseed(_CONFIG["seed"])
    ip = get_ipython()  # noqa: F821
    ip.user_ns.pop("_d2lgrade_boot", None)


def environment():
    """Versions, threads and device, sent back as plain data."""
    import platform
    env = {"python": platform.python_version(), "platform": platform.platform(terse=True),
           "cpu_count": __import__("os").cpu_count(), "device": "cpu", "seed": _CONFIG["seed"],
           "hook_errors": _STATE.get("hook_errors", [])}
    torch = _sys.modules.get("torch")
    if torch is not None:
        env.update({"torch": str(torch.__version__), "threads": torch.get_num_threads(),
                    "cuda_available": bool(torch.cuda.is_available())})
    for name in ("numpy", "pandas", "matplotlib", "torchvision", "d2l"):
        module = _sys.modules.get(name)
        if module is not None:
            env[name] = str(getattr(module, "__version__", "?"))
    return env
