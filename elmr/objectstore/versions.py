"""Object versions. elmr never turns versioning on (PutBucketVersioning is not
implemented), so every object has one version, the one S3 calls `null`. A request
naming any other version id is refused as S3 refuses a version id it never issued,
not answered with the current object: a DeleteObject of an "old version" taken for a
plain DeleteObject would delete the object itself."""

from elmr.objectstore.errors import S3Error

THE_ONLY_VERSION = "null"


def check_version_id(version_id: str | None) -> None:
    """InvalidArgument unless `version_id` is absent or names the only version."""
    if version_id is not None and version_id != THE_ONLY_VERSION:
        raise S3Error("InvalidArgument", "Invalid version id specified", 400,
                      ArgumentName="versionId", ArgumentValue=version_id)
