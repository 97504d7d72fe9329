"""Source column layouts of the published files, per color, mapped onto canonical names.

Headers are matched by lower-cased name, so the casing changes between years
(`dropOff_datetime` / `dropoff_datetime`, `PUlocationID` / `PULocationID`) map alike.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """A color's published columns: lower-cased source name -> canonical column name."""

    color: str
    columns: dict[str, str]
    optional: frozenset[str]

    @property
    def required(self) -> list[str]:
        return [name for name in self.columns if name not in self.optional]

    def describe(self) -> str:
        """The expected header, optional columns in brackets, for error messages."""
        return ", ".join(f"[{n}]" if n in self.optional else n for n in self.columns)


_TAXI_MONEY = {
    "fare_amount": "fare_amount",
    "extra": "extra",
    "mta_tax": "mta_tax",
    "tip_amount": "tip_amount",
    "tolls_amount": "tolls_amount",
}

LAYOUTS: dict[str, Layout] = {
    "yellow": Layout(
        color="yellow",
        columns={
            "vendorid": "vendor_id",
            "tpep_pickup_datetime": "pickup_datetime",
            "tpep_dropoff_datetime": "dropoff_datetime",
            "passenger_count": "passenger_count",
            "trip_distance": "trip_distance",
            "ratecodeid": "ratecode_id",
            "store_and_fwd_flag": "store_and_fwd_flag",
            "pulocationid": "pickup_location_id",
            "dolocationid": "dropoff_location_id",
            "payment_type": "payment_type",
            **_TAXI_MONEY,
            "improvement_surcharge": "improvement_surcharge",
            "total_amount": "total_amount",
            "congestion_surcharge": "congestion_surcharge",
        },
        # congestion_surcharge first appears in 2019 files part-way through the year.
        optional=frozenset({"congestion_surcharge"}),
    ),
    "green": Layout(
        color="green",
        columns={
            "vendorid": "vendor_id",
            "lpep_pickup_datetime": "pickup_datetime",
            "lpep_dropoff_datetime": "dropoff_datetime",
            "store_and_fwd_flag": "store_and_fwd_flag",
            "ratecodeid": "ratecode_id",
            "pulocationid": "pickup_location_id",
            "dolocationid": "dropoff_location_id",
            "passenger_count": "passenger_count",
            "trip_distance": "trip_distance",
            **_TAXI_MONEY,
            "ehail_fee": "ehail_fee",
            "improvement_surcharge": "improvement_surcharge",
            "total_amount": "total_amount",
            "payment_type": "payment_type",
            "trip_type": "trip_type",
            "congestion_surcharge": "congestion_surcharge",
        },
        optional=frozenset({"congestion_surcharge", "ehail_fee"}),
    ),
    "fhv": Layout(
        color="fhv",
        columns={
            "dispatching_base_num": "dispatching_base_num",
            "pickup_datetime": "pickup_datetime",
            "dropoff_datetime": "dropoff_datetime",
            "pulocationid": "pickup_location_id",
            "dolocationid": "dropoff_location_id",
            "sr_flag": "sr_flag",
            "affiliated_base_number": "affiliated_base_number",
        },
        # TLC's older fhv header has no Affiliated_base_number; some files lack SR_Flag too.
        optional=frozenset({"sr_flag", "affiliated_base_number"}),
    ),
}


# Fees the TLC adds over the years; a file from before a fee's time may lack its column.
# cbd_congestion_fee (the Manhattan congestion relief zone toll) appears in 2025-01.
_FEES = {"congestion_surcharge": "congestion_surcharge", "airport_fee": "airport_fee"}
_CBD = {"cbd_congestion_fee": "cbd_congestion_fee"}

_FHVHV_COLUMNS = {
    "hvfhs_license_num": "hvfhs_license_num",
    "dispatching_base_num": "dispatching_base_num",
    "originating_base_num": "originating_base_num",
    "request_datetime": "request_datetime",
    "on_scene_datetime": "on_scene_datetime",
    "pickup_datetime": "pickup_datetime",
    "dropoff_datetime": "dropoff_datetime",
    "pulocationid": "pickup_location_id",
    "dolocationid": "dropoff_location_id",
    "trip_miles": "trip_distance",
    "trip_time": "trip_time",
    # base_passenger_fare is NOT fare_amount: the taxi meter's fare (time and distance at the
    # TLC's rates) and the app's base fare (set by the company, surge included) are defined
    # differently, so mapping both onto one column would make fare comparisons across services
    # silently wrong. It keeps a column of its own and fhvhv's fare_amount stays null.
    "base_passenger_fare": "base_passenger_fare",
    "tolls": "tolls_amount",
    "bcf": "bcf",
    "sales_tax": "sales_tax",
    **_FEES,
    "tips": "tip_amount",
    "driver_pay": "driver_pay",
    "shared_request_flag": "shared_request_flag",
    "shared_match_flag": "shared_match_flag",
    "access_a_ride_flag": "access_a_ride_flag",
    "wav_request_flag": "wav_request_flag",
    "wav_match_flag": "wav_match_flag",
    **_CBD,
}

TLC_LAYOUTS: dict[str, Layout] = {
    "yellow": Layout(
        color="yellow",
        columns={**LAYOUTS["yellow"].columns, **_FEES, **_CBD},
        optional=LAYOUTS["yellow"].optional | _FEES.keys() | _CBD.keys(),
    ),
    "green": Layout(
        color="green",
        columns={**LAYOUTS["green"].columns, **_CBD},
        optional=LAYOUTS["green"].optional | _CBD.keys(),
    ),
    "fhv": LAYOUTS["fhv"],
    "fhvhv": Layout(color="fhvhv", columns=_FHVHV_COLUMNS, optional=frozenset(_FEES.keys() | _CBD.keys())),
}
TLC_SERVICES = tuple(TLC_LAYOUTS)
