"""The catalog: EC2-like instance types and EMR release labels, read once from the
JSON files beside this module. Plain data, no EMR errors: callers decide what an
unknown name means."""

import difflib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class InstanceType:
    type: str
    family: str
    vcpu: int
    memory_gib: float
    storage_gb: int
    number_of_disks: int
    on_demand_usd_per_hour: float | None  # us-east-1, Linux; None where not known
    emr_usd_per_hour: float | None  # EMR's own price on top; None where not known
    architecture: str
    is_64bits_only: bool
    ebs_optimized_available: bool
    ebs_optimized_by_default: bool
    ebs_storage_only: bool
    normalization_factor: int

    @property
    def memory_mib(self) -> int:
        return int(self.memory_gib * 1024)


@dataclass(frozen=True)
class Release:
    label: str
    applications: dict  # name -> the version AWS's Release Guide lists for this label
    os_releases: tuple


def _load(name: str) -> dict:
    return json.loads(resources.files(__package__).joinpath(name).read_text())


@lru_cache(maxsize=1)
def _instance_types() -> dict[str, InstanceType]:
    entries = _load("instance_types.json")["instance_types"]
    return {entry["type"]: InstanceType(**entry) for entry in entries}


@lru_cache(maxsize=1)
def _releases() -> tuple[dict[str, Release], str, dict]:
    data = _load("releases.json")
    releases = {
        entry["label"]: Release(entry["label"], dict(entry["applications"]), tuple(entry["os_releases"]))
        for entry in data["releases"]
    }
    return releases, data["default_release_label"], dict(data["runtime"])


def instance_type(name: str) -> InstanceType | None:
    return _instance_types().get(name)


def instance_types() -> list[InstanceType]:
    return list(_instance_types().values())


def closest_instance_types(name: str, count: int = 3) -> list[str]:
    """Known types nearest to a name that is not one (a typo, a size the family lacks)."""
    known = list(_instance_types())
    close = difflib.get_close_matches(name.lower(), known, n=count, cutoff=0.5)
    family = name.split(".", 1)[0].lower()
    same_family = [t for t in known if t.startswith(family + ".")]
    return close or same_family[:count] or difflib.get_close_matches(name.lower(), known, n=count, cutoff=0)


def unknown_type_message(name: str) -> str:
    return (f"Instance type '{name}' is not supported. The closest supported types are "
            f"{', '.join(closest_instance_types(name))}.")


def release(label: str) -> Release | None:
    return _releases()[0].get(label)


def releases() -> list[Release]:
    """Newest first, as ListReleaseLabels answers."""
    return sorted(_releases()[0].values(), key=_version_key, reverse=True)


def default_release_label() -> str:
    return _releases()[1]


def runtime_applications() -> dict[str, str]:
    """What elmr really runs, whatever the label: {name: version}."""
    return dict(_releases()[2])


def release_version(label: str) -> tuple:
    """emr-6.15.0 -> (6, 15, 0), for ordering and comparing releases."""
    return tuple(int(part) for part in label.removeprefix("emr-").split("."))


def _version_key(release: Release) -> tuple:
    return release_version(release.label)
