"""Builds elmr/catalog/releases.json: every EMR release label with the application
versions AWS publishes for it.

Sources: the tables of AWS's Amazon EMR Release Guide ("Application versions in
Amazon EMR 4.x/5.x/6.x releases", from the awsdocs/amazon-emr-release-guide
repository's doc_source/emr-release-app-versions-*.md, which covers emr-4.0.0 to
emr-5.34.0 and emr-6.0.0 to emr-6.5.0), given as files on the command line; and, for
the releases after those, the rows of the current Release Guide's pages that
`LATER_RELEASES` below transcribes (its application tables and its Spark release
history) and `READ_LATER` (each block naming the page or file it was read from). Versions are
given concisely, as DescribeReleaseLabel gives them (no "-amzn-N" build suffix).
Run: python scripts/catalog_releases.py 4.md 5.md 6.md, the three files being the archived
repository's doc_source/emr-release-app-versions-{4,5,6}.x.md as of its commit 44c8b09 (the
last before the archiving commit deleted doc_source; `git show 44c8b09:doc_source/...`).
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
LABELS_WITHOUT_TABLES = ["5.35.0", "5.36.0", "5.36.1", "5.36.2", "6.6.0", "6.7.0", "6.8.0", "6.8.1",
                         "6.9.0", "6.9.1", "6.10.0", "6.10.1", "6.11.0", "6.11.1", "7.13.0"]

# Rows read later, one block per source, merged over the rows above; a version read twice must
# agree (later_releases() refuses otherwise). The search tools show a page's beginning only, so each
# release page gave its table down to the row named; what lies further was not read.
_FOUR_COLUMN = ["Flink", "Ganglia", "HBase", "HCatalog", "Hadoop", "Hive", "Hudi", "Hue"]


def _columns(labels: list[str], rows: dict[str, list]) -> dict[str, dict[str, str]]:
    """{label: {application: version}} from a release page's table read column by column."""
    return {label: {app: versions[index] for app, versions in rows.items() if versions[index]}
            for index, label in enumerate(labels)}


# "Amazon EMR release 5.36.0" (docs.aws.amazon.com/emr/latest/ReleaseGuide/emr-5360-release.html),
# read down to Oozie.
_PAGE_5360 = _columns(["5.36.0", "5.35.0"], dict(zip(_FOUR_COLUMN, [
    ["1.14.2"] * 2, ["3.7.2"] * 2, ["1.4.13"] * 2, ["2.3.9"] * 2, ["2.10.1"] * 2, ["2.3.9"] * 2,
    ["0.10.1", "0.9.0"], ["4.10.0"] * 2])) | {
    "JupyterEnterpriseGateway": ["2.1.0"] * 2, "JupyterHub": ["1.4.1"] * 2, "Livy": ["0.7.1"] * 2,
    "MXNet": ["1.8.0"] * 2, "Mahout": ["0.13.0"] * 2, "Oozie": ["5.2.1"] * 2})
# "Amazon EMR release 6.6.0" (docs.aws.amazon.com/pt_br/ and /fr_fr/.../emr-660-release.html, the
# translations' tables), read down to Livy.
_PAGE_660 = _columns(["6.6.0"], dict(zip(_FOUR_COLUMN, [
    ["1.14.2"], ["3.7.2"], ["2.4.4"], ["3.1.2"], ["3.2.1"], ["3.1.2"], ["0.10.1"], ["4.10.0"]])) | {
    "Iceberg": ["0.13.1"], "JupyterEnterpriseGateway": ["2.1.0"], "JupyterHub": ["1.4.1"], "Livy": ["0.7.1"]})
# "Amazon EMR release 6.9.0" (docs.aws.amazon.com/pt_br/.../emr-690-release.html), read down to
# JupyterEnterpriseGateway.
_PAGE_690 = _columns(["6.9.0", "6.8.1", "6.8.0", "6.7.0"], dict(zip(_FOUR_COLUMN, [
    ["1.15.2", "1.15.1", "1.15.1", "1.14.2"], ["3.7.2"] * 4, ["2.4.13", "2.4.12", "2.4.12", "2.4.4"],
    ["3.1.3"] * 4, ["3.3.3", "3.2.1", "3.2.1", "3.2.1"], ["3.1.3"] * 4,
    ["0.12.1", "0.11.1", "0.11.1", "0.11.0"], ["4.10.0"] * 4])) | {
    "Delta": ["2.1.0", None, None, None], "Iceberg": ["0.14.1", "0.14.0", "0.14.0", "0.13.1"],
    "JupyterEnterpriseGateway": ["2.6.0", "2.1.0", "2.1.0", "2.1.0"]})
