"""Column layouts of the TLC's own monthly parquet files, per service, mapped onto canonical names.

Names are matched lower-cased, as for the course's CSV headers: yellow's `airport_fee` became
`Airport_fee` at 2023-02, and fhv keeps `dropOff_datetime`, `PUlocationID`, `DOlocationID` and
`SR_Flag`. Yellow, green and fhv use the course's CSV layouts plus the columns only the TLC
publishes; fhvhv (high-volume for-hire vehicles: Uber, Lyft, ...) is the TLC's alone.
Yellow 2009 and 2010 use other names (longitudes and latitudes, no zone ids): no layout here.
"""

from taxi_pipeline.transforms.layouts import LAYOUTS, Layout

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
