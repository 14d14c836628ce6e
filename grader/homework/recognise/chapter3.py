"""Recognisers of chapter 3: removing ``save_hyperparameters`` (3.2), zero and large
initialisation, Ohm's law and Planck's law fits (3.4)."""

from __future__ import annotations

import ast
import math
import re
from typing import Any, Sequence

import numpy as np

from grader.checking.checks import as_array
from grader.notebook.static import CellCode
from grader.values import ArrayValue, ModuleValue
from grader.homework.recognise.base import (MAX_READS, Attempt, Evidence, Measured, Recogniser, called_helpers, callers,
                                            constant_value, downstream, effective_source, loaded_globals, trains,
                                            upstream_source, uses, value_names)

CLOSED_FORMS = ("numpy.polyfit", "numpy.linalg.lstsq", "torch.linalg.lstsq", "numpy.linalg.pinv", "torch.linalg.pinv",
                "scipy.optimize.curve_fit", "scipy.stats.linregress", "numpy.linalg.inv", "torch.linalg.inv")


# -- 3.2: removing save_hyperparameters ------------------------------------------------

class RemoveSaveHyperparameters(Recogniser):
    """A HyperParameters subclass without save_hyperparameters reading its arguments."""

    expected_errors = (("AttributeError", r"has no attribute"),)

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        for code in codes:
            for node in code.tree.body if code.tree is not None else []:
                if not isinstance(node, ast.ClassDef) or not any(
                        ast.unparse(b).endswith("HyperParameters") for b in node.bases):
                    continue
                init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
                if init is None or "save_hyperparameters" in ast.unparse(init):
                    continue
                args = {a.arg for a in init.args.args[1:]}
                reads = {n.attr for n in ast.walk(init) if isinstance(n, ast.Attribute)
                         and isinstance(n.value, ast.Name) and n.value.id == "self"}
                if not args & reads:
                    continue
                made = rf"\b{node.name}\s*\("
                if re.search(made, code.cell.source.split(f"class {node.name}", 1)[-1]):
                    attempts.append(Attempt(self.id, part, [code.cell.index], (), {"class": node.name}))
                    continue
                # the class in one cell, an instance in a later one (before the class is redefined)
                for later in (c for c in codes if c.cell.index > code.cell.index):
                    if re.search(rf"^\s*class\s+{node.name}\b", later.cell.source, re.MULTILINE):
                        break
                    if re.search(made, later.cell.source):
                        attempts.append(Attempt(self.id, part, [code.cell.index, later.cell.index], (),
                                                {"class": node.name}))
                        break
        return attempts

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        record = ev.records.get(attempt.cells[-1])
        if record is not None and record.status == "error" and self.expects(record.ename, record.evalue):
            return Measured("correct", f"without save_hyperparameters `{attempt.facts['class']}` has no such "
                            f"attributes: {record.ename}: {record.evalue[:80]}")
        printed = next((m.group(0) for c in attempt.cells
                        if (m := re.search(r"[^\n]*has no attribute[^\n]*", ev.printed.get(c, "")))), None)
        if record is not None and record.status == "ok" and printed:  # caught (try/except) and printed
            return Measured("correct", f"without save_hyperparameters `{attempt.facts['class']}` has no such "
                            f"attributes; the cell caught the error and printed: {printed.strip()[:80]}")
        if record is not None and record.status == "ok":
            return Measured("attempted", f"`{attempt.facts['class']}` ran without error: its arguments became "
                            "attributes some other way")
        what = f"{record.ename}: {record.evalue[:80]}" if record else "it did not run"
        return Measured("wrong", f"the cell failed otherwise: {what}")


# -- 3.4: zero and large initialisation ------------------------------------------------

