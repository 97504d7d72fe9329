"""The background stage runner: order, errors handed over, producer stopped on close."""

import threading
import time

import pytest

from taxi_pipeline.lib.background import in_background


def test_items_arrive_in_order():
    assert list(in_background(iter(range(100)), depth=3)) == list(range(100))


def test_an_error_in_the_producer_is_raised_in_the_consumer():
    def failing():
        yield 1
        raise ValueError("bad block")

    items = in_background(failing())
    assert next(items) == 1
    with pytest.raises(ValueError, match="bad block"):
        next(items)


def test_closing_the_consumer_stops_the_producer():
    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    items = in_background(endless(), depth=2)
    assert next(items) == 0
    items.close()
    seen = len(produced)
    time.sleep(0.3)
    assert len(produced) == seen <= 4
    assert not any(t.name == "taxi-pipeline-stage" for t in threading.enumerate())
