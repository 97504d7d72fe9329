"""The published column layouts of every service, CSV and parquet alike, and a header matched against them."""

from dataclasses import dataclass
from datetime import date

from taxi_pipeline.errors import PermanentError


class TripFileError(PermanentError):
    """A trip file that cannot be read as its service's layout; the message names the file."""


@dataclass(frozen=True)
class Layout:
    """A service's published columns: lower-cased source name -> canonical column name."""

    columns: dict[str, str]
    optional: frozenset[str]  # columns a file may lack (older months, fees that came later)


def _layout(header: str) -> Layout:
    """A layout written as its header: `source=canonical` where the names differ, `[optional]`."""
    words = header.split()
    names = [word.strip("[]").partition("=") for word in words]
    optional = frozenset(name for word, (name, _, _) in zip(words, names, strict=True) if word.startswith("["))
    return Layout({name: canonical or name for name, _, canonical in names}, optional)


_ZONES = "pulocationid=pickup_location_id dolocationid=dropoff_location_id"
_MONEY = "fare_amount extra mta_tax tip_amount tolls_amount"
# congestion_surcharge came part-way through 2019, airport_fee in 2021, cbd_congestion_fee in 2025-01.
LAYOUTS: dict[str, Layout] = {
    service: _layout(header)
    for service, header in {
        "yellow": f"""vendorid=vendor_id tpep_pickup_datetime=pickup_datetime tpep_dropoff_datetime=dropoff_datetime
            passenger_count trip_distance ratecodeid=ratecode_id store_and_fwd_flag {_ZONES} payment_type {_MONEY}
            improvement_surcharge total_amount [congestion_surcharge] [airport_fee] [cbd_congestion_fee]""",
        "green": f"""vendorid=vendor_id lpep_pickup_datetime=pickup_datetime lpep_dropoff_datetime=dropoff_datetime
            store_and_fwd_flag ratecodeid=ratecode_id {_ZONES} passenger_count trip_distance {_MONEY} [ehail_fee]
            improvement_surcharge total_amount payment_type trip_type [congestion_surcharge] [cbd_congestion_fee]""",
        # The TLC's older fhv header lacks Affiliated_base_number, some files SR_Flag too.
        "fhv": f"dispatching_base_num pickup_datetime dropoff_datetime {_ZONES} [sr_flag] [affiliated_base_number]",
        # The app's base fare is not the meter's fare_amount (docs/sources.md): a column of its own.
        "fhvhv": f"""hvfhs_license_num dispatching_base_num originating_base_num request_datetime on_scene_datetime
            pickup_datetime dropoff_datetime {_ZONES} trip_miles=trip_distance trip_time base_passenger_fare
            tolls=tolls_amount bcf sales_tax [congestion_surcharge] [airport_fee] tips=tip_amount driver_pay
            shared_request_flag shared_match_flag access_a_ride_flag wav_request_flag wav_match_flag
            [cbd_congestion_fee]""",
    }.items()
}


def match_columns(
    path, header: list[str], color: str, month: date | None = None, noun: str = "color"
) -> tuple[dict[str, str], list[str]]:
    """(the file's header names -> canonical names, the names the layout lacks), or `TripFileError`
    for an unknown `color` (a `noun`) or columns that are another service's, collide or fall short."""
    if color not in LAYOUTS:
        raise TripFileError(f"{path}: unknown {noun} {color!r}; expected one of {', '.join(LAYOUTS)}")
    layout = LAYOUTS[color]
    offered = f"{color} {month:%Y-%m}" if month else color
    # Another service's signature: `tpep_` or `lpep_` times, `hvfhs_license_num`, or else fhv's
    # `dispatching_base_num` and `pickup_datetime`.
    lower = {name.lower(): name for name in header}
    marks = {
        "yellow": [name for name in header if name.lower().startswith("tpep_")],
        "green": [name for name in header if name.lower().startswith("lpep_")],
        "fhvhv": [lower[n] for n in ("hvfhs_license_num",) if n in lower],
    }
    if not marks["fhvhv"] and {"dispatching_base_num", "pickup_datetime"} <= lower.keys():
        marks["fhv"] = [lower["dispatching_base_num"], lower["pickup_datetime"]]
    others = {service: names for service, names in marks.items() if names and service != color}
    if others:
        signatures = " and ".join(f"{service} ({', '.join(names)})" for service, names in others.items())
        raise TripFileError(f"{path}: {offered}: the file's columns are those of {signatures}, not {color}")
    extra = [name for name in header if name.lower() not in layout.columns]
    by_canonical: dict[str, list[str]] = {}
    for name in (name for name in header if name.lower() in layout.columns):
        by_canonical.setdefault(layout.columns[name.lower()], []).append(name)
    collisions = [names for names in by_canonical.values() if len(names) > 1]
    if collisions:
        both = "; ".join(f"{' and '.join(n)} both read as {layout.columns[n[0].lower()]}" for n in collisions)
        raise TripFileError(f"{path}: {offered}: columns collide: {both}; the file cannot be read unambiguously")
    by_lower = {names[0].lower(): names[0] for names in by_canonical.values()}
    missing = [name for name in layout.columns if name not in by_lower and name not in layout.optional]
    if missing:
        expected = ", ".join(f"[{name}]" if name in layout.optional else name for name in layout.columns)
        raise TripFileError(
            f"{path}: {color} file lacks required column(s) {', '.join(missing)}; expected layout: {expected}"
        )
    return {by_lower[name]: layout.columns[name] for name in by_lower}, extra
