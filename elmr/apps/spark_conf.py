"""EMR configuration classifications as Spark sees them. The steps issue writes every
classification to its real file; for now the `spark-defaults` properties travel in
the node spec and the agent writes them to spark-defaults.conf."""


def spark_defaults_from_configurations(configurations: list) -> dict:
    properties = {}
    for configuration in configurations:
        if configuration.get("Classification") == "spark-defaults":
            properties.update(configuration.get("Properties", {}))
    return properties
