"""A tiny package built into a real wheel by the tests themselves (no network, no
build backend): `elmr_probe` (or another name), whose VERSION says which wheel was
installed."""

import base64
import hashlib
import zipfile
from pathlib import Path

PROBE = "elmr_probe"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(directory: Path, version: str, name: str = PROBE) -> Path:
    """NAME-VERSION-py3-none-any.whl in `directory`: a package `name` whose VERSION
    is `version`."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: elmr-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "\n".join([*(_record_line(path, data) for path, data in files.items()), f"{dist_info}/RECORD,,", ""])
    wheel = Path(directory) / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{dist_info}/RECORD", record)
    return wheel