def _init_kind(node: ast.AST) -> tuple[str, float | None] | None:
    """('zero', 0) for torch.zeros(...), ('normal', std) for torch.normal(0, std, ...) or randn(...) * std."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in ("zeros", "zeros_like", "zeros_"):
            return "zero", 0.0
        if node.func.attr == "normal" and len(node.args) >= 2:
            return "normal", constant_value(node.args[1])
        if node.func.attr == "normal":
            std = next((k.value for k in node.keywords if k.arg == "std"), None)
            return ("normal", constant_value(std)) if std is not None else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        for a, b in ((node.left, node.right), (node.right, node.left)):
            if isinstance(a, ast.Call) and isinstance(a.func, ast.Attribute) and a.func.attr == "randn":
                return "normal", constant_value(b)
    return None


def _w_owner(node: ast.AST | None) -> str | None:
    """``m`` of ``m.w`` or ``m.w.data``."""
    if isinstance(node, ast.Attribute) and node.attr == "data":
        node = node.value
    if isinstance(node, ast.Attribute) and node.attr == "w" and isinstance(node.value, ast.Name):
        return node.value.id
    return None


def _in_place_init(node: ast.AST) -> tuple[str, float | None] | None:
    """The weights ``w`` set in place: ``m.w.zero_()``, ``m.w.data.fill_(0)``, ``nn.init.zeros_(m.w)``,
    ``nn.init.constant_(m.w, 0)``, ``m.w.normal_(0, std)``, ``nn.init.normal_(m.w, std=...)``."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    attr, receiver = node.func.attr, node.func.value
    std_kw = next((k.value for k in node.keywords if k.arg == "std"), None)
    if _w_owner(receiver):  # a method of the weights
        if attr == "zero_" or (attr == "fill_" and node.args and constant_value(node.args[0]) == 0):
            return "zero", 0.0
        if attr == "normal_":
            std = std_kw if std_kw is not None else (node.args[1] if len(node.args) > 1 else None)
            return ("normal", constant_value(std)) if std is not None else None
        return None
    if node.args and _w_owner(node.args[0]) and ast.unparse(receiver).endswith("init"):  # nn.init.xxx_(m.w, ...)
        if attr == "zeros_" or (attr == "constant_" and len(node.args) > 1 and constant_value(node.args[1]) == 0):
            return "zero", 0.0
        if attr == "normal_":
            std = std_kw if std_kw is not None else (node.args[2] if len(node.args) > 2 else None)
            return ("normal", constant_value(std)) if std is not None else None
    return None


