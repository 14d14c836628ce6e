"""The fixture guard: a test whose probe came back without a value is not called.

As pytest errors a test whose fixture failed instead of running it, the scorer asks
:func:`probe_failure` before calling a test: when one of the probes the test names came
back :class:`~grader.values.Missing` (not defined, timed out, the kernel died, not
attempted) or :class:`~grader.values.Raised` as a whole (reading the global raised), the
test fails with 0 points and one standard message: the reason the value is missing, or
"`name` raised Error". Tests therefore receive only real answers: a
:class:`~grader.checking.probe.CallResults`, a value, or a dict of step results (whose
single steps may still have raised, which the test explains itself).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from grader.checking.checks import Check, failed
from grader.checking.probe import Calls, ProbeDescriptor, Steps, Value
from grader.seeds import hidden_rng
from grader.values import Missing, Raised

if TYPE_CHECKING:
    from grader.units.spec import Exercise

__all__ = ["probe_failure", "probe_globals"]


def probe_globals(descriptor: ProbeDescriptor) -> set[str]:
    """The notebook globals a probe reads: a :class:`Value`'s name, the function of
    :class:`Calls`, every ``glob`` node of :class:`Steps` (``call("f")`` included)."""
    if isinstance(descriptor, Value):
        return {descriptor.name}
    if isinstance(descriptor, Calls):
        return {descriptor.function}
    found: set[str] = set()
    stack: list[Any] = [descriptor.steps] if isinstance(descriptor, Steps) else []
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("kind") == "global" and isinstance(node.get("name"), str):
                found.add(node["name"])
            stack += node.values()
        elif isinstance(node, (list, tuple)):
            stack += node
    return found


def probe_failure(exercise: Exercise, params: Sequence[str], fixtures: Mapping[str, Any]) -> Check | None:
    """The failed check of a test one of whose probes (among ``params``) has no value,
    or None when every probe it names answered."""
    for name in params:
        value = fixtures.get(name)
        if name not in exercise.probes or not isinstance(value, (Missing, Raised)):
            continue
        if isinstance(value, Missing):
            return failed(value.reason)
        read = sorted(probe_globals(exercise.probes[name].descriptor(hidden_rng("", exercise.id, name))))
        what = " / ".join(f"`{n}`" for n in read) or f"the probe {name!r}"
        hint = " (the exercise is not done yet)" if value.type == "NotImplementedError" else ""
        return failed(f"{what} raised {value.type}{hint}", str(value))
    return None
