"""The chart of rows per month: a real PNG of the promised size for the bundled months' counts,
one line per color, a log axis when colors are orders of magnitude apart, breaks at gaps."""

import math
from datetime import date

from taxi_pipeline.charts import (
    HEIGHT_PX,
    WIDTH_PX,
    needs_log_scale,
    series_by_color,
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