class InitRuns(Recogniser):
    """Linear regression trained from zero weights, or from weights of variance 1000."""

    VARIANCE = 1000.0
    combine = "all"

    def _variants(self, code: CellCode) -> list[dict[str, Any]]:
        found = []
        loops: dict[str, list[float | None]] = {}  # for sigma in [0, 1000 ** 0.5]: ... sigma=sigma
        for node in ast.walk(code.tree) if code.tree is not None else []:
            if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name) \
                    and isinstance(node.iter, (ast.List, ast.Tuple)):
                loops[node.target.id] = [constant_value(e) for e in node.iter.elts]
        for node in ast.walk(code.tree) if code.tree is not None else []:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "w" for t in node.targets):
                kind = _init_kind(node.value)
                if kind and (kind[0] == "zero" or (kind[1] or 0) >= 1):
                    found.append({"kind": kind[0], "std": kind[1]})
            in_place = _in_place_init(node)
            if in_place is not None and (in_place[0] == "zero" or (in_place[1] or 0) >= 1):
                found.append({"kind": in_place[0], "std": in_place[1]})
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("LinearRegressionScratch"):
                given = next((k.value for k in node.keywords if k.arg == "sigma"), None)
                if given is None and len(node.args) >= 3:
                    given = node.args[2]
                stds = loops.get(given.id, []) if isinstance(given, ast.Name) else [constant_value(given)]
                for std in stds:
                    if std is not None and (std == 0 or std >= 1):
                        found.append({"kind": "zero" if std == 0 else "normal", "std": std})
        return found

    @staticmethod
    def _owners(code: CellCode) -> list[str]:
        """Names whose ``.w`` the cell replaces or fills (``m0.w = torch.zeros(...)``, ``m0.w.zero_()``)."""
        out = []
        for n in ast.walk(code.tree) if code.tree is not None else []:
            if isinstance(n, ast.Assign):
                out += [o for t in n.targets if (o := _w_owner(t))]
            elif isinstance(n, ast.Call) and _in_place_init(n) is not None:
                target = n.func.value if isinstance(n.func, ast.Attribute) and n.func.attr.endswith("_") \
                    and _w_owner(n.func.value) else (n.args[0] if n.args else None)
                out += [o for o in [_w_owner(target)] if o]
        return out

    def _reading(self, std: float, status: str) -> tuple[str, str]:
        """Which reading of "variance 1000" the drawn standard deviation follows. The book
        calls its ``sigma=0.01`` a variance but draws with standard deviation sigma, so a
        student following the book's convention draws with standard deviation 1000: both
        readings answer the exercise, and the message says which one was used."""
        root = math.sqrt(self.VARIANCE)
        if abs(std * std - self.VARIANCE) <= 0.05 * self.VARIANCE:
            return f"weights drawn with standard deviation {std:.3g}: variance {self.VARIANCE:g} read literally", status
        if abs(std - self.VARIANCE) <= 0.05 * self.VARIANCE:
            return (f"weights drawn with standard deviation {std:g}: variance {self.VARIANCE:g} read with the book's "
                    f"convention (its sigma is called a variance but drawn as a standard deviation; literally it "
                    f"would be {root:.3g})"), status
        return (f"the weights are drawn with standard deviation {std:g}, i.e. variance {std * std:g}: neither "
                f"variance {self.VARIANCE:g} (standard deviation {root:.3g}) nor the book's convention (standard "
                f"deviation {self.VARIANCE:g})"), "wrong"

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        for i, code in enumerate(codes):
            variants = self._variants(code)
            if not variants:
                continue
            cells = [code.cell.index]
            classes = [n.name for n in (code.tree.body if code.tree else []) if isinstance(n, ast.ClassDef)]
            if not trains(code.cell.source):
                # trained in a later cell: one that makes the class or reuses the changed model, or (one
                # statement per cell) one that trains a model a cell in between made from them
                owners = set(self._owners(code)) | set(value_names(codes, [code.cell.index]))
                made_between: list[int] = []
                for later in codes[i + 1:i + 6]:
                    made = any(re.search(rf"\b{c}\s*\(", later.cell.source) for c in classes)
                    reused = [o for o in owners if re.search(rf"\b{re.escape(o)}\b", later.cell.source)]
                    if (made or reused) and trains(later.cell.source):
                        cells += made_between + [later.cell.index]
                        break
                    if made or set(reused) - {"self"}:
                        made_between.append(later.cell.index)
                        owners |= set(value_names(codes, [later.cell.index]))
            attempts.append(Attempt(self.id, part, cells, (), {"variants": variants}))
        return attempts

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        runs = [m for m in ev.models if m.fits and any("w" in f and "start" in f for f in m.fits)]
        if not runs:
            return Measured("attempted", "no linear-regression training run was seen in these cells")
        lines, status = [], "correct"
        for variant in attempt.facts["variants"]:
            if variant["kind"] == "normal" and variant["std"] is not None:
                reading, status = self._reading(variant["std"], status)
                lines.append(reading)
        for model in runs:
            fit = next(f for f in model.fits if "w" in f and "start" in f)
            start = np.asarray(fit["start"].get("w", []), dtype=float).ravel()
            end = np.asarray(fit.get("end", {}).get("w", []), dtype=float).ravel()
            true_w = np.asarray(fit["w"], dtype=float).ravel()
            if end.size != true_w.size:
                continue
            err = np.abs(end - true_w)
            how = "zero weights" if start.size and not start.any() else f"weights with |w| up to {np.abs(start).max():.3g}"
            lines.append(f"{model.cls} from {how}: after {fit.get('epochs')} epochs the error in w is "
                         f"{np.array2string(err, precision=3)}")
        return Measured(status, "; ".join(lines) or "training runs seen, but their weights could not be read")


# -- 3.4: Ohm's law ----------------------------------------------------------------------

