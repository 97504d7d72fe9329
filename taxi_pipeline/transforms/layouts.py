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
