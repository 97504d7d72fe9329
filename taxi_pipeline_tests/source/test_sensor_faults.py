"""new_month_sensor against a real HTTP source that fails for one color: the other colors are
still requested and the failure is logged on the tick."""

from functools import partial

import dagster as dg
import pytest

from taxi_pipeline.defs.source.releases import COURSE
from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.defs.source.sensors import build_new_month_sensor
from taxi_pipeline.partitions import course_partitions
from taxi_pipeline_tests.support.http_server import QuietHandler, serving
from taxi_pipeline_tests.support.samples import RELEASE_DIR

pytestmark = pytest.mark.faults


class GreenUnavailableHandler(QuietHandler):
    """The bundled mirror, except that every HEAD of a green file answers 503."""

    def do_HEAD(self):
        if self.path.startswith("/green/"):
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_HEAD()


def test_a_5xx_for_one_color_is_logged_and_the_other_colors_are_still_requested(capsys):
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(dg.AssetMaterialization("warehouse_trips", partition="green|2020-03-01"))

    with serving(partial(GreenUnavailableHandler, directory=str(RELEASE_DIR))) as url:
        context = dg.build_sensor_context(instance=instance, resources={"source": TripSourceResource(base_url=url)})
        result = build_new_month_sensor(course_partitions, COURSE)(context)

    assert sorted(r.partition_key for r in result.run_requests) == ["fhv|2019-01-01"]
    assert "green" not in result.cursor  # green 2020-04 is asked about again on the next tick
    # The tick's log (context.log) writes to the process's stderr outside a daemon.
    warnings = [line for line in capsys.readouterr().err.splitlines() if " - WARNING - " in line]
    assert [w.split(" - WARNING - ")[1] for w in warnings] == [
        f"green 2020-04 not checked, asked again next tick: {url}/green/green_tripdata_2020-04.csv.gz "
        "answered HTTP 503 to HEAD"
    ]