# "Amazon EMR release 6.11.0" (docs.aws.amazon.com/emr/latest/ReleaseGuide/emr-6110-release.html),
# read down to MXNet (whose emr-6.9.1 cell was cut off).
_PAGE_6110 = _columns(["6.11.0", "6.10.1", "6.10.0", "6.9.1"], dict(zip(_FOUR_COLUMN, [
    ["1.16.0", "1.16.0", "1.16.0", "1.15.2"], ["3.7.2"] * 4, ["2.4.15", "2.4.15", "2.4.15", "2.4.13"],
    ["3.1.3"] * 4, ["3.3.3"] * 4, ["3.1.3"] * 4, ["0.13.0", "0.12.2", "0.12.2", "0.12.1"],
    ["4.11.0", "4.10.0", "4.10.0", "4.10.0"]])) | {
    "Delta": ["2.2.0", "2.2.0", "2.2.0", "2.1.0"], "Iceberg": ["1.2.0", "1.1.0", "1.1.0", "0.14.1"],
    "JupyterEnterpriseGateway": ["2.6.0"] * 4, "JupyterHub": ["1.4.1", "1.5.0", "1.5.0", "1.4.1"],
    "Livy": ["0.7.1"] * 4, "MXNet": ["1.9.1", "1.9.1", "1.9.1", None]})
# "Amazon EMR release 6.11.1" (docs.aws.amazon.com/pt_br/.../emr-6111-release.html), read down to
# JupyterEnterpriseGateway.
_PAGE_6111 = _columns(["6.11.1"], dict(zip(_FOUR_COLUMN, [
    ["1.16.0"], ["3.7.2"], ["2.4.15"], ["3.1.3"], ["3.3.3"], ["3.1.3"], ["0.13.0"], ["4.11.0"]])) | {
    "Delta": ["2.2.0"], "Iceberg": ["1.2.0"], "JupyterEnterpriseGateway": ["2.6.0"]})
# "Hadoop version history" (docs.aws.amazon.com/emr/latest/ReleaseGuide/Hadoop-release-history.html
# for emr-7.10.0..7.7.0, docs.amazonaws.cn/en_us/... for emr-7.13.0..7.11.0, and the ja_jp/zh_cn/
# es_es translations, whose 5.x table opens with emr-5.36.2).
_HADOOP_HISTORY = {"7.13.0": "3.4.2", "7.12.0": "3.4.1", "7.11.0": "3.4.1", "7.10.0": "3.4.1",
                   "7.9.0": "3.4.1", "7.8.0": "3.4.1", "7.7.0": "3.4.0", "5.36.2": "2.10.1"}
# The EMR Serverless guide's page for the same release label ("EMR Serverless X.Y.Z",
# docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/release-version-XYZ.html; 6.6.0 from
# the zh_cn page): its Spark and Hive, where the EC2 page's rows were out of reach.
_SERVERLESS = {"6.6.0": ("3.2.0", "3.1.2"), "6.7.0": ("3.2.1", "3.1.3"), "6.8.0": ("3.3.0", "3.1.3"),
               "6.11.0": ("3.3.2", "3.1.3"), "6.12.0": ("3.4.0", "3.1.3"), "6.14.0": ("3.4.1", "3.1.3"),
               "7.4.0": ("3.5.2", "3.1.3"), "7.5.0": ("3.5.2", "3.1.3"), "7.6.0": ("3.5.3", "3.1.3"),
               "7.7.0": ("3.5.3", "3.1.3"), "7.8.0": ("3.5.4", "3.1.3"), "7.9.0": ("3.5.5", "3.1.3")}
