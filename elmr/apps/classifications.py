"""EMR configuration classifications: which ones elmr knows (those its applications
declare), the properties a cluster's Configurations give one of them, and the file
formats they are written in (Hadoop's XML, Spark's properties, shell exports)."""

import shlex
from xml.sax.saxutils import escape

# Classifications whose nested `export` classification sets environment variables.
ENV_CLASSIFICATIONS = {"spark-env", "hadoop-env", "yarn-env", "mapred-env"}
NESTED_EXPORT = "export"


def known() -> set[str]:
    from elmr.apps.registry import APPLICATIONS  # the registry imports the applications
    return {name for application in APPLICATIONS for name in application.classifications}


def unknown_classifications(configurations: list) -> list[str]:
    """Classifications elmr would not know where to write (nested ones included)."""
    names = known()
    unknown = []
    for configuration in configurations:
        name = configuration.get("Classification", "")
        if name not in names:
            unknown.append(name)
        for nested in configuration.get("Configurations", []):
            if not (name in ENV_CLASSIFICATIONS and nested.get("Classification") == NESTED_EXPORT):
                unknown.append(f"{name}/{nested.get('Classification', '')}")
    return unknown


def properties(configurations: list, classification: str) -> dict:
    """The Properties of every configuration of this classification, later ones winning."""
    merged = {}
    for configuration in configurations:
        if configuration.get("Classification") == classification:
            merged.update(configuration.get("Properties", {}))
    return merged


def exports(configurations: list, classification: str) -> dict:
    """The variables a `*-env` classification's nested `export` sets."""
    variables = {}
    for configuration in configurations:
        if configuration.get("Classification") == classification:
            for nested in configuration.get("Configurations", []):
                if nested.get("Classification") == NESTED_EXPORT:
                    variables.update(nested.get("Properties", {}))
    return variables


def hadoop_xml(properties: dict) -> str:
    body = "".join(
        f"  <property>\n    <name>{escape(key)}</name>\n    <value>{escape(str(value))}</value>\n"
        f"  </property>\n" for key, value in sorted(properties.items()))
    return f'<?xml version="1.0"?>\n<configuration>\n{body}</configuration>\n'


def java_properties(properties: dict, separator: str = " ") -> str:
    return "".join(f"{key}{separator}{value}\n" for key, value in sorted(properties.items()))


def shell_exports(variables: dict, header: str) -> str:
    lines = [f"# {header}"] + [f"export {key}={shlex.quote(str(value))}" for key, value in variables.items()]
    return "\n".join(lines) + "\n"
