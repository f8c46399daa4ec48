"""EMR configuration classifications, written to the real files every node's Spark
reads from its SPARK_CONF_DIR: spark-defaults.conf, spark-env.sh, log4j2.properties,
hive-site.xml (hive-site, then spark-hive-site over it) and core-site.xml (which
Spark's Hadoop configuration picks up from the conf dir on its classpath)."""

import shlex
from pathlib import Path
from xml.sax.saxutils import escape

# The classifications elmr writes, and the nested one spark-env carries.
KNOWN_CLASSIFICATIONS = {
    "spark-defaults", "spark-env", "spark-log4j2", "spark-hive-site", "hive-site", "core-site",
}
NESTED_EXPORT = "export"


def unknown_classifications(configurations: list) -> list[str]:
    """Classifications elmr would not know where to write (nested ones included)."""
    unknown = []
    for configuration in configurations:
        name = configuration.get("Classification", "")
        if name not in KNOWN_CLASSIFICATIONS:
            unknown.append(name)
        for nested in configuration.get("Configurations", []):
            if not (name == "spark-env" and nested.get("Classification") == NESTED_EXPORT):
                unknown.append(f"{name}/{nested.get('Classification', '')}")
    return unknown


def _properties(configurations: list, classification: str) -> dict:
    merged = {}
    for configuration in configurations:
        if configuration.get("Classification") == classification:
            merged.update(configuration.get("Properties", {}))
    return merged


def spark_defaults_from_configurations(configurations: list) -> dict:
    return _properties(configurations, "spark-defaults")


def _spark_env(configurations: list) -> str:
    lines = ["# written by elmr from the spark-env classification"]
    for configuration in configurations:
        if configuration.get("Classification") != "spark-env":
            continue
        for nested in configuration.get("Configurations", []):
            for key, value in nested.get("Properties", {}).items():
                lines.append(f"export {key}={shlex.quote(value)}")
    return "\n".join(lines) + "\n"


def _hadoop_xml(properties: dict) -> str:
    body = "".join(
        f"  <property>\n    <name>{escape(key)}</name>\n    <value>{escape(str(value))}</value>\n"
        f"  </property>\n" for key, value in sorted(properties.items()))
    return f'<?xml version="1.0"?>\n<configuration>\n{body}</configuration>\n'


def write_conf_files(conf_dir: Path, spark_defaults: dict, configurations: list,
                     hive_defaults: dict) -> None:
    """Every file Spark reads; the classifications override elmr's own defaults."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    defaults = {**spark_defaults, **spark_defaults_from_configurations(configurations)}
    (conf_dir / "spark-defaults.conf").write_text(
        "".join(f"{key} {value}\n" for key, value in sorted(defaults.items())))
    (conf_dir / "spark-env.sh").write_text(_spark_env(configurations))
    log4j2 = _properties(configurations, "spark-log4j2")
    if log4j2:
        (conf_dir / "log4j2.properties").write_text(
            "".join(f"{key} = {value}\n" for key, value in log4j2.items()))
    hive = {**hive_defaults, **_properties(configurations, "hive-site"),
            **_properties(configurations, "spark-hive-site")}
    (conf_dir / "hive-site.xml").write_text(_hadoop_xml(hive))
    core = _properties(configurations, "core-site")
    if core:
        (conf_dir / "core-site.xml").write_text(_hadoop_xml(core))


VIEWFS = "org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme"


def object_store_properties(object_store_dir: str) -> dict:
    """s3:// and s3a:// paths resolved to the embedded object store's bucket dirs by
    Hadoop's own ViewFileSystemOverloadScheme: one mount table per bucket (the URI's
    authority), falling back to the bucket's directory. Read when a Spark application
    starts, so a bucket created after the cluster started is there for the next step."""
    if not object_store_dir or not Path(object_store_dir).is_dir():
        return {}
    properties = {f"spark.hadoop.fs.{scheme}.impl": VIEWFS for scheme in ("s3", "s3a", "s3n")}
    for bucket in sorted(p for p in Path(object_store_dir).iterdir() if p.is_dir()):
        properties[f"spark.hadoop.fs.viewfs.mounttable.{bucket.name}.linkFallback"] = f"file://{bucket}"
    return properties
