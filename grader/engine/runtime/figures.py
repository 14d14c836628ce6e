# Kernel side: read matplotlib figures as numbers, with inline-backend semantics.
#
# The kernel runs on the Agg backend. plt.show() and the end of every cell capture
# each open figure (its axes, lines, bars, images, and a PNG if asked) and then close
# it, exactly when the inline backend would have displayed and closed it. d2l's live
# plots (ProgressBoard, Animator) re-render on every update; under the grader their
# display calls only mark the figure, which is captured once at the end of the cell.
_MAX_POINTS = 20_000
_figure_state = {"pending": [], "kept": [], "images": False}


def _floats(values):
    np = _sys.modules["numpy"]
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except Exception:
        return None
    if arr.size > _MAX_POINTS:
        arr = arr[:: int(_math.ceil(arr.size / _MAX_POINTS))]
    return [v if _math.isfinite(v) else None for v in arr.tolist()]


def _axes_data(ax):
    lines = []
    for line in ax.get_lines():
        lines.append({"label": str(line.get_label()), "x": _floats(line.get_xdata()),
                      "y": _floats(line.get_ydata()), "linestyle": str(line.get_linestyle()),
                      "marker": str(line.get_marker())})
    bars = [{"x": float(p.get_x()), "width": float(p.get_width()), "height": float(p.get_height())}
            for p in ax.patches if type(p).__name__ == "Rectangle"]
    collections = []
    for c in ax.collections:
        try:
            offsets = c.get_offsets()
            collections.append({"kind": type(c).__name__, "points": len(offsets)})
        except Exception:
            collections.append({"kind": type(c).__name__, "points": 0})
    legend = ax.get_legend()
    return {
        "title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
        "xscale": ax.get_xscale(), "yscale": ax.get_yscale(), "lines": lines, "bars": bars,
        "collections": collections, "images": [list(im.get_array().shape) for im in ax.get_images()],
        "legend": [t.get_text() for t in legend.get_texts()] if legend is not None else [],
    }


def _figure_data(fig):
    data = {"axes": [_axes_data(ax) for ax in fig.get_axes()],
            "size": [float(v) for v in fig.get_size_inches()],
            "suptitle": fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""}
    if _figure_state["images"]:
        import io
        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png", dpi=60)
            data["png"] = _b64.b64encode(buf.getvalue()).decode("ascii")
        except Exception as exc:
            data["png_error"] = type(exc).__name__
    return data


def _capture_open_figures():
    """Record and close every figure pyplot knows, plus figures d2l asked to display."""
    plt = _sys.modules.get("matplotlib.pyplot")
    figures = list(_figure_state["kept"])
    _figure_state["kept"] = []
    if plt is not None:
        for num in _ORIG["plt.get_fignums"]():
            fig = _ORIG["Gcf.get_fig_manager"](num).canvas.figure
            if fig not in figures:
                figures.append(fig)
    for fig in figures:
        try:
            _figure_state["pending"].append(_figure_data(fig))
        except Exception as exc:
            _figure_state["pending"].append({"error": "%s: %s" % (type(exc).__name__, exc)})
    if plt is not None:
        _ORIG["plt.close"]("all")


def _grader_show(*args, **kwargs):
    _capture_open_figures()


def _patch_pyplot(plt):
    import matplotlib._pylab_helpers as helpers
    _ORIG["plt.get_fignums"] = plt.get_fignums
    _ORIG["plt.close"] = plt.close
    _ORIG["Gcf.get_fig_manager"] = helpers.Gcf.get_fig_manager
    plt.show = _grader_show
    import warnings
    warnings.filterwarnings("ignore", message=".*non-interactive.*cannot be shown")


class _DisplayShim:
    """Stands in for IPython.display inside d2l: figures are marked, not rendered."""

    def __init__(self, real):
        self._real = real
        self._last_was_figure = False

    def display(self, *objs, **kwargs):
        mpl_figure = _sys.modules.get("matplotlib.figure")
        if mpl_figure is not None and objs and all(isinstance(o, mpl_figure.Figure) for o in objs):
            for fig in objs:
                if fig not in _figure_state["kept"]:
                    _figure_state["kept"].append(fig)
            self._last_was_figure = True
            return None
        self._last_was_figure = False
        return self._real.display(*objs, **kwargs)

    def clear_output(self, wait=False):
        if self._last_was_figure:
            return None
        return self._real.clear_output(wait=wait)

    def __getattr__(self, name):
        return getattr(self._real, name)


def _patch_d2l(mod):
    real = getattr(mod, "display", None)
    if real is not None and not isinstance(real, _DisplayShim):
        mod.display = _DisplayShim(real)


def _take_figures():
    figures = _figure_state["pending"]
    _figure_state["pending"] = []
    return figures
