"""The kernel runtime's model tracker, run in this process (its hook is called directly,
never installed globally): every model of a sweep is kept, submodules are not models,
untrained models are told apart, announcements go to the cell that trained them."""

from __future__ import annotations

import pytest
import torch

from grader.config import load_options
from grader.engine.runtime import load_namespace
from grader.values import ArrayValue, ModuleValue, decode_outcome

DATA = load_options().data_path
pytestmark = pytest.mark.skipif(not (DATA / "fashion-mnist" / "test-images.npy").is_file(), reason="no data store")


@pytest.fixture
def runtime():  # type: ignore[no-untyped-def]
    rt = load_namespace()
    rt._CONFIG["data_dir"] = str(DATA)
    torch.set_num_threads(1)
    return rt


def _forward(rt, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """Call the model and fire the runtime's hook for it and its submodules, as the global hook would."""
    for sub in list(model.modules())[::-1]:
        if sub is not model and isinstance(sub, torch.nn.Linear):
            rt._model_hook(sub, (x.reshape(len(x), -1),), None)
    out = model(x)
    rt._model_hook(model, (x,), out)
    return out


def test_every_model_of_a_sweep_is_kept(runtime) -> None:  # type: ignore[no-untyped-def]
    x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    for hidden in (8, 16, 32, 64):  # only the last one stays in a variable
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        loss = torch.nn.functional.cross_entropy(_forward(runtime, net, x), y)
        loss.backward()
        opt.step()
    notices = runtime._model_cell_end()["models"]
    assert [(n["class"], n["event"]) for n in notices] == [("Sequential", "seen"), ("Sequential", "trained")] * 4
    assert runtime._model_cell_end() == {}  # announced once
    entries = decode_outcome({"ok": runtime.encode(runtime.tracked_models())})
    assert len(entries) == 4
    assert [e["module"].tree["children"][1][1]["config"]["out_features"] for e in entries] == [8, 16, 32, 64]
    assert all(e["updated"] and e["side"] == 28 and e["shape"] == [1, 28, 28] for e in entries)
    assert all(isinstance(e["module"], ModuleValue) for e in entries)
    assert all(isinstance(e["predictions"], ArrayValue) and e["predictions"].shape == (10000,) for e in entries)


def test_an_evaluated_but_untrained_model_is_not_trained(runtime) -> None:  # type: ignore[no-untyped-def]
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    net.eval()
    with torch.no_grad():
        _forward(runtime, net, torch.rand(256, 1, 28, 28))
    notices = runtime._model_cell_end()["models"]
    assert [(n["class"], n["event"]) for n in notices] == [("Sequential", "seen")]  # its Linear is no model
    [entry] = decode_outcome({"ok": runtime.encode(runtime.tracked_models())})
    assert (entry["updated"], entry["train_calls"], entry["eval_calls"]) == (False, 0, 1)


def test_small_models_on_other_data_are_kept_when_trained(runtime) -> None:  # type: ignore[no-untyped-def]
    net = torch.nn.Linear(2, 1)
    _forward(runtime, net, torch.rand(32, 2))  # training mode, grad on: a linear regression
    with torch.no_grad():
        _forward(runtime, torch.nn.Linear(2, 1).eval(), torch.rand(32, 2))  # evaluated on other data: not a model
    [entry] = decode_outcome({"ok": runtime.encode(runtime.tracked_models())})
    assert entry["side"] is None and "predictions" not in entry


def test_the_hook_never_raises_into_student_code(runtime) -> None:  # type: ignore[no-untyped-def]
    class Odd(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lazy = torch.nn.LazyLinear(3)

    runtime._model_hook(Odd(), (torch.rand(4, 784),), None)  # an uninitialised lazy parameter
    runtime._model_hook(object(), ("not a tensor",), None)
