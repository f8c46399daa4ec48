"""YARN as EMR runs it: the ResourceManager on the master, a NodeManager on every core
and task node offering the instance type's vCPUs and most of its memory, EMR's ports,
one capacity-scheduler queue. Application masters run on core nodes only, as on EMR 5.19
to 6.x: core NodeManagers declare YARN's node label CORE (non-exclusive, so executors
use them too) and the ResourceManager gives every application master that label; a
task node, often spot, can be taken without taking a job's master with it. The master
reports YARN's own metrics (nodes, apps, containers, memory) in its heartbeats for the
server to read."""

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
# The node label core nodes declare (distributed configuration: each NodeManager's own
# yarn-site), which the master adds to the cluster's labels once its ResourceManager
# serves (`prepare_cluster`) and keeps in its node directory across restarts.
CORE_LABEL = "CORE"
# What the master reports of them (managed scaling and the cluster metrics read them).
METRICS = ("activeNodes", "decommissioningNodes", "decommissionedNodes", "lostNodes", "unhealthyNodes",
           "appsSubmitted", "appsPending", "appsRunning", "appsCompleted", "appsFailed", "appsKilled",
           "containersAllocated", "containersPending", "containersReserved",
           "availableMB", "allocatedMB", "reservedMB", "pendingMB", "totalMB",
           "availableVirtualCores", "allocatedVirtualCores", "pendingVirtualCores", "totalVirtualCores")


def nodemanager_memory_mib(instance_memory_mib: int) -> int:
    """What a NodeManager offers containers (yarn.nodemanager.resource.memory-mb) as
    EMR's table per instance type has it (Release Guide, "Task configuration"): the
    instance's memory less a quarter of it, that quarter at least 2 GiB and at most
    8 GiB, left to the OS and daemons (m5.large 6144, m5.xlarge 12288, m5.2xlarge
    24576, m5.4xlarge 57344, c4.xlarge 5632, r4.xlarge 23424); never under 1 GiB."""
    left_out = min(max(instance_memory_mib // 4, 2048), 8192)
    return max(1024, instance_memory_mib - left_out)


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
            "yarn.node-labels.enabled": "true",
            "yarn.node-labels.configuration-type": "distributed",
            "yarn.node-labels.fs-store.root-dir": f"file://{node.path('yarn', 'node-labels')}",
            "yarn.resourcemanager.node-labels.am.default-node-label-expression": CORE_LABEL,
        }
        if node.runs_tasks:
            yarn.update({
                "yarn.nodemanager.node-labels.provider": "config",
                "yarn.nodemanager.node-labels.provider.configured-node-partition": CORE_LABEL,
                # A NodeManager that registered before the master added the label to the
                # cluster's has it refused; it sends it again this often (YARN's: 2 min).
                "yarn.nodemanager.node-labels.resync-interval-ms": "1000",
            })
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
            # The queue reaches the core nodes' partition whole: their application
            # masters, and (the label being non-exclusive) everything else when idle.
            "yarn.scheduler.capacity.root.accessible-node-labels": CORE_LABEL,
            f"yarn.scheduler.capacity.root.accessible-node-labels.{CORE_LABEL}.capacity": "100",
            "yarn.scheduler.capacity.root.default.accessible-node-labels": CORE_LABEL,
            f"yarn.scheduler.capacity.root.default.accessible-node-labels.{CORE_LABEL}.capacity": "100",
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

    def prepare_cluster(self, node: NodeContext) -> bool:
        if node.role != MASTER:
            return True
        return add_cluster_label(node.url("resourcemanager_web"), CORE_LABEL)

    def report(self, node: NodeContext) -> dict:
        if node.role != MASTER:
            return {}
        answer = webhdfs.get_json(node.url("resourcemanager_web", "/ws/v1/cluster/metrics"))
        if not answer or "clusterMetrics" not in answer:
            return {}
        metrics = across_partitions(answer["clusterMetrics"])
        return {"yarn_active_nodemanagers": metrics.get("activeNodes", 0),
                "yarn_metrics": {name: metrics.get(name, 0) for name in METRICS}}


def across_partitions(metrics: dict) -> dict:
    """YARN's cluster metrics with memory, vCores and allocated containers counted on
    every node. The ResourceManager's own figures (its root queue's) count the default
    partition only, which leaves out the core nodes (labelled CORE); it gives the
    totals over every partition beside them (Hadoop 3.3 and later). Pending figures
    stay the root queue's: executors ask for the default partition, and an application
    waiting for its master shows in appsPending."""
    if not metrics.get("crossPartitionMetricsAvailable"):
        return metrics
    total = metrics.get("totalClusterResourcesAcrossPartition") or {}
    used = metrics.get("totalUsedResourcesAcrossPartition") or {}
    reserved = metrics.get("totalReservedResourcesAcrossPartition") or {}
    figures = {**metrics, "containersAllocated": metrics.get(
        "totalAllocatedContainersAcrossPartition", metrics.get("containersAllocated", 0))}
    for resource, name in (("memory", "MB"), ("vCores", "VirtualCores")):
        held = used.get(resource, 0), reserved.get(resource, 0)
        figures.update({f"total{name}": total.get(resource, 0), f"allocated{name}": held[0],
                        f"reserved{name}": held[1], f"available{name}": max(0, total.get(resource, 0) - sum(held))})
    return figures


def cluster_labels(resourcemanager_url: str) -> list[str] | None:
    """The node labels the ResourceManager knows (None while it does not answer)."""
    answer = webhdfs.get_json(f"{resourcemanager_url}/ws/v1/cluster/get-node-labels")
    if answer is None:
        return None
    labels = answer.get("nodeLabelInfo") or []
    return [label["name"] for label in (labels if isinstance(labels, list) else [labels])]


def add_cluster_label(resourcemanager_url: str, label: str) -> bool:
    """Add a non-exclusive node label to the cluster's (`yarn rmadmin
    -addToClusterNodeLabels "CORE(exclusive=false)"`, over REST); True once it is there."""
    known = cluster_labels(resourcemanager_url)
    if known is None or label in known:
        return known is not None
    request = urllib.request.Request(
        f"{resourcemanager_url}/ws/v1/cluster/add-node-labels", method="POST",
        data=json.dumps({"nodeLabelInfo": [{"name": label, "exclusivity": False}]}).encode(),
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except (OSError, urllib.error.URLError):
        return False
    return label in (cluster_labels(resourcemanager_url) or [])


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
