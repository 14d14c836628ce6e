"""How an exercise is declared: metadata, probes and tests, nothing else.

An exercise module builds one :class:`Exercise` and decorates small functions::

    EXERCISE = Exercise("broadcasting", section="2.1", title="...", names=("broadcast_shape",))

    @EXERCISE.probe(hidden=True)
    def hidden_pairs(rng):                      # inputs made in the grader's process
        return Calls("broadcast_shape", [...])

    @EXERCISE.test(points=4, hidden=True)
    def rule_on_hidden_shapes(hidden_pairs):    # parameters name probes, like fixtures
        return fraction_passed([...], "shape pairs")

A test's parameters name the probes it needs (or a built-in: ``source``, ``figures``,
``cells``, ``context``, ``calibration``, ``fashion_test``); they arrive as plain data.
Tests return a :class:`~grader.checking.checks.Check` or a list of them. Two patterns
every function exercise has are declared in one line each: :meth:`Exercise.call_tests`
(a check per call on the example probe, all must pass, and on the hidden probe, partial
credit) and :meth:`Exercise.autograd_test`. A test is not called when one of its probes
came back without a value (:mod:`grader.units.fixtures`). When the probes run and which
cells are the exercise's: :meth:`Exercise.probe_cell`, :meth:`Exercise.region`. No I/O,
kernel or rendering happens in an exercise module.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from grader.checking.checks import Check, check_example_calls, check_hidden_calls
from grader.checking.code import check_uses_autograd
from grader.errors import SpecError
from grader.protocol import ExecutionRun, KernelCall
from grader.checking.probe import ProbeDescriptor, build_request
from grader.results import UnitResult
from grader.seeds import derive_seed, hidden_rng
from grader.units.context import UnitBase, UnitContext
from grader.units.fixtures import probe_globals
from grader.units.score import score_exercise
from grader.notebook.static import NameFacts, name_facts

__all__ = ["Exercise", "Forbidden", "TestSpec", "ProbeSpec", "BUILTIN_FIXTURES"]

BUILTIN_FIXTURES = ("source", "figures", "cells", "context", "calibration", "fashion_test")


@dataclass(frozen=True)
class Forbidden:
    """Calls an exercise does not allow, where to look for them, and which tests they zero.

    ``functions`` are the student's functions to scan (with every notebook helper they
    use); ``cells`` also scans the top-level code of the exercise's cells; ``tests``
    names the tests worth nothing when a rule is broken (all tests if empty)."""

    rules: tuple[str, ...]
    functions: tuple[str, ...] = ()
    cells: bool = False
    tests: tuple[str, ...] = ()
    dynamic: bool = True


@dataclass(frozen=True)
class ProbeSpec:
    """A declared probe: a function of a numpy Generator returning a descriptor."""

    name: str
    make: Callable[..., ProbeDescriptor]
    hidden: bool = False
    timeout: float | None = None
    at_end: bool = False

    def descriptor(self, rng: np.random.Generator) -> ProbeDescriptor:
        return self.make(rng) if inspect.signature(self.make).parameters else self.make()


@dataclass(frozen=True)
class TestSpec:
    """A declared test: its points, whether its inputs are hidden, and what it needs."""

    name: str
    fn: Callable[..., Check | Sequence[Check]]
    points: float
    hidden: bool
    title: str
    params: tuple[str, ...]


class Exercise(UnitBase):
    """One exercise: id, section, title, the names the notebook must define, probes, tests."""

    kind = "exercise"

    def __init__(self, id: str, *, section: str, title: str, names: Sequence[str], version: str = "1",
                 summary: str = "", forbidden: Sequence[Forbidden] = (), limits: dict[str, Any] | None = None,
                 budget: dict[str, Any] | None = None, seeded_calls: bool = True) -> None:
        super().__init__(budget, limits)
        self.id, self.section, self.title, self.version = id, section, title, version
        self.summary = summary
        self.names = tuple(names)
        self.forbidden = tuple(forbidden)
        self.seeded_calls = seeded_calls
        self.probes: dict[str, ProbeSpec] = {}
        self.tests: list[TestSpec] = []

    @property
    def points(self) -> float:
        return sum(t.points for t in self.tests)

    def probe(self, fn: Callable[..., ProbeDescriptor] | None = None, *, hidden: bool = False,
              timeout: float | None = None, at_end: bool = False) -> Any:
        """Declare a probe; ``hidden`` inputs come from the instructor's secret."""
        def register(f: Callable[..., ProbeDescriptor]) -> Callable[..., ProbeDescriptor]:
            if f.__name__ in self.probes or f.__name__ in BUILTIN_FIXTURES:
                raise SpecError(self.id, f"probe name {f.__name__!r} is taken")
            self.probes[f.__name__] = ProbeSpec(f.__name__, f, hidden, timeout, at_end)
            return f
        return register(fn) if fn is not None else register

    def test(self, *, points: float, hidden: bool = False, title: str = "") -> Callable[[Callable[..., Any]], Any]:
        """Declare a test worth ``points``; its parameters name probes or built-in fixtures."""
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            params = tuple(inspect.signature(fn).parameters)
            for p in params:
                if p not in self.probes and p not in BUILTIN_FIXTURES:
                    raise SpecError(self.id, f"parameter {p!r} is neither a probe nor a built-in "
                                    f"({', '.join(BUILTIN_FIXTURES)})", test=fn.__name__)
            if points < 0:
                raise SpecError(self.id, "points must not be negative", test=fn.__name__)
            doc = (inspect.getdoc(fn) or fn.__name__.replace("_", " ")).splitlines()[0]
            self.tests.append(TestSpec(fn.__name__, fn, float(points), hidden, title or doc, params))
            return fn
        return register

    def autograd_test(self, function: str, *, title: str, name: str = "uses_autograd", points: float = 1) -> None:
        """Declare the test that ``function`` takes its gradients from autograd
        (:func:`~grader.checking.checks.check_uses_autograd`)."""
        def uses_autograd(context: UnitContext) -> Check:
            return check_uses_autograd(function, context.codes)
        uses_autograd.__name__ = name
        self.test(points=points, title=title)(uses_autograd)

    def call_tests(self, check_one: Callable[..., Check], *, example: str, hidden: str, titles: tuple[str, str],
                   points: tuple[float, float], names: tuple[str, str] = ("example", "hidden"),
                   what: str = "hidden inputs") -> None:
        """Declare the two tests of a function on its calls: ``check_one(*args, outcome)``
        on every call of the probe ``example`` (the exercise text's examples: all must be
        right) and of the hidden probe ``hidden`` (partial credit for the share right,
        ``what`` naming them in the message)."""
        def declare(name: str, probe: str, title: str, score: float, hidden_test: bool) -> None:
            def run(**probes: Any) -> Check:
                if hidden_test:
                    return check_hidden_calls(probes[probe], check_one, what)
                return check_example_calls(probes[probe], check_one)
            run.__name__ = name
            run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
                [inspect.Parameter(probe, inspect.Parameter.KEYWORD_ONLY)])
            self.test(points=score, hidden=hidden_test, title=title)(run)
        declare(names[0], example, titles[0], points[0], False)
        declare(names[1], hidden, titles[1], points[1], True)

    def validate(self) -> None:
        """Check the declaration as a whole (called when the registry loads it)."""
        names = [t.name for t in self.tests]
        if len(set(names)) != len(names):
            raise SpecError(self.id, "two tests share a name")
        for rule in self.forbidden:
            unknown = [t for t in rule.tests if t not in names]
            if unknown:
                raise SpecError(self.id, f"forbidden rule zeroes unknown tests {unknown}")
        if not self.tests:
            raise SpecError(self.id, "declares no tests")

    # -- the pipeline's side -------------------------------------------------------

    def _facts(self, ctx: UnitContext) -> NameFacts:
        facts = ctx.cache.get("name_facts")
        if facts is None:
            facts = ctx.cache["name_facts"] = name_facts(ctx.codes)
        return facts

    def read_names(self, ctx: UnitContext) -> set[str]:
        """Every global the probes read (as planned for ``ctx``, else with public inputs)."""
        names: set[str] = set()
        for spec in self.probes.values():
            descriptor = ctx.descriptors.get(f"{self.id}/{spec.name}")
            names |= probe_globals(descriptor if descriptor is not None else spec.descriptor(hidden_rng("", self.id,
                                                                                                     spec.name)))
        return names

    def region(self, ctx: UnitContext) -> list[int]:
        """Submitted cells of this exercise, whose figures its tests see and whose failures
        its report notes: cells tagged for it, cells binding or using its names or the
        globals its probes read and, in a notebook with no cell tagged for it, every cell
        from the first one defining one of its names on (see docs/ARCHITECTURE.md)."""
        facts = self._facts(ctx)
        names = set(self.names) | self.read_names(ctx)
        tagged = {code.cell.index for code in ctx.codes if self.id in code.cell.exercise_tags()}
        cells = tagged | {code.cell.index for code in ctx.codes
                          if (facts.touched[code.cell.index] | code.called | code.defines) & names}
        if not tagged:
            first = min((code.cell.index for code in ctx.codes if code.defines & set(self.names)), default=None)
            if first is not None:
                cells |= {code.cell.index for code in ctx.codes if code.cell.index >= first}
        return sorted(cells)

    def probe_cell(self, ctx: UnitContext, descriptor: ProbeDescriptor) -> int | None:
        """The submitted cell after which a probe reading ``descriptor``'s globals runs, or
        None for the end of the notebook: after the last tagged cell, the last cell that
        binds or touches a global it reads, the last (re)definition of a global its
        functions read, and the last cell that may bind names unseen; at the end when a
        global it reads has no binding this analysis can see while some cell may bind
        names unseen (a global bound nowhere at all moves nothing: reading it fails
        anywhere, and early it fails before a later crash can hide why)."""
        facts = self._facts(ctx)
        tagged = [code.cell.index for code in ctx.codes if self.id in code.cell.exercise_tags()]
        position = max(tagged, default=-1)
        wanted = probe_globals(descriptor)
        for name in wanted:
            cells = [code.cell.index for code in ctx.codes
                     if name in code.defines or {name, f"global:{name}"} & facts.touched[code.cell.index]]
            if not any(name in code.defines or f"global:{name}" in facts.touched[code.cell.index]
                       for code in ctx.codes):
                if facts.dynamic:
                    return None  # bound where the AST cannot see: after everything
                continue  # bound nowhere: reading it fails wherever it runs, so it moves nothing
            position = max(position, cells[-1])
        for name in facts.free_names(wanted) - wanted:
            binders = [code for code in ctx.codes if name in code.defines]
            if name.startswith("global:"):
                binders = [code for code in ctx.codes if name in facts.touched[code.cell.index]]
            # re-importing a module binds the same module: only its first import counts
            real = [code for code in binders if name not in code.imported] or binders[:1]
            if real:
                position = max(position, real[-1].cell.index)
        if facts.dynamic:
            position = max(position, facts.dynamic[-1])
        return position if position >= 0 else None

    def plan(self, ctx: UnitContext) -> list[KernelCall]:
        """The probe requests, each sent after the cell :meth:`probe_cell` names."""
        calls = []
        for spec in self.probes.values():
            secret = ctx.secret if spec.hidden else ""
            descriptor = spec.descriptor(hidden_rng(secret, self.id, spec.name))
            ctx.descriptors[f"{self.id}/{spec.name}"] = descriptor
            seed = derive_seed(secret, self.id, spec.name, "call") if self.seeded_calls else None
            if seed is not None:
                ctx.seeds[f"{self.id}/{spec.name}"] = seed
            request = build_request(descriptor, seed if seed is not None else 0,
                                    guard=[(rule.rules, rule.functions) for rule in self.forbidden])
            cell = None if spec.at_end else self.probe_cell(ctx, descriptor)
            after = None if cell is None else ctx.origin_to_position(cell)
            calls.append(KernelCall(f"{self.id}/{spec.name}", request, spec.timeout or 0.0, after))
        return calls

    def evaluate(self, parts: list[tuple[UnitContext, ExecutionRun]]) -> UnitResult:
        """Read the probes' answers and score every test (in the first notebook holding it)."""
        ctx, run = parts[0]
        return score_exercise(self, ctx, run)
