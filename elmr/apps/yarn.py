"""YARN as EMR runs it: the ResourceManager on the master, a NodeManager on every core
and task node offering the instance type's vCPUs and most of its memory, EMR's ports,
one capacity-scheduler queue. The master reports YARN's own metrics (nodes, apps,
containers, memory) in its heartbeats for the server to read."""

import json
import urllib.error
import urllib.request

from elmr.apps import hadoop_home, webhdfs
from elmr.apps.base import MASTER, Application, DaemonPlan, NodeContext

RESOURCEMANAGER_CLASS = "org.apache.hadoop.yarn.server.resourcemanager.ResourceManager"
NODEMANAGER_CLASS = "org.apache.hadoop.yarn.server.nodemanager.NodeManager"
EXCLUDE_FILE = "yarn.exclude"  # NodeManagers being decommissioned (apps/decommission.py)
# What containers inherit from their NodeManager unless they set it: Hadoop's
# defaults, the node's identity, and the cluster's credentials and endpoints.
CONTAINER_ENV = ("JAVA_HOME,HADOOP_COMMON_HOME,HADOOP_HDFS_HOME,HADOOP_CONF_DIR,CLASSPATH_PREPEND_DISTCACHE,"
                 "HADOOP_YARN_HOME,HADOOP_HOME,HADOOP_MAPRED_HOME,PATH,LANG,TZ,SPARK_LOCAL_IP,"
                 "SPARK_LOCAL_HOSTNAME,ELMR_NODE_DIR,ELMR_CLUSTER_ID,ELMR_INSTANCE_ID,ELMR_INSTANCE_ROLE,"
                 "ELMR_INSTANCE_TYPE,AWS_CONTAINER_CREDENTIALS_FULL_URI,AWS_CONTAINER_AUTHORIZATION_TOKEN,"
                 "AWS_ENDPOINT_URL,AWS_ENDPOINT_URL_S3,AWS_ENDPOINT_URL_EMR,AWS_REGION,AWS_DEFAULT_REGION")
# Every state a NodeManager can be in, as the ResourceManager's REST API names them.
NODE_STATES = "NEW,RUNNING,UNHEALTHY,DECOMMISSIONING,DECOMMISSIONED,LOST,REBOOTED,SHUTDOWN"
# What the master reports of them (managed scaling and the cluster metrics read them).
METRICS = ("activeNodes", "decommissioningNodes", "decommissionedNodes", "lostNodes", "unhealthyNodes",
           "appsSubmitted", "appsPending", "appsRunning", "appsCompleted", "appsFailed", "appsKilled",
           "containersAllocated", "containersPending", "containersReserved",
           "availableMB", "allocatedMB", "reservedMB", "pendingMB", "totalMB",
           "availableVirtualCores", "allocatedVirtualCores", "pendingVirtualCores", "totalVirtualCores")


