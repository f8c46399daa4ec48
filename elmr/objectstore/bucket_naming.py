"""S3's rules for bucket names (general purpose buckets), checked when a bucket is
created: what S3 refuses, elmr refuses, so that a name that works here works there."""

import re

from elmr.objectstore.errors import S3Error

_SHAPE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def is_valid(name: str) -> bool:
    return (bool(_SHAPE.match(name)) and ".." not in name and not _IP_ADDRESS.match(name)
            and not name.startswith(_RESERVED_PREFIXES) and not name.endswith(_RESERVED_SUFFIXES))


def check(name: str) -> None:
    if not is_valid(name):
        raise S3Error("InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=name)
