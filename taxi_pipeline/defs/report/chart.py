"""The picture of the warehouse: rows per month, one line per color, drawn as a PNG.

Pure drawing, no Dagster: the `trips_per_month` asset and `python -m taxi_pipeline.defs.report
--chart` both call `trips_per_month_png`. matplotlib is imported by this module only, and this
module only when a chart is drawn, so loading the definitions never pays for it. It draws on its
own `Figure` with the Agg canvas: no pyplot, no process-wide backend switch.
"""

import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

WIDTH_PX, HEIGHT_PX, DPI = 900, 450, 100
TITLE = "NYC taxi trips per month in the warehouse"
# Each service in the colour it is known by; any other service takes the next of the fallbacks.
SERVICE_COLORS = {"yellow": "#e6a800", "green": "#2e9e44", "fhv": "#6a3d9a", "fhvhv": "#1f78b4"}
FALLBACK_COLORS = ["#e31a1c", "#ff7f00", "#8c564b", "#17becf"]
# Each slice's point is drawn with the marker of the release it was loaded from.
SOURCE_MARKERS = {"course": "o", "tlc": "s"}
OTHER_SOURCE_MARKER, UNRECORDED_MARKER = "^", "x"
MARKER_GLYPHS = {"o": "\u25cf", "s": "\u25a0", "^": "\u25b2", "x": "\u00d7"}
UNRECORDED = "unrecorded"
# Above this ratio between the largest and the smallest month the y axis is logarithmic: yellow's
# millions and fhv's tens on a linear axis would leave fhv flat on zero.
LOG_SCALE_RATIO = 100


def series_by_color(counts: Iterable[tuple[str, date, int]]) -> dict[str, list[tuple[date, int]]]:
    """{color: [(month, rows), ...] in month order} of (color, source_month, rows) slices."""
    series: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for color, month, rows in counts:
        series[color].append((month, int(rows)))
    return {color: sorted(points) for color, points in sorted(series.items())}


def with_gaps(points: list[tuple[date, int]]) -> tuple[list[date], list[float]]:
    """Months and rows of one color's points, with a NaN row after a month whose next month is
    missing: the line breaks there instead of drawing a trend over months never loaded."""
    months: list[date] = []
    rows: list[float] = []
    for month, count in points:
        if months and _month_index(month) - _month_index(months[-1]) > 1:
            months.append(months[-1])
            rows.append(math.nan)
        months.append(month)
        rows.append(count)
    return months, rows


def source_name(source: str | None) -> str:
    """A slice's source as the chart names it."""
    return UNRECORDED if source is None else source


def source_marker(source: str | None) -> str:
    """The matplotlib marker of a slice's source."""
    return UNRECORDED_MARKER if source is None else SOURCE_MARKERS.get(source, OTHER_SOURCE_MARKER)


def chart_title(sources: Iterable[str | None]) -> str:
    """The title: TITLE and the sources the slices were loaded from, each with its marker's glyph."""
    shown = sorted({source_name(s): MARKER_GLYPHS[source_marker(s)] for s in sources}.items())
    if not shown:
        return TITLE
    return f"{TITLE}\nloaded from " + ", ".join(f"{name} {glyph}" for name, glyph in shown)


def legend_label(color: str, points: list[tuple[date, int]], sources: Mapping[tuple[str, date], str | None]) -> str:
    """A color's legend entry: its trips and the sources of its slices."""
    total = sum(count for _, count in points)
    names = ", ".join(sorted({source_name(sources.get((color, month))) for month, _ in points}))
    return f"{color} ({total:,} trips; {names})"


def _month_index(month: date) -> int:
    return month.year * 12 + month.month


def needs_log_scale(rows: Iterable[int]) -> bool:
    """Whether the months' rows span more than LOG_SCALE_RATIO (zeros aside)."""
    positive = [r for r in rows if r > 0]
    return bool(positive) and max(positive) / min(positive) > LOG_SCALE_RATIO


