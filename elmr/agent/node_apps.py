"""The applications on this node, driven by the agent: lay Hadoop out, write every
configuration file (each Hadoop XML file once, merged from every application's part,
the cluster's classifications over it), the environment every process of the node
gets, the daemons of this node's role, whether they serve, and on the master what
they report and what a fresh cluster needs made before steps run."""

import logging
import os
import sys
from pathlib import Path

from elmr.agent import python_env
from elmr.agent.daemons import Daemon
from elmr.apps import classifications, hadoop_home, hive, yarn
from elmr.apps.base import DaemonPlan, NodeContext
from elmr.apps.registry import APPLICATIONS
from elmr.apps.spark import Spark, spark_home
from elmr.node_protocol import NODE_DIR_VARIABLE, SERVER_ONLY_VARIABLES, NodeSpec

log = logging.getLogger("elmr.agent.apps")
HADOOP_XML = ("core-site", "hdfs-site", "yarn-site", "mapred-site", "capacity-scheduler")
ENV_CLASSIFICATIONS = ("hadoop-env", "yarn-env", "mapred-env")
LOG4J = {
    "log4j.rootLogger": "${hadoop.root.logger}",
    "hadoop.root.logger": "INFO,console",
    "log4j.appender.console": "org.apache.log4j.ConsoleAppender",
    "log4j.appender.console.target": "System.err",
    "log4j.appender.console.layout": "org.apache.log4j.PatternLayout",
    "log4j.appender.console.layout.ConversionPattern": "%d{ISO8601} %p %c{2}: %m%n",
}
# Programs steps, bootstrap actions and scripts find on PATH besides Hadoop's launchers.
SPARK_PROGRAMS = ("spark-submit", "spark-sql", "pyspark", "spark-shell", "spark-class")


