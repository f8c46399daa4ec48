"""Builds elmr/catalog/instance_types.json: the EC2 instance types EMR accepts, with
their vCPUs, memory, instance storage, architecture and EBS support.

Source: AWS's DescribeInstanceTypes answers as moto 5.2.5 ships them
(moto/ec2/resources/instance_types.json.gz in its wheel; moto is pinned in the bench
extra), given on the command line. EMR accepts the families of its "Supported
instance types" and the previous generations it still runs; burstable (t*), Mac,
high-memory (u-*), FPGA, accelerator (inf, trn, dl, vt) and HPC types are not among
them, nor sizes below large but for the previous generations' m1.small, m1.medium,
c1.medium and m3.medium. Prices: the on-demand (us-east-1, Linux) prices already in
the catalog are kept; EMR's own per-hour price is filled where known, else null.
Run: python scripts/catalog_instance_types.py path/to/instance_types.json.gz
"""

import gzip
import json
import re
import sys
from pathlib import Path

CATALOG = Path(__file__).resolve().parent.parent / "elmr" / "catalog" / "instance_types.json"
NOT_ON_EMR = re.compile(r"^(t\d|mac|u-|u7|f\d|inf|trn|dl\d|vt\d|hpc|a1|p3dn)")
SMALL_SIZES = ("nano", "micro", "small", "medium")
PREVIOUS_GENERATION_SMALL = {"m1.small", "m1.medium", "c1.medium", "m3.medium"}
# EMR's normalization factors by size (large = 4, doubling with each size).
SIZE_FACTORS = {"small": 1, "medium": 2, "large": 4, "xlarge": 8}


def accepted(name: str) -> bool:
    size = name.split(".", 1)[1]
    if NOT_ON_EMR.match(name):
        return False
    return name in PREVIOUS_GENERATION_SMALL or size not in SMALL_SIZES


def normalization_factor(size: str, vcpus: int) -> int:
    if size in SIZE_FACTORS:
        return SIZE_FACTORS[size]
    match = re.fullmatch(r"(\d+)xlarge", size)
    if match:
        return 8 * int(match.group(1))
    return 2 * vcpus  # metal: as many units as its vCPUs in the family's sizes


def entry(described: dict, previous: dict) -> dict:
    name = described["InstanceType"]
    family, size = name.split(".", 1)
    vcpus = described["VCpuInfo"]["DefaultVCpus"]
    architectures = described["ProcessorInfo"]["SupportedArchitectures"]
    storage = described.get("InstanceStorageInfo") or {}
    ebs = described.get("EbsInfo") or {}
    return {
        "type": name,
        "family": family,
        "vcpu": vcpus,
        "memory_gib": round(described["MemoryInfo"]["SizeInMiB"] / 1024, 3),
        "storage_gb": storage.get("TotalSizeInGB", 0),
        "number_of_disks": sum(disk.get("Count", 0) for disk in storage.get("Disks", [])),
        "on_demand_usd_per_hour": previous.get("on_demand_usd_per_hour"),
        "emr_usd_per_hour": previous.get("emr_usd_per_hour"),
        "architecture": "arm64" if architectures == ["arm64"] else "x86_64",
        "is_64bits_only": "i386" not in architectures,
        "ebs_optimized_available": ebs.get("EbsOptimizedSupport") in ("supported", "default"),
        "ebs_optimized_by_default": ebs.get("EbsOptimizedSupport") == "default",
        "ebs_storage_only": not described.get("InstanceStorageSupported", False),
        "normalization_factor": normalization_factor(size, vcpus),
    }


def main(source: str) -> None:
    described = json.loads(gzip.open(source).read())
    catalog = json.loads(CATALOG.read_text())
    previous = {item["type"]: item for item in catalog["instance_types"]}
    types = [entry(info, previous.get(name, {})) for name, info in described.items() if accepted(name)]
    types.sort(key=lambda item: (item["family"], item["vcpu"], item["memory_gib"], item["type"]))
    catalog["_comment"] = (
        "EC2 instance types EMR accepts (scripts/catalog_instance_types.py says where they come from): vCPUs "
        "and memory are what a node's Spark worker advertises; on_demand_usd_per_hour is the published "
        "us-east-1 Linux on-demand price and emr_usd_per_hour EMR's own per-hour price, where known (else "
        "null); normalization_factor is EMR's (large = 4, doubling per size).")
    catalog["instance_types"] = types
    CATALOG.write_text(json.dumps(catalog, indent=1) + "\n")
    print(f"{len(types)} instance types written to {CATALOG}")


if __name__ == "__main__":
    main(sys.argv[1])