def _thousands(value: float, _position=None) -> str:
    return f"{value:,.0f}"


def _color_of(color: str, others: list[str]) -> str:
    if color in SERVICE_COLORS:
        return SERVICE_COLORS[color]
    return FALLBACK_COLORS[others.index(color) % len(FALLBACK_COLORS)]


def _draw(
    figure: Figure, series: dict[str, list[tuple[date, int]]], sources: Mapping[tuple[str, date], str | None]
) -> None:
    axes = figure.add_subplot()
    slice_sources = [sources.get((color, month)) for color, points in series.items() for month, _ in points]
    axes.set_title(chart_title(slice_sources), fontsize=13, loc="left", pad=12)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if not series:
        axes.text(0.5, 0.5, "No trips loaded yet", ha="center", va="center", fontsize=16, color="#555555")
        axes.set_axis_off()
        return
    others = [c for c in series if c not in SERVICE_COLORS]
    for color, points in series.items():
        months, rows = with_gaps(points)
        line_color = _color_of(color, others)
        axes.plot(months, rows, linewidth=2, color=line_color, label=legend_label(color, points, sources))
        by_source: dict[str, list[tuple[date, int]]] = defaultdict(list)
        for month, count in points:
            by_source[source_marker(sources.get((color, month)))].append((month, count))
        for marker, marked in by_source.items():
            axes.plot(
                [month for month, _ in marked],
                [count for _, count in marked],
                linestyle="none",
                marker=marker,
                markersize=5,
                color=line_color,
            )
    counts = [count for points in series.values() for _, count in points]
    if needs_log_scale(counts):
        axes.set_yscale("log")
        # Whole decades, so that both ends have a labelled tick; over three decades or fewer,
        # 1-2-5 steps, over more the powers of ten alone.
        low = math.floor(math.log10(min(c for c in counts if c > 0)))
        high = math.ceil(math.log10(max(counts)))
        axes.set_ylim(10**low, 10**high)
        axes.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if high - low <= 3 else (1.0,)))
        axes.yaxis.set_minor_formatter(NullFormatter())
        axes.set_ylabel("trips (log scale)")
    else:
        axes.set_ylim(bottom=0)
        axes.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        axes.set_ylabel("trips")
    axes.yaxis.set_major_formatter(FuncFormatter(_thousands))
    locator = AutoDateLocator(minticks=3, maxticks=12)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.set_xlabel("month of pickup (source file)")
    axes.grid(True, which="major", color="#dddddd", linewidth=0.8)
    axes.set_axisbelow(True)
    axes.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="service")
    # Months with only one slice: pad the x range so a lone point is not on the frame.
    axes.margins(x=0.05)


def trips_per_month_figure(
    counts: Iterable[tuple[str, date, int]], sources: Mapping[tuple[str, date], str | None] | None = None
) -> Figure:
    """The chart of rows per month, one line per color, from (color, source_month, rows) slices as
    `WarehouseResource.slice_counts()` returns them; each slice's point is marked by its source in
    `sources` ({(color, source_month): source}), which the title and legend name ("unrecorded"
    where there is none); with no slices, a chart that says no trips are loaded yet."""
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    # A 10-pixel margin all round, also when the empty chart has no axes to lay out.
    figure.set_layout_engine(ConstrainedLayoutEngine(w_pad=0.1, h_pad=0.1))
    FigureCanvasAgg(figure)
    _draw(figure, series_by_color(counts), sources or {})
    return figure


def trips_per_month_png(
    counts: Iterable[tuple[str, date, int]], sources: Mapping[tuple[str, date], str | None] | None = None
) -> bytes:
    """`trips_per_month_figure` as a WIDTH_PX x HEIGHT_PX PNG."""
    png = io.BytesIO()
    trips_per_month_figure(counts, sources).savefig(png, format="png", dpi=DPI, facecolor="white")
    return png.getvalue()
