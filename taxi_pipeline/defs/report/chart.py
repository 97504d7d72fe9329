"""The chart of the warehouse: rows per month, a line per color, each point marked by its source.
Imported only to draw (matplotlib costs ~1 s); a `Figure` of its own, no pyplot or global backend."""

import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, MonthLocator
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter, StrMethodFormatter

WIDTH_PX, HEIGHT_PX, DPI = 900, 450, 100
# The copy the UI shows in place, in the metadata table's value column (about 590 px wide beside
# the asset's definition in a 1600 px window): the legend goes under the axes.
COMPACT_WIDTH_PX, COMPACT_HEIGHT_PX = 560, 380
TITLE = "NYC taxi trips per month in the warehouse"
SERVICE_COLORS = {"yellow": "#e6a800", "green": "#2e9e44", "fhv": "#6a3d9a", "fhvhv": "#1f78b4"}
FALLBACK_COLORS = ["#e31a1c", "#ff7f00", "#8c564b", "#17becf"]  # for any other service, in turn
# Each slice's point is marked by the release it was loaded from: (marker, its glyph in the title).
MARKERS = {"course": ("o", "\u25cf"), "tlc": ("s", "\u25a0"), None: ("x", "\u00d7")}
OTHER_MARKER = ("^", "\u25b2")
# Above this ratio between the largest and smallest month the y axis is logarithmic: yellow's
# millions and fhv's tens on a linear axis would leave fhv flat on zero.
LOG_SCALE_RATIO = 100

Slices = Iterable[tuple[str, date, int]]
Sources = Mapping[tuple[str, date], str | None]


def series_by_color(counts: Slices) -> dict[str, list[tuple[date, int]]]:
    """{color: [(month, rows), ...] in month order} of (color, source_month, rows) slices."""
    series: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for color, month, rows in counts:
        series[color].append((month, int(rows)))
    return {color: sorted(points) for color, points in sorted(series.items())}


def with_gaps(points: list[tuple[date, int]]) -> tuple[list[date], list[float]]:
    """Months and rows of one color, a NaN after a month whose next is missing: the line breaks."""
    months: list[date] = []
    rows: list[float] = []
    for month, count in points:
        if months and (month.year - months[-1].year) * 12 + month.month - months[-1].month > 1:
            months.append(months[-1])
            rows.append(math.nan)
        months.append(month)
        rows.append(count)
    return months, rows


def needs_log_scale(rows: Iterable[int]) -> bool:
    """Whether the months' rows span more than LOG_SCALE_RATIO (zeros aside)."""
    positive = [r for r in rows if r > 0]
    return bool(positive) and max(positive) / min(positive) > LOG_SCALE_RATIO


def trips_per_month_figure(counts: Slices, sources: Sources | None = None, compact: bool = False) -> Figure:
    """The chart of (color, source_month, rows) slices, each point marked by its source in
    `sources` ({(color, month): source}); with no slices, one saying no trips are loaded yet.
    `compact`: COMPACT_WIDTH_PX x COMPACT_HEIGHT_PX with the legend under the axes."""
    series, sources = series_by_color(counts), sources or {}
    width, height = (COMPACT_WIDTH_PX, COMPACT_HEIGHT_PX) if compact else (WIDTH_PX, HEIGHT_PX)
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    figure.get_layout_engine().set(w_pad=0.1, h_pad=0.1)  # 10 px all round, with or without axes
    axes = figure.add_subplot()
    marked = {(c, m): MARKERS.get(sources.get((c, m)), OTHER_MARKER) for c, points in series.items() for m, _ in points}
    shown = ", ".join(sorted({f"{sources.get(key) or 'unrecorded'} {glyph}" for key, (_, glyph) in marked.items()}))
    axes.set_title(f"{TITLE}\nloaded from {shown}" if shown else TITLE, fontsize=13, loc="left", pad=12)
    axes.spines[["top", "right"]].set_visible(False)
    if not series:
        axes.text(0.5, 0.5, "No trips loaded yet", ha="center", va="center", fontsize=16, color="#555555")
        axes.set_axis_off()
        return figure
    axes.set_prop_cycle(color=FALLBACK_COLORS)  # for a service without a colour of its own
    for color, points in series.items():
        names = ", ".join(sorted({sources.get((color, month)) or "unrecorded" for month, _ in points}))
        # Compact: the sources only in the title (its markers), so two columns fit the width.
        label = f"{color} ({sum(count for _, count in points):,} trips{'' if compact else f'; {names}'})"
        [line] = axes.plot(*with_gaps(points), linewidth=2, color=SERVICE_COLORS.get(color), label=label)
        for marker in dict.fromkeys(marked[color, month][0] for month, _ in points):
            xy = [(month, count) for month, count in points if marked[color, month][0] == marker]
            axes.plot(*zip(*xy, strict=True), linestyle="none", marker=marker, markersize=5, color=line.get_color())
    counts = [count for points in series.values() for _, count in points]
    if needs_log_scale(counts):
        # Whole decades, so that both ends have a labelled tick: 1-2-5 steps over up to three
        # decades, the powers of ten alone over more.
        low = math.floor(math.log10(min(c for c in counts if c > 0)))
        high = math.ceil(math.log10(max(counts)))
        axes.set(yscale="log", ylim=(10**low, 10**high), ylabel="trips (log scale)")
        axes.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if high - low <= 3 else (1.0,)))
        axes.yaxis.set_minor_formatter(NullFormatter())
    else:
        axes.set(ylim=(0, None), ylabel="trips")
        axes.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    months = sorted(month for points in series.values() for month, _ in points)
    span = (months[-1].year - months[0].year) * 12 + months[-1].month - months[0].month
    # Under a year, a tick per month: the automatic locator would tick days between the months.
    locator = MonthLocator() if span < 12 else AutoDateLocator(minticks=3, maxticks=12)
    axes.xaxis.set(major_locator=locator, major_formatter=ConciseDateFormatter(locator))
    axes.set_xlabel("month of pickup (source file)")
    axes.grid(True, which="major", color="#dddddd", linewidth=0.8)
    axes.set_axisbelow(True)
    if compact:
        figure.legend(frameon=False, loc="outside lower center", ncols=min(len(series), 2), fontsize=9)
    else:
        axes.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="service")
    axes.margins(x=0.05)  # a lone month's point off the frame
    return figure


def trips_per_month_png(counts: Slices, sources: Sources | None = None, compact: bool = False) -> bytes:
    """The chart as a WIDTH_PX x HEIGHT_PX PNG (COMPACT_WIDTH_PX x COMPACT_HEIGHT_PX if `compact`)."""
    png = io.BytesIO()
    trips_per_month_figure(counts, sources, compact).savefig(png, format="png", dpi=DPI, facecolor="white")
    return png.getvalue()
