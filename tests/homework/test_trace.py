"""The kernel's per-cell trace (runtime/trace.py), run in this process on real torch
operations, and its defensive parsing in the grader (homework/trace.py)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from grader.engine.runtime import load_namespace
from grader.homework.trace import AutogradCall, CellTrace, Op, TraceError, read_traces
from grader.protocol import ExecutionRun, ExecutionSummary


class _Cell:
    def __init__(self, source: str) -> None:
        self.raw_cell = source


@pytest.fixture()
def runtime() -> Any:
    ns = load_namespace()
    ns._trace["enabled"] = True
    yield ns
    if ns._trace["active"]:
        ns._trace_cell_end()


def _run_cell(ns: Any, body: Any, source: str = "cell") -> dict[str, Any]:
    ns._trace_pre_run(_Cell(source))
    try:
        body()
    except RuntimeError:
        pass
    return ns._trace_cell_end()


def test_a_cell_records_shapes_errors_and_autograd(runtime: Any) -> None:
    def cell() -> None:
        a, b = torch.arange(6).reshape(2, 3, 1), torch.arange(6).reshape(2, 1, 3)
        print(a + b)  # inside print: the trace sees it, a statement scan did not
        A = torch.arange(6.0).reshape(2, 3)
        try:
            A / A.sum(axis=1)
        except RuntimeError:
            pass
        x = torch.arange(4.0, requires_grad=True)
        y = torch.sin(x)
        try:
            y.backward()
        except RuntimeError:
            pass
        y.sum().backward()
        X = torch.ones(3, 4)
        X < X * 2

    event = _run_cell(runtime, cell)
    calls = event["trace"].pop("calls")
    assert calls > 15   # every torch call counts (factories, reshape, print), few are kept
    assert event == {"trace": {
        "ops": [["add", [[2, 3, 1], [2, 1, 3]], [2, 3, 3], 1, None], ["sum", [[2, 3]], [2], 1, [1, False]],
                ["mul", [[3, 4], None], [3, 4], 1, None], ["lt", [[3, 4], [3, 4]], [3, 4], 1, 12]],
        "errors": [["div", [[2, 3], [2]], "RuntimeError",
                    "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1"],
                   ["backward", [[4]], "RuntimeError", "grad can be implicitly created only for scalar outputs"]],
        "backward": [["backward", [4], False, "RuntimeError: grad can be implicitly created only for scalar outputs"],
                     ["backward", [], False, ""]],
        "grad_ops": [["sin", [4], True]], "frames": [], "truncated": False}}


def test_len_norms_and_whole_tensor_equality_keep_their_number(runtime: Any) -> None:
    def cell() -> None:
        X = torch.arange(24.0).reshape(2, 3, 4)
        print(len(X), torch.linalg.norm(X), torch.equal(X.mT.mT, X))
        try:
            torch.linalg.norm(torch.arange(24).reshape(2, 3, 4))  # an integer tensor: torch refuses
        except RuntimeError:
            pass

    trace = _run_cell(runtime, cell)["trace"]
    norm = trace["ops"][1].pop()
    assert norm == [pytest.approx(65.757129, abs=1e-5)]   # sqrt(0^2 + ... + 23^2) = sqrt(4324), in float32
    assert trace["ops"] == [["len", [[2, 3, 4]], None, 1, 2], ["norm", [[2, 3, 4]], None, 1],
                            ["equal", [[2, 3, 4], [2, 3, 4]], None, 1, 1]]
    assert [(e[0], e[1], e[2]) for e in trace["errors"]] == [("linalg_norm", [[2, 3, 4]], "RuntimeError")]
    assert "floating point" in trace["errors"][0][3]


def test_probes_paused_training_and_quiet_cells_send_nothing(runtime: Any) -> None:
    probe = "__import__('sys').modules['_d2lgrade_runtime'].answer('{}')"
    assert _run_cell(runtime, lambda: torch.ones(2, 3, 4) + torch.ones(3, 4), probe) == {}

    def paused() -> None:
        with runtime._TracePause():  # what Trainer.fit does: a training loop is not recorded
            torch.ones(2, 3, 4) + torch.ones(3, 4)
    assert _run_cell(runtime, paused) == {}
    assert _run_cell(runtime, lambda: torch.ones(3) + torch.ones(3)) == {"trace": {
        "ops": [["add", [[3], [3]], [3], 1, None]], "errors": [], "backward": [], "grad_ops": [], "frames": [],
        "calls": 3, "truncated": False}}  # ones, ones, add
    assert not runtime._trace["active"]   # the mode is off between cells


def test_recording_stops_after_the_cap(runtime: Any) -> None:
    runtime._TRACE_MAX_CALLS = 5   # ones, ones, add twice: the sixth call is the last recorded

    def many() -> None:
        for _ in range(10):
            torch.ones(2) + torch.ones(2)
        torch.ones(2, 3, 4) * torch.ones(4)   # after the cap: not recorded
    event = _run_cell(runtime, many)
    assert (event["trace"]["ops"], event["trace"]["truncated"]) == ([["add", [[2], [2]], [2], 2, None]], True)


def test_the_runtimes_own_batches_are_not_the_notebooks_operations(runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of the grader's Fashion-MNIST come from the runtime's fetcher: iterating a
    whole epoch costs the cell's trace no calls, so a later operation is still recorded."""
    import types

    from torch.utils.data import DataLoader
    from torch.utils.data._utils import fetch
    from torchvision.datasets import mnist
    from torchvision.transforms import ToTensor

    from grader.config import load_options

    store = load_options().data_path
    if not (store / "fashion-mnist" / "test-images.npy").is_file():
        pytest.skip("no data store")
    runtime._CONFIG["data_dir"] = str(store)
    fake = types.SimpleNamespace(FashionMNIST=mnist.FashionMNIST, VisionDataset=mnist.VisionDataset)
    runtime._patch_torchvision_mnist(fake)
    monkeypatch.setattr(fetch._MapDatasetFetcher, "fetch", fetch._MapDatasetFetcher.fetch)  # restored after
    runtime._patch_fetch(fetch)
    runtime._TRACE_MAX_CALLS = 200   # 40 batches of 256: the per-item path made ~3 calls per item
    data = fake.FashionMNIST(root="/nowhere", train=False, transform=ToTensor())

    def cell() -> None:
        for _ in DataLoader(data, 256):
            pass
        torch.ones(2, 3, 1) + torch.ones(3)
    trace = _run_cell(runtime, cell)["trace"]
    assert trace["ops"][-1] == ["add", [[2, 3, 1], [3]], [2, 3, 3], 1, None]
    assert trace["calls"] < 200 and not trace["truncated"]


