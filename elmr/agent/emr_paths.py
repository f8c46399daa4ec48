"""EMR's well-known paths on an elmr node: /usr/lib/spark, /usr/lib/hadoop (its lib/
and hadoop-streaming.jar), /usr/lib/hadoop-mapreduce (the examples JAR),
/etc/hadoop/conf, /etc/spark/conf, on a cluster with Hive /usr/lib/hive/lib and
/etc/hive/conf, and /mnt/var/lib/info (instance.json, job-flow.json).

They are laid out under the node's directory (NODE_DIR/usr/lib, NODE_DIR/etc,
NODE_DIR/mnt), and where the OS allows a mount namespace per node (the provider
starts the agent under `unshare`), each of /usr/lib, /etc and /mnt is overlaid
read-only with the node's layer above the host's own: everything the node runs sees
EMR's paths, and nothing is written outside elmr's directories. Without a namespace
the files are still there under NODE_DIR (and $ELMR_NODE_DIR) but the absolute paths
are not.
"""

import json
import logging
import os
import subprocess
from pathlib import Path

from elmr.apps import hadoop_home, hive
from elmr.apps.spark import spark_home
from elmr.node_protocol import MOUNT_NAMESPACE_VARIABLE, NodeSpec

log = logging.getLogger("elmr.agent.emr_paths")
OVERLAID = ("usr/lib", "etc", "mnt")


def instance_info(spec: NodeSpec) -> dict:
    """EMR's instance.json: which daemons this node runs."""
    master = spec.role == "MASTER"
    core_daemons = spec.role == "CORE" or spec.runs_tasks  # a cluster of one node runs them on its master
    return {
        "isMaster": master, "isRunningNameNode": master, "isRunningDataNode": core_daemons,
        "isRunningJobTracker": False, "isRunningTaskTracker": False,
        "isRunningResourceManager": master, "isRunningNodeManager": not master or spec.runs_tasks,
        "instanceGroupId": spec.instance_group_id, "instanceId": spec.ec2_instance_id,
        "instanceRole": spec.role.title(), "instanceType": spec.instance_type,
    }


def lay_out(spec: NodeSpec, node_dir: Path, hadoop_conf: Path, spark_conf: Path) -> None:
    usr_lib = hadoop_home.usr_lib(node_dir)
    hadoop_home.link(str(spark_home()), usr_lib / "spark")
    hadoop_home.link(str(hadoop_conf), usr_lib / "hadoop" / "etc" / "hadoop")
    hadoop_home.link(str(hadoop_conf), node_dir / "etc" / "hadoop" / "conf")
    hadoop_home.link(str(spark_conf), node_dir / "etc" / "spark" / "conf")
    if hive.NAME in spec.applications:
        hadoop_home.link(str(hive.conf_dir_of(node_dir)), node_dir / "etc" / "hive" / "conf")
    info = node_dir / "mnt" / "var" / "lib" / "info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "instance.json").write_text(json.dumps(instance_info(spec), indent=2))
    (info / "job-flow.json").write_text(json.dumps(spec.job_flow, indent=2))
    (info / "extraInstanceData.json").write_text(json.dumps(
        {"region": spec.region, "clusterId": spec.cluster_id}, indent=2))


def mount(node_dir: Path) -> bool:
    """Overlay EMR's directories with the node's; True when this node sees EMR's
    absolute paths. Only inside the namespace the provider made for this node."""
    if os.environ.get(MOUNT_NAMESPACE_VARIABLE) != "1":
        return False
    for relative in OVERLAID:
        host_dir, layer = Path("/") / relative, node_dir / relative
        if not host_dir.is_dir() or not layer.is_dir():
            continue
        result = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", f"ro,lowerdir={layer}:{host_dir}", str(host_dir)],
            capture_output=True, text=True)
        if result.returncode != 0:
            log.warning("cannot overlay %s (%s): EMR's paths stay under %s only",
                        host_dir, result.stderr.strip(), node_dir)
            return False
    return True