class OhmFit(Recogniser):
    """A resistance learnt with autograd from current and voltage data."""

    VOCAB = re.compile(r"resist|ohm|volt|current", re.IGNORECASE)

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        for code in codes:
            src = effective_source(code, codes)  # a fit written as a helper and called here
            # R made learnable here or in the cell that last bound it (the data and R set up in cells before the loop)
            setup = src + "\n" + upstream_source(code, codes)
            learnt = "requires_grad" in setup or re.search(r"\bnn\.Linear\(\s*1\s*,\s*1\b", setup)  # R as a 1x1 layer
            if code.tree is None or not learnt or not trains(src):
                continue
            names = {n.id for n in ast.walk(code.tree) if isinstance(n, ast.Name)}
            names |= {n for f in called_helpers(code, codes) for n in [f.name, *(a.arg for a in f.args.args)]}
            vocab = any(self.VOCAB.search(n) for n in names) or ({"R", "I"} <= names or {"R", "V"} <= names)
            if vocab and not re.search(r"6\.62\d*e-34", setup):
                # the current and voltage may come from the cell before
                reads = tuple(dict.fromkeys([*value_names(codes, [code.cell.index]), *loaded_globals(code, codes)]))
                attempts.append(Attempt(self.id, part, [code.cell.index], reads[:MAX_READS]))
        return attempts

    @staticmethod
    def _slope(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.dot(x, y) / np.dot(x, x))

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        closed = uses(ev.codes, attempt.cells, CLOSED_FORMS)
        params = {n: v for n, v in ev.values.items() if isinstance(v, ArrayValue) and v.requires_grad and v.array.size <= 2}
        for n, v in ev.values.items():  # nn.Linear(1, 1): its weight is the resistance
            weight = v.params.get("weight") if isinstance(v, ModuleValue) else None
            if isinstance(weight, ArrayValue) and weight.array.size == 1 and \
                    sum(p.array.size for p in v.params.values() if isinstance(p, ArrayValue)) <= 2:
                params[f"{n}.weight"] = weight
        data = {n: v.array.astype(float).ravel() for n, v in ev.values.items()
                if isinstance(v, ArrayValue) and not v.requires_grad and v.array.size >= 3
                and (v.array.ndim == 1 or (v.array.ndim == 2 and 1 in v.array.shape))}
        if not params or len(data) < 2:
            return Measured("attempted", "could not find both the learnt resistance and the current/voltage data")
        name, param = sorted(params.items(), key=lambda kv: not re.search(r"^r|resist", kv[0], re.IGNORECASE))[0]
        estimate = float(param.array.ravel()[0])
        xs = [n for n in data if re.search(r"^i|curr", n, re.IGNORECASE)] or list(data)
        ys = [n for n in data if re.search(r"^v|volt", n, re.IGNORECASE)] or list(data)
        best = None
        for xn in xs:
            for yn in ys:
                if xn != yn and data[xn].size == data[yn].size and np.dot(data[xn], data[xn]) > 0:
                    r = self._slope(data[xn], data[yn])
                    if best is None or abs(estimate - r) < abs(estimate - best[0]):
                        best = (r, xn, yn)
        if best is None:
            return Measured("attempted", "no pair of current and voltage arrays of equal length")
        r, xn, yn = best
        message = f"`{name}` = {estimate:.4g}; least squares on `{xn}` and `{yn}` here gives R = {r:.4g}"
        if closed:
            return Measured("wrong", f"{message}; but it uses {', '.join(closed)}, not autograd")
        if abs(estimate - r) <= 0.01 * abs(r):
            return Measured("correct", message + " (within 1 %)")
        return Measured("wrong", message + f": off by {abs(estimate - r) / abs(r):.1%}")


# -- 3.4: Planck's law ----------------------------------------------------------------------

H, C, K = 6.62607015e-34, 2.99792458e8, 1.380649e-23


def planck(wavelength: np.ndarray, temperature: float) -> np.ndarray:
    """Spectral radiance B(lambda, T) in SI units."""
    with np.errstate(over="ignore"):
        return 2 * H * C ** 2 / wavelength ** 5 / np.expm1(H * C / (wavelength * K * temperature))


