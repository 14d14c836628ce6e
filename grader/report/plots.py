"""Images for the HTML reports, as base64 PNG: figures, learning curves, statistics.

Drawn with matplotlib's object API (a ``Figure`` per image, no pyplot state), so reports
can be rendered from any thread. A PNG sent by the kernel is untrusted: it is embedded
only if it decodes as a PNG, and re-encoded, so no text from the kernel reaches the page.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["kernel_png", "figure_png", "draw_figure", "curves_png", "histogram_png", "bars_png"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = 5 * 2**20


def _png(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def kernel_png(data: Any) -> str | None:
    """The kernel's base64 PNG, re-encoded, or None when it is not a PNG."""
    if not isinstance(data, str) or len(data) > MAX_PNG_BYTES * 4 // 3 + 4:
        return None
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    return base64.b64encode(raw).decode("ascii") if raw.startswith(PNG_SIGNATURE) else None


def _text(value: Any) -> str:
    """A label from the student's figure, shown literally (no mathtext parsing of ``$``)."""
    return str(value).replace("$", r"\$")


def _series(values: Any) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values or []]


def draw_figure(figure: dict[str, Any]) -> str | None:
    """Draw a captured figure again from its data (lines, bars, labels); None if it has no axes."""
    axes = [a for a in figure.get("axes", []) if isinstance(a, dict)]
    if not axes:
        return None
    fig = Figure(figsize=(4.2, 3.0 * len(axes)))
    for i, data in enumerate(axes):
        ax = fig.add_subplot(len(axes), 1, i + 1)
        for line in data.get("lines", []):
            label = _text(line.get("label", ""))
            style = line.get("linestyle") if line.get("linestyle") in ("-", "--", "-.", ":") else "-"
            ax.plot(_series(line.get("x")), _series(line.get("y")), style,
                    label=None if label.startswith("_") else label)
        for bar in data.get("bars", []):
            ax.bar(float(bar.get("x", 0)), float(bar.get("height", 0)), width=float(bar.get("width", 0.8)),
                   align="edge", color="tab:blue")
        ax.set_title(_text(data.get("title", "")))
        ax.set_xlabel(_text(data.get("xlabel", "")))
        ax.set_ylabel(_text(data.get("ylabel", "")))
        for scale, setter in ((data.get("xscale"), ax.set_xscale), (data.get("yscale"), ax.set_yscale)):
            if scale in ("log", "symlog"):
                setter(scale)
        if any(not str(line.get("label", "_")).startswith("_") for line in data.get("lines", [])):
            ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def figure_png(figure: dict[str, Any]) -> tuple[str | None, str]:
    """The image of a captured figure and how it was obtained ("kernel" or "redrawn")."""
    png = kernel_png(figure.get("png"))
    if png:
        return png, "kernel"
    try:
        return draw_figure(figure), "redrawn"
    except (TypeError, ValueError, RuntimeError):  # data a figure cannot be made of
        return None, "redrawn"


def curves_png(curves: Sequence[dict[str, Any]], *, levels: Sequence[dict[str, Any]] = (),
               scored: dict[str, Any] | None = None) -> str | None:
    """Learning curves, each against its reference band (shaded) when it has one.

    ``levels``: horizontal lines ``{"y", "label", "kind"}`` with kind ``full`` (full marks
    from here), ``reference`` (the reference mean) or ``chance``. ``scored``: the value the
    score came from ``{"x", "y", "evidence"}``, drawn as a star labelled with its evidence,
    since a curve may come from other evidence (the kernel's outputs) than the score (the
    rebuilt model). The legend sits to the right of the axes, never over the lines."""
    curves = [c for c in curves if isinstance(c, dict) and c.get("x") is not None]
    if not curves:
        return None
    fig = Figure(figsize=(7.2, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    for i, curve in enumerate(curves):
        colour = f"C{i % 10}"
        x = _series(curve.get("x"))
        label = _text(curve.get("label", f"curve {i + 1}"))
        if curve.get("band_low") and curve.get("band_high"):
            ax.fill_between(x, _series(curve["band_low"]), _series(curve["band_high"]), color=colour, alpha=0.2,
                            label=f"{label}: reference band")
        ax.plot(x, _series(curve.get("y")), color=colour, marker="o", markersize=3, label=label)
    styles = {"full": ("tab:green", "--"), "reference": ("0.35", ":"), "chance": ("tab:red", "-.")}
    for level in levels:
        colour, dash = styles.get(str(level.get("kind")), ("0.5", "--"))
        ax.axhline(float(level["y"]), color=colour, linestyle=dash, linewidth=1.2, label=_text(level["label"]))
    if scored and scored.get("y") is not None:
        ax.plot([float(scored["x"])], [float(scored["y"])], marker="*", markersize=13, color="black", linestyle="none",
                label=_text(f"scored: {float(scored['y']):.3f} ({scored.get('evidence') or 'measured'})"))
    ax.set_xlabel("epoch")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    fig.tight_layout()
    return _png(fig)


def histogram_png(values: Sequence[float], *, title: str, xlabel: str, bins: int = 10,
                  limits: tuple[float, float] | None = None) -> str:
    """A histogram (e.g. of an exercise's scores)."""
    fig = Figure(figsize=(4.2, 2.6))
    ax = fig.add_subplot(1, 1, 1)
    ax.hist(list(values), bins=bins, range=limits, color="tab:blue", edgecolor="white")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("submissions")
    fig.tight_layout()
    return _png(fig)


def bars_png(labels: Sequence[str], values: Sequence[float], *, title: str, xlabel: str) -> str:
    """Horizontal bars (e.g. each test's pass rate)."""
    fig = Figure(figsize=(6.0, 0.35 * len(labels) + 1.0))
    ax = fig.add_subplot(1, 1, 1)
    ax.barh(list(range(len(labels))), list(values), color="tab:green")
    ax.set_yticks(list(range(len(labels))), [label[:60] for label in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    return _png(fig)
