"""The chart of rows per month: a real PNG of the promised size for the bundled months' counts,
one line per color, a log axis when colors are orders of magnitude apart, breaks at gaps."""

import math
from datetime import date

from taxi_pipeline.defs.report.chart import (
    COMPACT_HEIGHT_PX,
    COMPACT_WIDTH_PX,
    HEIGHT_PX,
    WIDTH_PX,
    needs_log_scale,
    series_by_color,
    trips_per_month_figure,
    trips_per_month_png,
    with_gaps,
)
from taxi_pipeline.partitions import split_partition_key
from taxi_pipeline_tests.support.png import PNG_SIGNATURE, png_size
from taxi_pipeline_tests.support.samples import SAMPLE_ROWS

# What slice_counts() returns once the four bundled months are loaded.
BUNDLED_COUNTS = sorted((*split_partition_key(key), rows) for key, rows in SAMPLE_ROWS.items())


def test_the_bundled_months_chart_as_a_900_by_450_png():
    png = trips_per_month_png(BUNDLED_COUNTS)

    assert png.startswith(PNG_SIGNATURE)
    assert png_size(png) == (WIDTH_PX, HEIGHT_PX) == (900, 450)


def test_no_slices_still_give_a_chart():
    png = trips_per_month_png([])

    assert png_size(png) == (900, 450)


def test_the_compact_chart_for_the_ui_has_its_legend_under_the_axes():
    figure = trips_per_month_figure(BUNDLED_COUNTS, compact=True)
    [axes] = figure.axes
    [legend] = figure.legends

    assert png_size(trips_per_month_png(BUNDLED_COUNTS, compact=True)) == (COMPACT_WIDTH_PX, COMPACT_HEIGHT_PX)
    assert (COMPACT_WIDTH_PX, COMPACT_HEIGHT_PX) == (560, 380)
    assert axes.get_legend() is None
    assert [t.get_text().split(" ")[0] for t in legend.get_texts()] == ["fhv", "green", "yellow"]
    figure.draw_without_rendering()  # the constrained layout, then the boxes
    box = legend.get_window_extent()
    assert box.y1 <= axes.xaxis.label.get_window_extent().y0  # under the axes and their label
    assert 0 <= box.x0 and box.x1 <= COMPACT_WIDTH_PX  # whole, with the longest label (unrecorded)


def test_one_series_per_color_in_month_order():
    series = series_by_color(reversed(BUNDLED_COUNTS))

    assert list(series) == ["fhv", "green", "yellow"]
    assert series["fhv"] == [(date(2019, 1, 1), 18), (date(2020, 1, 1), 16)]


def test_colors_orders_of_magnitude_apart_get_a_log_axis():
    # green's 35,612 against fhv's 16: a linear axis would flatten fhv onto zero.
    assert needs_log_scale(rows for *_, rows in BUNDLED_COUNTS)
    assert not needs_log_scale([35_612, 22_792])
    assert not needs_log_scale([])


def test_a_line_breaks_over_months_never_loaded():
    months, rows = with_gaps([(date(2019, 1, 1), 18), (date(2019, 2, 1), 20), (date(2020, 1, 1), 16)])

    assert [r for r in rows if not math.isnan(r)] == [18, 20, 16]
    assert math.isnan(rows[2]) and len(months) == 4


def test_the_x_axis_ticks_months_only_however_few():
    from matplotlib.dates import num2date

    for last in (date(2020, 2, 1), date(2021, 7, 1)):
        counts = [("green", date(2019, 12, 1), 211), ("fhv", date(2020, 1, 1), 16), ("fhv", last, 283)]
        figure = trips_per_month_figure(counts)
        figure.canvas.draw()
        ticks = [num2date(x).date() for x in figure.axes[0].xaxis.get_majorticklocs()]

        assert ticks and all(tick.day == 1 for tick in ticks), ticks


def test_the_title_and_legend_name_each_slices_source_and_the_points_are_marked_by_it():
    sources = {(color, month): "course" for color, month, _ in BUNDLED_COUNTS}
    sources[("green", date(2020, 4, 1))] = "tlc"  # re-loaded from the TLC's own release
    del sources[("fhv", date(2020, 1, 1))]  # loaded before origins were recorded

    figure = trips_per_month_figure(BUNDLED_COUNTS, sources)

    [axes] = figure.axes
    assert axes.get_title(loc="left") == (
        "NYC taxi trips per month in the warehouse\nloaded from course \u25cf, tlc \u25a0, unrecorded \u00d7"
    )
    assert [text.get_text() for text in axes.get_legend().get_texts()] == [
        "fhv (34 trips; course, unrecorded)",
        "green (35,612 trips; tlc)",
        "yellow (22,792 trips; course)",
    ]
    markers = {line.get_marker() for line in axes.get_lines() if line.get_linestyle() == "None"}
    assert markers == {"o", "s", "x"}
    assert png_size(trips_per_month_png(BUNDLED_COUNTS, sources)) == (900, 450)


def test_a_chart_without_sources_says_they_are_unrecorded():
    figure = trips_per_month_figure([("green", date(2020, 4, 1), 35_612)])

    assert figure.axes[0].get_title(loc="left").endswith("loaded from unrecorded \u00d7")