def nodemanager_memory_mib(instance_memory_mib: int) -> int:
    """What a NodeManager offers containers: three quarters of the instance's memory,
    as EMR leaves the rest to the OS and daemons."""
    return max(1024, instance_memory_mib * 3 // 4 // 128 * 128)


class YARN(Application):
    name = "Hadoop"
    classifications = frozenset({"yarn-site", "capacity-scheduler", "yarn-env"})

    def ports(self, role: str) -> dict:
        if role == MASTER:
            return {"resourcemanager": 8032, "resourcemanager_scheduler": 8030,
                    "resourcemanager_tracker": 8025, "resourcemanager_admin": 8033,
                    "resourcemanager_web": 8088}
        return {"nodemanager": 8041, "nodemanager_localizer": 8040, "nodemanager_web": 8042}

    def site_properties(self, node: NodeContext) -> dict:
        master = node.master_address
        memory = nodemanager_memory_mib(node.spec.memory_mib)
        yarn = {
            "yarn.resourcemanager.hostname": master,
            "yarn.resourcemanager.address": f"{master}:{node.master_port('resourcemanager')}",
            "yarn.resourcemanager.scheduler.address": f"{master}:{node.master_port('resourcemanager_scheduler')}",
            "yarn.resourcemanager.resource-tracker.address": f"{master}:{node.master_port('resourcemanager_tracker')}",
            "yarn.resourcemanager.admin.address": f"{master}:{node.master_port('resourcemanager_admin')}",
            "yarn.resourcemanager.webapp.address": f"{master}:{node.master_port('resourcemanager_web')}",
            "yarn.resourcemanager.connect.retry-interval.ms": "250",
            "yarn.resourcemanager.nodes.exclude-path": str(node.hadoop_conf_dir / EXCLUDE_FILE),
            "yarn.resourcemanager.decommissioning-nodes-watcher.poll-interval-secs": "2",
            "yarn.scheduler.minimum-allocation-mb": "32",
            "yarn.scheduler.maximum-allocation-mb": str(memory),
            "yarn.nodemanager.resource.memory-mb": str(memory),
            "yarn.nodemanager.resource.cpu-vcores": str(node.spec.vcpus),
            "yarn.nodemanager.vmem-check-enabled": "false",
            "yarn.nodemanager.local-dirs": str(node.path("yarn", "local")),
            "yarn.nodemanager.log-dirs": str(node.path("yarn", "containers")),
            "yarn.nodemanager.env-whitelist": CONTAINER_ENV,
            "yarn.nodemanager.delete.debug-delay-sec": "0",
            # A laptop's disk is often fuller than a server's: YARN's 90 % would mark
            # every NodeManager unhealthy and run nothing.
            "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage": "100",
            "yarn.timeline-service.enabled": "false",
            "yarn.webapp.ui2.enable": "false",
        }
        if node.role != MASTER or node.runs_tasks:
            yarn.update({
                "yarn.nodemanager.hostname": node.address,
                "yarn.nodemanager.address": f"{node.address}:{node.port('nodemanager')}",
                "yarn.nodemanager.localizer.address": f"{node.address}:{node.port('nodemanager_localizer')}",
                "yarn.nodemanager.webapp.address": f"{node.address}:{node.port('nodemanager_web')}",
            })
        scheduler = {
            "yarn.scheduler.capacity.root.queues": "default",
            "yarn.scheduler.capacity.root.default.capacity": "100",
            "yarn.scheduler.capacity.root.default.maximum-capacity": "100",
            "yarn.scheduler.capacity.maximum-am-resource-percent": "0.5",
        }
        return {"yarn-site": yarn, "capacity-scheduler": scheduler}

    def configure(self, node: NodeContext) -> None:
        exclude = node.hadoop_conf_dir / EXCLUDE_FILE
        if not exclude.exists():
            exclude.write_text("")

    def daemons(self, node: NodeContext) -> list:
        conf = node.hadoop_conf_dir
        nodemanager = DaemonPlan(
            "nodemanager", hadoop_home.java_command(conf, node.node_dir, NODEMANAGER_CLASS, "192m", "nodemanager"),
            node.url("nodemanager_web", "/ws/v1/node/info"))
        if node.role != MASTER:
            return [nodemanager]
        resourcemanager = DaemonPlan(
            "resourcemanager",
            hadoop_home.java_command(conf, node.node_dir, RESOURCEMANAGER_CLASS, "256m", "resourcemanager"),
            node.url("resourcemanager_web", "/ws/v1/cluster/info"))
        return [resourcemanager, nodemanager] if node.runs_tasks else [resourcemanager]

    def endpoints(self, master_address: str, master_ports: dict) -> dict:
        return {
            "ResourceManagerWebUiUrl": f"http://{master_address}:{master_ports['resourcemanager_web']}",
            "ResourceManagerAddress": f"{master_address}:{master_ports['resourcemanager']}",
        }

    def retired(self, node: NodeContext, daemon: str) -> bool:
        return (daemon == "nodemanager"
                and node_states(node.master_url("resourcemanager_web")).get(node.address) == "DECOMMISSIONED")

    def report(self, node: NodeContext) -> dict:
        if node.role != MASTER:
            return {}
        answer = webhdfs.get_json(node.url("resourcemanager_web", "/ws/v1/cluster/metrics"))
        if not answer or "clusterMetrics" not in answer:
            return {}
        metrics = answer["clusterMetrics"]
        return {"yarn_active_nodemanagers": metrics.get("activeNodes", 0),
                "yarn_metrics": {name: metrics.get(name, 0) for name in METRICS}}


def node_reports(resourcemanager_url: str) -> dict:
    """{NodeManager address: its report (state, numContainers…)} as the ResourceManager
    sees them, in every state."""
    answer = webhdfs.get_json(f"{resourcemanager_url}/ws/v1/cluster/nodes?states={NODE_STATES}") or {}
    return {node["nodeHostName"]: node for node in ((answer.get("nodes") or {}).get("node") or [])}


def node_states(resourcemanager_url: str) -> dict:
    """{NodeManager address: state} as the ResourceManager sees them."""
    return {address: node["state"] for address, node in node_reports(resourcemanager_url).items()}


def decommissioned(report: dict | None) -> bool:
    """A leaving NodeManager is done: gone from YARN, DECOMMISSIONED (or lost, shut
    down), or DECOMMISSIONING with no container left. YARN itself keeps such a node
    DECOMMISSIONING until every application that ran there has ended; its containers
    gone (Spark's executors hand their blocks over and exit), the node holds nothing a
    running job needs."""
    if report is None:
        return True
    return report["state"] in ("DECOMMISSIONED", "LOST", "SHUTDOWN") or (
        report["state"] == "DECOMMISSIONING" and not report.get("numContainers"))


def running_containers(nodemanager_url: str) -> int | None:
    """How many containers a NodeManager runs (None while it does not answer)."""
    answer = webhdfs.get_json(f"{nodemanager_url}/ws/v1/node/containers")
    if answer is None:
        return None
    return len(((answer.get("containers") or {}).get("container")) or [])


def kill_application(resourcemanager_url: str, application_id: str) -> str:
    """Ask the ResourceManager to kill an application (its REST API, as `yarn
    application -kill` does over RPC); says what the ResourceManager answered."""
    request = urllib.request.Request(
        f"{resourcemanager_url}/ws/v1/cluster/apps/{application_id}/state", method="PUT",
        data=json.dumps({"state": "KILLED"}).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer).get("state", "answered")
    except urllib.error.HTTPError as refused:
        return f"refused ({refused.code})"
    except (OSError, ValueError, urllib.error.URLError) as error:
        return f"unreachable ({error})"
