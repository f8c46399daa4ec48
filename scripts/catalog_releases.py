"""Builds elmr/catalog/releases.json: every EMR release label with the application
versions AWS publishes for it.

Sources: the tables of AWS's Amazon EMR Release Guide ("Application versions in
Amazon EMR 4.x/5.x/6.x releases", from the awsdocs/amazon-emr-release-guide
repository's doc_source/emr-release-app-versions-*.md, which covers emr-4.0.0 to
emr-5.34.0 and emr-6.0.0 to emr-6.5.0), given as files on the command line; and, for
the releases after those, the rows of the current Release Guide's pages that
`LATER_RELEASES` below transcribes (its application tables and its Spark release
history). Versions are given concisely, as DescribeReleaseLabel gives them (no
"-amzn-N" build suffix). Run: python scripts/catalog_releases.py 4.md 5.md 6.md
"""

import json
import re
import sys
from pathlib import Path

CATALOG = Path(__file__).resolve().parent.parent / "elmr" / "catalog" / "releases.json"
# Rows of the tables that are libraries of the image, not applications a cluster runs.
NOT_APPLICATIONS = {"AWS SDK for Java", "Amazon SDK for Java", "Python", "Scala"}

# Releases after the archived tables, with the rows transcribed from the current
# Release Guide (the emr-6150 and emr-710 release pages, the 7.x application table,
# the Spark release history); an application absent here was not in what was read.
_SPARK_LATER = {"6.10.0": "3.3.1", "6.11.0": "3.3.2", "6.12.0": "3.4.0", "6.13.0": "3.4.1",
                "6.15.0": "3.4.1", "7.8.0": "3.5.4", "7.9.0": "3.5.5", "7.10.0": "3.5.5",
                "7.11.0": "3.5.6", "7.12.0": "3.5.6", "7.13.0": "3.5.6"}
_SIX_TWELVE_ON = {
    "Delta": ["2.4.0"] * 4, "Flink": ["1.17.1", "1.17.1", "1.17.0", "1.17.0"], "Ganglia": ["3.7.2"] * 4,
    "HBase": ["2.4.17"] * 4, "HCatalog": ["3.1.3"] * 4, "Hadoop": ["3.3.6", "3.3.3", "3.3.3", "3.3.3"],
    "Hive": ["3.1.3"] * 4, "Hudi": ["0.14.0", "0.13.1", "0.13.1", "0.13.1"], "Hue": ["4.11.0"] * 4,
    "Iceberg": ["1.4.0", "1.3.1", "1.3.0", "1.3.0"], "JupyterEnterpriseGateway": ["2.6.0"] * 4,
    "JupyterHub": ["1.5.0", "1.5.0", "1.5.0", "1.4.1"], "Livy": ["0.7.1"] * 4, "MXNet": ["1.9.1"] * 4,
    "Oozie": ["5.2.1"] * 4, "Phoenix": ["5.1.3"] * 4, "Pig": ["0.17.0", "0.17.0", "0.17.0", None],
}
_SEVEN = ["7.12.0", "7.11.0", "7.10.0", "7.9.0", "7.8.0", "7.7.0", "7.6.0", "7.5.0", "7.4.0", "7.3.0",
          "7.2.0", "7.1.0", "7.0.0"]
_SEVEN_ROWS = {
    "AmazonCloudWatchAgent": ["1.300032.2"] * 12 + ["1.300031.1"],
    "Delta": ["3.3.2", "3.3.2", "3.3.0", "3.3.0", "3.3.0", "3.2.1", "3.2.1", "3.2.1", "3.2.0", "3.2.0",
              "3.1.0", "3.0.0", "3.0.0"],
    "Flink": ["1.20.0"] * 7 + ["1.19.1", "1.19.1", "1.18.1", "1.18.1", "1.18.1", "1.18.0"],
    "HBase": [None, None, "2.6.2", "2.6.2", "2.6.1", "2.6.1", "2.6.1", "2.5.10", None, "2.4.17", "2.4.17",
              "2.4.17", "2.4.17"],
    "HCatalog": [None] * 9 + ["3.1.3"] * 4, "Hadoop": [None] * 9 + ["3.3.6"] * 4,
    "Hive": [None] * 9 + ["3.1.3"] * 4,
}
LABELS_WITHOUT_TABLES = ["5.35.0", "5.36.0", "5.36.1", "5.36.2", "6.6.0", "6.7.0", "6.8.0", "6.9.0",
                         "6.10.0", "6.10.1", "6.11.0", "6.11.1", "7.13.0"]


def _cell(text: str) -> str:
    return text.replace("\\", "").strip()


def concise(version: str) -> str:
    return re.sub(r"-amzn-\d+$", "", version)


def parse_table(markdown: str) -> dict[str, dict[str, str]]:
    """{label: {application: version}} from one of the Release Guide's wide tables."""
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    labels = [_cell(c) for c in rows[0].strip().strip("|").split("|")][1:]
    releases = {label: {} for label in labels if label}
    for row in rows[2:]:
        cells = [_cell(c) for c in row.strip().strip("|").split("|")]
        name, versions = cells[0], cells[1:]
        if name in NOT_APPLICATIONS:
            continue
        for label, version in zip(labels, versions):
            if version and version not in ("-", "Not available"):
                releases[label][name] = concise(version)
    return releases


def later_releases() -> dict[str, dict[str, str]]:
    releases: dict[str, dict[str, str]] = {f"emr-{label}": {} for label in LABELS_WITHOUT_TABLES}
    for index, label in enumerate(["6.15.0", "6.14.0", "6.13.0", "6.12.0"]):
        releases[f"emr-{label}"] = {app: versions[index] for app, versions in _SIX_TWELVE_ON.items()
                                    if versions[index]}
    for index, label in enumerate(_SEVEN):
        releases[f"emr-{label}"] = {app: versions[index] for app, versions in _SEVEN_ROWS.items()
                                    if versions[index]}
    for label, spark in _SPARK_LATER.items():
        releases.setdefault(f"emr-{label}", {})["Spark"] = spark
    return releases


def main(table_files: list[str]) -> None:
    catalog = json.loads(CATALOG.read_text())
    os_releases = {entry["label"]: entry["os_releases"] for entry in catalog["releases"]}
    releases: dict[str, dict[str, str]] = {}
    for path in table_files:
        releases.update(parse_table(Path(path).read_text()))
    releases.update(later_releases())
    catalog["releases"] = [
        {"label": label, "applications": dict(sorted(apps.items())), "os_releases": os_releases.get(label, [])}
        for label, apps in sorted(releases.items(), key=lambda item: _version(item[0]), reverse=True)
    ]
    CATALOG.write_text(json.dumps(catalog, indent=1) + "\n")
    print(f"{len(catalog['releases'])} release labels written to {CATALOG}")


def _version(label: str) -> tuple:
    return tuple(int(part) for part in label.removeprefix("emr-").split("."))


if __name__ == "__main__":
    main(sys.argv[1:])