# Spark in the EMR on EKS release notes of the same label ("Amazon EMR on EKS X.Y.Z releases",
# docs.aws.amazon.com/emr/latest/EMR-on-EKS-DevelopmentGuide/emr-eks-X.Y.Z.html). Only Spark is
# taken: other rows there (Delta in 7.5.0) differ from the EC2 release's.
_EKS_SPARK = {"5.35.0": "2.4.8", "6.10.0": "3.3.1", "6.11.0": "3.3.2", "7.4.0": "3.5.2", "7.5.0": "3.5.2"}
# A GitHub copy of the current Release Guide's emr-spark.md and emr-hcatalog.md ("Spark/HCatalog
# version information for emr-5.36.2"; library index file ids 57919850944 and 58212956655, the
# index does not name the repository).
_GUIDE_COPY_5362 = {"5.36.2": {"Spark": "2.4.8", "HCatalog": "2.3.9"}}
# A third party's transcription of the "Application versions in Amazon EMR 7.x/6.x releases"
# tables ("Matriz de runtime Amazon EMR on EC2", Spark/Hadoop/Iceberg per release, library index
# file id 58079446824; emr-5.36.0 from its companion comparison, id 57951961453). Every cell of it
# that an AWS page above also gives agrees; taken only where no AWS page was read.
_THIRD_PARTY_MATRIX = {"5.36.0": {"Spark": "2.4.8"}, "6.8.1": {"Spark": "3.3.0"}, "6.9.0": {"Spark": "3.3.0"},
                       "6.9.1": {"Spark": "3.3.0"}, "6.10.1": {"Spark": "3.3.1"}, "6.11.1": {"Spark": "3.3.2"},
                       "7.4.0": {"Hadoop": "3.4.0"}, "7.5.0": {"Hadoop": "3.4.0"}, "7.6.0": {"Hadoop": "3.4.0"}}
# The application's "release history" pages (docs.aws.amazon.com/emr/latest/ReleaseGuide/
# <App>-release-history.html), one table per application, newest label first; each copy's excerpt
# starts at a different label, so the copies together give these rows: docs.amazonaws.cn/en_us/...
# .md (from emr-7.13.0), docs.amazonaws.cn/... (zh_cn, .html and .md, from emr-7.12.0 or emr-7.10.0),
# docs.aws.amazon.com/... and its ja_jp/ko_kr/zh_tw/pt_br/es_es/de_de copies (from emr-7.10.0, or
# from emr-7.3.0/7.2.0 in older copies; ja_jp and pt_br Hive open with the 5.x table's emr-5.36.2).
_RELEASE_HISTORY = {
    "Presto": dict.fromkeys(["7.13.0", "7.12.0", "7.11.0", "7.10.0", "7.9.0", "7.8.0", "7.7.0"], "0.287"),
    "ZooKeeper": dict.fromkeys(["7.13.0", "7.12.0", "7.11.0", "7.10.0", "7.9.0", "7.8.0"], "3.9.3")
                 | {"7.7.0": "3.9.2", "7.6.0": "3.9.2", "7.3.0": "3.9.1", "7.2.0": "3.9.1"},
    "Pig": dict.fromkeys(["7.13.0", "7.12.0", "7.11.0", "7.10.0", "7.9.0", "7.8.0", "7.7.0"], "0.17.0"),
    "Hive": dict.fromkeys(["7.12.0", "7.11.0", "7.10.0", "7.3.0", "7.2.0"], "3.1.3") | {"5.36.2": "2.3.9"},
    "HBase": {"7.13.0": "2.6.4", "7.12.0": "2.6.2", "7.11.0": "2.6.2", "7.10.0": "2.6.2", "7.9.0": "2.6.2",
              "7.8.0": "2.6.1"},
    "Tez": dict.fromkeys(["7.13.0", "7.12.0", "7.11.0", "7.10.0", "7.9.0", "7.8.0", "7.7.0", "7.6.0"],
                         "0.10.2"),
    "Phoenix": {"7.13.0": "5.3.0", "7.12.0": "5.2.1", "7.10.0": "5.2.1", "7.9.0": "5.2.1", "7.8.0": "5.2.1"},
    "Zeppelin": dict.fromkeys(["7.13.0", "7.12.0", "7.11.0"], "0.11.1"),
}
# The application's own page ("<App> version information for emr-X", docs.aws.amazon.com/emr/latest/
# ReleaseGuide/emr-<app>.html), which names the latest label of each series; copies read at different
# times name different labels: emr-trino.md (docs.amazonaws.cn/en_us/, emr-7.13.0) and zh_cn
# emr-trino.html (emr-7.10.0); zh_tw emr-presto.html (emr-7.2.0) and fr_fr (emr-6.14.0); zh_cn
# emr-phoenix.html (emr-6.15.0); docs.amazonaws.cn emr-pig.html (emr-7.10.0). Trino keeps the name the
# tables give it, "Trino (PrestoSQL)".
_APP_PAGES = {"7.13.0": {"Trino (PrestoSQL)": "479"}, "7.10.0": {"Trino (PrestoSQL)": "470", "Pig": "0.17.0"},
              "7.2.0": {"Presto": "0.285"}, "6.14.0": {"Presto": "0.281"}, "6.15.0": {"Phoenix": "5.1.3"}}
