"""The zone lookup file's checks: bad input fails as one line naming the file."""

import pytest

from taxi_pipeline.lib.zones import ZoneFileError, read_zone_file
from taxi_pipeline_tests.support.samples import ZONES_ROWS, release_zones


def test_the_bundled_zone_table_reads_every_zone():
    zones = read_zone_file(release_zones())

    assert len(zones.ids) == ZONES_ROWS and zones.rows[0] == (1, "EWR", "Newark Airport", "EWR")


def test_an_empty_zone_file_fails_naming_it(tmp_path):
    path = tmp_path / "taxi_zone_lookup.csv"
    path.write_bytes(b"")

    with pytest.raises(ZoneFileError) as raised:
        read_zone_file(path)

    assert str(raised.value) == f"{path}: the file is empty, expected LocationID,Borough,Zone,service_zone"


def test_a_zone_file_that_is_not_utf8_fails_naming_it(tmp_path):
    path = tmp_path / "taxi_zone_lookup.csv"
    path.write_bytes("LocationID,Borough,Zone,service_zone\n1,EWR,Newark A\u00e9roport,EWR\n".encode("latin-1"))

    with pytest.raises(ZoneFileError) as raised:
        read_zone_file(path, "https://mirror/misc/taxi_zone_lookup.csv")

    assert str(raised.value) == "https://mirror/misc/taxi_zone_lookup.csv: not UTF-8 text (byte 51)"
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("LocationID,Borough,Zone,service_zone\n", "no zones, only a header"),
        ("LocationID,Borough,Zone,service_zone\n1,EWR,Newark, Airport,EWR\n", "line 2 has 5 fields, expected 4"),
        (
            "LocationID,Borough,Zone,service_zone\n1,EWR,Newark Airport,EWR\n1,Queens,Jamaica Bay,Boro Zone\n",
            "line 3: LocationID 1 repeats line 2",
        ),
    ],
)
def test_a_zone_file_without_one_row_per_zone_fails_naming_the_line(tmp_path, text, message):
    path = tmp_path / "taxi_zone_lookup.csv"
    path.write_text(text)

    with pytest.raises(ZoneFileError) as raised:
        read_zone_file(path)

    assert str(raised.value) == f"{path}: {message}"
