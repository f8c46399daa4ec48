"""ListReleaseLabels, DescribeReleaseLabel and ListSupportedInstanceTypes: the
catalog as EMR shows it: every release label AWS publishes with the application
versions it lists (elmr runs its own versions whatever the label: the cluster's
Applications say so)."""

from elmr import catalog
from elmr.service import paging
from elmr.service.context import ServiceContext
from elmr.service.errors import ValidationException

INSTANCE_TYPES_PAGE_SIZE = 50


def _release_or_error(label: str) -> catalog.Release:
    found = catalog.release(label)
    if found is None:
        raise ValidationException(f"The specified release label '{label}' is not valid.")
    return found


def _max_results(params: dict, default: int) -> int:
    value = params.get("MaxResults", default)
    if not 1 <= value <= 100:
        raise ValidationException("MaxResults must be between 1 and 100.")
    return value


def _offers(release: catalog.Release, wanted: str) -> bool:
    """Filters.Application is `Name` or `Name@Version`, as in EMR."""
    name, _, version = wanted.partition("@")
    versions = {n.lower(): v for n, v in release.applications.items()}
    return name.lower() in versions and (not version or versions[name.lower()] == version)


def list_release_labels(ctx: ServiceContext, params: dict) -> dict:
    filters = params.get("Filters", {})
    labels = [
        release.label for release in catalog.releases()
        if release.label.startswith(filters.get("Prefix", ""))
        and (not filters.get("Application") or _offers(release, filters["Application"]))
    ]
    page, token = paging.offset_page(labels, params.get("NextToken"), _max_results(params, 100))
    answer = {"ReleaseLabels": page}
    if token:
        answer["NextToken"] = token
    return answer


def describe_release_label(ctx: ServiceContext, params: dict) -> dict:
    release = _release_or_error(params.get("ReleaseLabel") or catalog.default_release_label())
    applications = [{"Name": name, "Version": version}
                    for name, version in sorted(release.applications.items())]
    page, token = paging.offset_page(applications, params.get("NextToken"), _max_results(params, 100))
    answer = {
        "ReleaseLabel": release.label,
        "Applications": page,
        "AvailableOSReleases": [{"Label": label} for label in release.os_releases],
    }
    if token:
        answer["NextToken"] = token
    return answer


def list_supported_instance_types(ctx: ServiceContext, params: dict) -> dict:
    _release_or_error(params["ReleaseLabel"])
    described = [_supported(t) for t in catalog.instance_types()]
    page, marker = paging.offset_page(described, params.get("Marker"), INSTANCE_TYPES_PAGE_SIZE)
    answer = {"SupportedInstanceTypes": page}
    if marker:
        answer["Marker"] = marker
    return answer


def _supported(instance_type: catalog.InstanceType) -> dict:
    return {
        "Type": instance_type.type,
        "MemoryGB": float(instance_type.memory_gib),
        "StorageGB": instance_type.storage_gb,
        "VCPU": instance_type.vcpu,
        "Is64BitsOnly": instance_type.is_64bits_only,
        "InstanceFamilyId": instance_type.family,
        "EbsOptimizedAvailable": instance_type.ebs_optimized_available,
        "EbsOptimizedByDefault": instance_type.ebs_optimized_by_default,
        "NumberOfDisks": instance_type.number_of_disks,
        "EbsStorageOnly": instance_type.ebs_storage_only,
        "Architecture": instance_type.architecture,
    }
