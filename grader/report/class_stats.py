"""``grade stats``: class statistics as rich tables in the terminal and as a
self-contained HTML summary with embedded plots (a score histogram per exercise and
each test's pass rate)."""

from __future__ import annotations

import html
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.classroom.stats import ClassStats, ExerciseStats
from grader.report.escape import terminal_text
from grader.report.html import CSS
from grader.report.plots import bars_png, histogram_png

__all__ = ["print_stats", "render_stats_html", "write_stats_html", "sparkline"]

BLOCKS = " ▁▂▃▄▅▆▇█"


def sparkline(scores: list[float], top: float, bins: int = 10) -> str:
    """A text histogram of ``scores`` over [0, top] in ``bins`` columns."""
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, int(bins * s / top)) if top > 0 else 0] += 1
    peak = max(counts) or 1
    return "".join(BLOCKS[round(8 * c / peak)] for c in counts)


def _t(text: str) -> str:
    """Student-controlled text for the terminal: control characters shown, markup escaped."""
    return escape(terminal_text(str(text)))


def _exercise_table(ex: ExerciseStats) -> Table:
    table = Table(title=f"{_t(ex.unit)}: {ex.count} submissions, mean {ex.mean:g}/{ex.max_score:g}, "
                        f"median {ex.median:g}, full marks {100 * ex.pass_rate:.0f}%  "
                        f"[{sparkline(ex.scores, ex.max_score)}]",
                  title_justify="left", header_style="bold")
    for column in ("test", "pass rate", "mean", "most common failures"):
        table.add_column(column, overflow="fold")
    for t in ex.tests:
        failures = "\n".join(f"{n}x {_t(example)}" for _, n, example in t.failures)
        table.add_row(_t(t.name.split(": ", 1)[-1]), f"{100 * t.pass_rate:.0f}%",
                      f"{t.mean:g}/{t.max_score:g}", failures)
    return table


def print_stats(stats: ClassStats, console: Console | None = None) -> None:
    """The statistics as tables."""
    console = console or Console(highlight=False)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(stats.statuses.items()))
    console.print(f"[bold]{stats.students} students[/] ({_t(counts)})")
    for ex in stats.exercises:
        console.print(_exercise_table(ex))


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _img(png: str, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{png}">'


def render_stats_html(stats: ClassStats) -> str:
    """The statistics as one self-contained HTML page."""
    counts = ", ".join(f"{n} {k}" for k, n in sorted(stats.statuses.items()))
    parts = [f"<h1>Class statistics</h1><p class=\"meta\">{stats.students} students ({_e(counts)})</p>"]
    for ex in stats.exercises:
        parts.append(f"<h2>{_e(ex.unit)}</h2><p>{ex.count} submissions, mean {ex.mean:g} / {ex.max_score:g}, "
                     f"median {ex.median:g}, full marks {100 * ex.pass_rate:.0f}%</p>")
        hist = histogram_png(ex.scores, title=f"{ex.unit}: scores", xlabel="points",
                             limits=(0.0, ex.max_score or 1.0))
        rates = bars_png([t.name.split(": ", 1)[-1] for t in ex.tests], [100 * t.pass_rate for t in ex.tests],
                         title=f"{ex.unit}: tests passed", xlabel="% of submissions")
        parts.append('<div class="pair">' + _img(hist, f"{ex.unit} score histogram")
                     + _img(rates, f"{ex.unit} pass rates") + "</div>")
        rows = []
        for t in ex.tests:
            failures = "".join(f"<li>{n}&times; {_e(example)}</li>" for _, n, example in t.failures)
            rows.append(f"<tr><td>{_e(t.name.split(': ', 1)[-1])}</td><td>{100 * t.pass_rate:.0f}%</td>"
                        f"<td>{t.mean:g}/{t.max_score:g}</td><td><ul>{failures}</ul></td></tr>")
        parts.append('<table class="tests"><tr><th>test</th><th>pass rate</th><th>mean</th>'
                     f'<th>most common failures</th></tr>{"".join(rows)}</table>')
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Class statistics</title>'
            f'<style>{CSS}</style></head><body>{"".join(parts)}</body></html>\n')


def write_stats_html(stats: ClassStats, path: Path) -> None:
    """Write :func:`render_stats_html` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_stats_html(stats), encoding="utf-8")
