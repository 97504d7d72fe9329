"""Where the data lake lives: a local folder, or a Google Cloud Storage bucket."""

from abc import abstractmethod

import dagster as dg
from pydantic import Field
from upath import UPath

from taxi_pipeline.errors import SettingError
from taxi_pipeline.settings import decode_service_account_key


class LakeResource(dg.ConfigurableResource):
    """The root that the IO managers place raw, staging and published files under."""

    @abstractmethod
    def root(self) -> UPath: ...


class LocalLake(LakeResource):
    """A lake in a local folder."""

    base_path: str = Field(description="Lake folder (TAXI_LAKE_DIR)")

    def root(self) -> UPath:
        # Absolute: the metadata's paths say where the files are, wherever the UI's reader started.
        return UPath(self.base_path).absolute()


class GCSLake(LakeResource):
    """A lake in a Google Cloud Storage bucket, through gcsfs, with Application Default
    Credentials or a base64 service-account key."""

    bucket: str = Field(description="Bucket name (GCS_BUCKET)")
    gcp_credentials: str | None = Field(
        default=None, description="Base64 service-account key (GCP_CREDENTIALS_B64); ADC when unset"
    )

    def root(self) -> UPath:
        options = {"token": decode_service_account_key(self.gcp_credentials)} if self.gcp_credentials else {}
        return UPath(f"gs://{self.bucket}", **options)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Fail before any work when the bucket is missing (or, as google-auth raises it, the credentials wrong).
        try:
            self.root().fs.info(self.bucket)
        except FileNotFoundError:
            raise SettingError(f"GCS bucket {self.bucket!r} (GCS_BUCKET) does not exist") from None