class NodeApplications:
    def __init__(self, spec: NodeSpec, node_dir: Path):
        self.node = NodeContext(spec, node_dir)
        self.spec = spec
        self.node_dir = node_dir
        self.env = self._environment()
        self.plans: list[DaemonPlan] = [plan for app in APPLICATIONS for plan in app.daemons(self.node)]
        self.daemons = [Daemon(plan.name, plan.command, {**self.env, **plan.env},
                               node_dir / "logs" / f"{plan.name}.out", plan.ready_url) for plan in self.plans]
        self.cluster_prepared = False
        self.retired: set[str] = set()  # daemons the cluster decommissioned
        self.spark_conf_dir = Spark().conf_dir(self.node)

    def _environment(self) -> dict:
        """What every process of the node runs with: the node's identity (as EMR's
        /mnt/var/lib/info tells its scripts), its applications' variables, the
        cluster's credentials endpoint and elmr's endpoints, never the server's key."""
        env = {k: v for k, v in os.environ.items() if k not in SERVER_ONLY_VARIABLES}
        spec = self.spec
        for application in APPLICATIONS:
            env.update(application.environment(self.node))
        for name in ENV_CLASSIFICATIONS:
            env.update(classifications.exports(spec.configurations, name))
        env.update(
            ELMR_CLUSTER_ID=spec.cluster_id,
            ELMR_INSTANCE_ID=spec.ec2_instance_id, ELMR_INSTANCE_ROLE=spec.role,
            ELMR_INSTANCE_TYPE=spec.instance_type,
            PATH=f"{hadoop_home.bin_dir(self.node_dir)}:{env.get('PATH', '/usr/bin:/bin')}",
            AWS_ENDPOINT_URL=spec.server_url, AWS_ENDPOINT_URL_S3=spec.server_url,
            AWS_ENDPOINT_URL_EMR=spec.server_url, AWS_REGION=spec.region, AWS_DEFAULT_REGION=spec.region,
        )
        env[NODE_DIR_VARIABLE] = str(self.node_dir)  # the provider finds the node's processes by it
        # The node's own Python first (python_env.py): what steps, bootstrap actions
        # and Spark's Python workers run as python3.
        env.update(python_env.variables(self.node_dir, env["PATH"]))
        if spec.credentials_url:
            env.update(AWS_CONTAINER_CREDENTIALS_FULL_URI=spec.credentials_url,
                       AWS_CONTAINER_AUTHORIZATION_TOKEN=spec.credentials_token)
        return env

    def lay_out(self) -> None:
        """Hadoop's jars and launchers, Spark's programs, `aws` and `hive` on the node's PATH
        (Hive's jars too on a cluster with Hive).
        ArtifactsMissing when setup has not fetched Hadoop."""
        hadoop_home.lay_out(self.node_dir)
        hadoop_home.write_launchers(self.node.hadoop_conf_dir, self.node_dir)
        bin_dir = hadoop_home.bin_dir(self.node_dir)
        programs = {name: spark_home() / "bin" / name for name in SPARK_PROGRAMS}
        programs["aws"] = Path(sys.executable).parent / "aws"
        for name, target in programs.items():
            link = bin_dir / name
            if target.exists() and not link.is_symlink():
                link.symlink_to(target)
        hadoop_home.write_program(self.node_dir, "s3-dist-cp",  # EMR's copy tool
                                  f'#!/bin/sh\nexec "{sys.executable}" -m elmr.apps.s3_dist_cp "$@"\n')
        hive.lay_out(self.node, spark_home() / "bin" / "spark-sql")
        for directory in ("hdfs", "yarn", "tmp", "logs"):
            (self.node_dir / directory).mkdir(parents=True, exist_ok=True)

    def write_configuration(self) -> None:
        conf_dir = self.node.hadoop_conf_dir
        conf_dir.mkdir(parents=True, exist_ok=True)
        site: dict[str, dict] = {name: {} for name in HADOOP_XML}
        for application in APPLICATIONS:
            for name, properties in application.site_properties(self.node).items():
                site[name].update(properties)
        # YARN starts containers with a PATH of its own; they get the node's instead,
        # so Spark's Python workers run the node's python3 (python_env.py) and tasks
        # find what bootstrap actions installed.
        site["yarn-site"]["yarn.nodemanager.admin-env"] = f"MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX,PATH={self.env['PATH']}"
        for name, properties in site.items():
            merged = {**properties, **classifications.properties(self.spec.configurations, name)}
            (conf_dir / f"{name}.xml").write_text(classifications.hadoop_xml(merged))
        log4j = {**LOG4J, **classifications.properties(self.spec.configurations, "hadoop-log4j")}
        (conf_dir / "log4j.properties").write_text(classifications.java_properties(log4j, "="))
        for application in APPLICATIONS:
            application.configure(self.node)

    def start_daemons(self) -> None:
        """The daemons the node's start waits for; history servers come later."""
        for plan, daemon in zip(self.plans, self.daemons):
            if not plan.after_start:
                self._prepare(plan, daemon)
                daemon.start()

    def start_later_daemons(self) -> None:
        for plan, daemon in zip(self.plans, self.daemons):
            if plan.after_start and daemon.process is None:
                daemon.start()

    def _prepare(self, plan: DaemonPlan, daemon: Daemon) -> None:
        if plan.prepared is not None and plan.prepared.exists():
            return
        for command in plan.prepare:
            daemon.run_to_completion(command)

    def drained(self) -> bool:
        """This node's NodeManager, if it runs one, has no container left."""
        if not any(daemon.name == "nodemanager" and daemon.exit_code() is None for daemon in self.daemons):
            return True
        return yarn.running_containers(self.node.url("nodemanager_web")) == 0

    def failed_daemon(self) -> Daemon | None:
        """A daemon that exited, unless the cluster retired it (decommissioning)."""
        for daemon in self.daemons:
            code = daemon.exit_code()
            if code is None or daemon.name in self.retired:
                continue
            if code == 0 and any(app.retired(self.node, daemon.name) for app in APPLICATIONS):
                log.info("%s exited: the cluster decommissioned it", daemon.name)
                self.retired.add(daemon.name)
                continue
            return daemon
        return None

    def serving(self) -> bool:
        """Every daemon the start waits for answers; on the master, the cluster's
        directories are made once they do."""
        waited = [d for plan, d in zip(self.plans, self.daemons) if not plan.after_start]
        if not all(daemon.serves() for daemon in waited):
            return False
        if not self.cluster_prepared:
            self.cluster_prepared = all(app.prepare_cluster(self.node) for app in APPLICATIONS)
        return self.cluster_prepared

    def report(self) -> dict:
        figures = {}
        for application in APPLICATIONS:
            figures.update(application.report(self.node))
        return figures