class PlanckFit(Recogniser):
    """A temperature fitted to a spectrum with Planck's law."""

    FITS = re.compile(r"curve_fit|minimize|least_squares|leastsq|\.backward\(|\.step\(")

    def find(self, codes: Sequence[CellCode], part: int = 0) -> list[Attempt]:
        attempts = []
        for code in codes:
            if code.tree is None:
                continue
            consts = [n.value for n in ast.walk(code.tree) if isinstance(n, ast.Constant) and isinstance(n.value, float)]
            has_h = any(abs(v / H - 1) < 0.01 for v in consts if v > 0)
            has_k = any(abs(v / K - 1) < 0.01 for v in consts if v > 0)
            if (has_h and has_k) or self._scipy_constants(code):
                cells = [code.cell.index] + callers(code, codes)  # radiance(...) defined here, fitted later
                if not self.FITS.search(code.cell.source):
                    # the constants alone here: the law, the data and the fit follow in the cells that use them
                    cells = sorted(set(cells) | set(downstream(code, codes)))
                reads = list(value_names(codes, cells))
                for later in (c for c in codes if c.cell.index in cells[1:]):
                    reads += [n for n in loaded_globals(later, codes) if n not in reads]  # the wavelengths of a cell before
                attempts.append(Attempt(self.id, part, cells, tuple(reads[:MAX_READS])))
        return attempts

    @staticmethod
    def _scipy_constants(code: CellCode) -> bool:
        """Planck's and Boltzmann's constants taken from ``scipy.constants`` (``from scipy.constants
        import h, c, k``, ``const.Planck``, ``constants.k``)."""
        imported: set[str] = set()
        modules: set[str] = set()
        for node in ast.walk(code.tree) if code.tree is not None else []:
            if isinstance(node, ast.ImportFrom) and node.module == "scipy.constants":
                imported |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module == "scipy":
                modules |= {a.asname or a.name for a in node.names if a.name == "constants"}
            elif isinstance(node, ast.Import):
                modules |= {a.asname or a.name for a in node.names if a.name == "scipy.constants"}
        used = imported | {ast.unparse(n).split(".")[-1] for n in ast.walk(code.tree) if isinstance(n, ast.Attribute)
                           and ast.unparse(n.value) in modules} if code.tree is not None else imported
        return bool(used & {"h", "Planck"}) and bool(used & {"k", "Boltzmann"})

    @staticmethod
    def reference_temperature(wavelength: np.ndarray, radiance: np.ndarray, start: float = 5000.0) -> float | None:
        """The least-squares temperature of the spectrum, fitted here (with a free scale
        when the notebook normalised its radiance)."""
        from scipy.optimize import curve_fit

        best: tuple[float, float] | None = None
        for scaled in (False, True):
            def model(lam: np.ndarray, t: float, a: float = 1.0) -> np.ndarray:
                return a * planck(lam, t) / (1.0 if not scaled else planck(lam, t).max())
            try:
                p0 = [start] + ([float(radiance.max())] if scaled else [])
                popt, _ = curve_fit(model, wavelength, radiance, p0=p0, maxfev=5000)
            except (RuntimeError, ValueError, TypeError):
                continue
            residual = float(np.linalg.norm(model(wavelength, *popt) - radiance) / np.linalg.norm(radiance))
            if np.isfinite(residual) and (best is None or residual < best[1]):
                best = (float(popt[0]), residual)
        return best[0] if best else None

    def _spectrum(self, values: dict[str, Any]) -> tuple[str, np.ndarray, str, np.ndarray] | None:
        arrays = {n: as_array(v) for n, v in values.items()}
        arrays = {n: a.astype(float).ravel() for n, a in arrays.items()
                  if a is not None and a.ndim == 1 and a.size >= 5 and np.all(np.isfinite(a))}
        for ln, lam in arrays.items():
            if lam.min() <= 0:
                continue
            scale = 1.0 if lam.max() < 1e-3 else (1e-9 if 10 <= lam.max() <= 1e5 else 0.0)
            if not scale:
                continue
            for bn, b in arrays.items():
                if bn != ln and b.size == lam.size and b.max() > 0 and not re.search(r"fit|pred|est|hat|true", bn, re.I):
                    return ln, lam * scale, bn, b
        return None

    def measure(self, attempt: Attempt, ev: Evidence) -> Measured:
        method = "scipy.optimize" if uses(ev.codes, attempt.cells, ("scipy.optimize",)) else (
            "autograd" if any(re.search(r"\.backward\(|requires_grad", c.cell.source)
                              for c in ev.codes if c.cell.index in attempt.cells) else "another method")
        spectrum = self._spectrum(ev.values)
        if spectrum is None:
            return Measured("attempted", f"fit by {method}; no wavelength and radiance arrays could be read",
                            {"method": method})
        ln, lam, bn, radiance = spectrum
        reference = self.reference_temperature(lam, radiance)
        if reference is None:
            return Measured("attempted", f"fit by {method}; the spectrum in `{bn}` could not be fitted here",
                            {"method": method})
        candidates = []
        for name, value in ev.values.items():
            if re.search(r"true|real|actual", name, re.IGNORECASE):
                continue
            arr = as_array(value)
            if arr is not None and 1 <= arr.size <= 3 and arr.dtype.kind in "iuf":
                t = float(arr.ravel()[0])
                if 100 <= t <= 1e5:
                    candidates.append((name, t))
        message = f"least squares on `{ln}` and `{bn}` here gives T = {reference:.1f} K; fit by {method}"
        details = {"method": method, "reference": reference}
        good = [(n, t) for n, t in candidates if abs(t - reference) <= 0.01 * reference]
        if good:
            return Measured("correct", f"`{good[0][0]}` = {good[0][1]:.1f} K; {message}", details)
        if candidates:
            shown = ", ".join(f"`{n}` = {t:.1f}" for n, t in candidates[:3])
            return Measured("wrong", f"{shown}; {message}: more than 1 % off", details)
        return Measured("attempted", f"{message}; no fitted temperature found among the cell's values", details)