def _run(events: dict[int, list[Any]]) -> ExecutionRun:
    return ExecutionRun(ExecutionSummary(), events=events)


def test_parsing_drops_what_is_malformed() -> None:
    good = {"ops": [["add", [[2, 3, 1], [2, 1, 3]], [2, 3, 3], 1, None], ["lt", "x", None, True, {"a": 1}], 7],
            "errors": [["div", [[2, 3], [2]], "RuntimeError", "must match"], ["div"]],
            "backward": [["backward", [4], False, "RuntimeError: x"], ["grad", [-1], "yes", 5]],
            "grad_ops": [["sin", [4], True], [3, 4]], "frames": [["abalone", 4177, 9], ["x", "many", 2]],
            "truncated": "no"}
    traces = read_traces(_run({3: [{"trace": good, "models_called": [2, True, "x", 5]}], 4: ["junk", {"trace": []}],
                               5: "not a list"}))
    assert traces == {3: CellTrace(
        ops=[Op("add", ((2, 3, 1), (2, 1, 3)), (2, 3, 3), 1, None), Op("lt", (), None, 1, None)],
        errors=[TraceError("div", ((2, 3), (2,)), "RuntimeError", "must match")],
        autograd=[AutogradCall("backward", (4,), False, "RuntimeError: x"), AutogradCall("grad", None, False, "")],
        grad_ops=[("sin", (4,))], frames=[("abalone", 4177, 9)], models_called=[2, 5], truncated=False)}