# GitHub copies of the current Release Guide's emr-<app>.md pages, each giving the latest emr-7.x,
# emr-6.15.0 and emr-5.36.2 rows (library index file ids, the index does not name the repository):
# emr-presto.md 58070119468, emr-tensorflow.md 58228797912, emr-tez.md 57924512821, emr-sqoop.md
# 58083959263, emr-zookeeper.md 70228441928, emr-hue.md 58101672658, emr-jupyterhub.md 58103551271,
# emr-hudi.md 57913860612, emr-flink.md 58842322197.
_GUIDE_COPIES = {
    "7.13.0": {"ZooKeeper": "3.9.3", "Flink": "1.20.0"}, "7.12.0": {"Presto": "0.287", "JupyterHub": "1.5.0"},
    "7.11.0": {"Tez": "0.10.2", "Hudi": "1.0.2"}, "7.10.0": {"TensorFlow": "2.18.0", "Hue": "4.11.0"},
    "7.4.0": {"Sqoop": "1.4.7"},
    "6.15.0": {"Presto": "0.283", "TensorFlow": "2.11.0", "Tez": "0.10.2", "Sqoop": "1.4.7",
               "ZooKeeper": "3.5.10", "Hue": "4.11.0", "JupyterHub": "1.5.0", "Hudi": "0.14.0",
               "Flink": "1.17.1"},
    "5.36.2": {"Presto": "0.267", "TensorFlow": "2.4.1", "Tez": "0.9.2", "Sqoop": "1.4.7",
               "ZooKeeper": "3.4.14", "Hue": "4.10.0", "JupyterHub": "1.4.1", "Hudi": "0.10.1",
               "Flink": "1.14.2"},
}
# A third party's transcription of the emr-hive page when emr-5.36.1 was the latest 5.x label: the
# Apache Hive wiki's "Hive Aws EMR" page ("Supported versions", library index file id 24161953955).
# Its emr-7.0.0 and emr-6.15.0 rows agree with the AWS pages above; no AWS page giving emr-5.36.1's
# Hive was readable.
_HIVE_WIKI = {"5.36.1": {"Hive": "2.3.9"}, "7.0.0": {"Hive": "3.1.3"}, "6.15.0": {"Hive": "3.1.3"}}


def _by_label(rows: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """{label: {application: version}} from {application: {label: version}}."""
    releases: dict[str, dict[str, str]] = {}
    for app, versions in rows.items():
        for label, version in versions.items():
            releases.setdefault(label, {})[app] = version
    return releases


READ_LATER = [_PAGE_5360, _PAGE_660, _PAGE_690, _PAGE_6110, _PAGE_6111,
              {label: {"Hadoop": version} for label, version in _HADOOP_HISTORY.items()},
              {label: {"Spark": spark, "Hive": hive} for label, (spark, hive) in _SERVERLESS.items()},
              {label: {"Spark": spark} for label, spark in _EKS_SPARK.items()},
              _GUIDE_COPY_5362, _THIRD_PARTY_MATRIX,
              _by_label(_RELEASE_HISTORY),
              _APP_PAGES, _GUIDE_COPIES, _HIVE_WIKI]


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
    for block in READ_LATER:
        for label, apps in block.items():
            known = releases[f"emr-{label}"]
            for app, version in apps.items():
                if known.setdefault(app, version) != version:
                    raise ValueError(f"emr-{label} {app}: {known[app]} read before, {version} now")
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
