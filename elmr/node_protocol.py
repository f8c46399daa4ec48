"""The contract between the server and a node's agent: the node spec file the
provider writes before it starts the agent, and the heartbeat exchange.

Launch
------
A node provider creates the node directory, writes `NODE_SPEC_FILE` in it (JSON, mode
0600, the fields of `NodeSpec`) and starts `python -m elmr.agent --node-dir DIR` as
the leader of a new process group. Everything the agent starts (Hadoop's and Spark's
daemons, bootstrap actions and steps) stays in that process group, so the provider can stop a
node with one `killpg`.

Heartbeat
---------
The agent POSTs JSON to `<server_url>` + `HEARTBEAT_PATH` at once when it starts,
whenever its phase changes and every `heartbeat_interval_s` otherwise. The body is
a `Heartbeat`; the answer is a `HeartbeatReply`. The agent keeps running and keeps
retrying while the server is unreachable (a restarted server adopts its nodes).
A reply with `shutdown: true` makes the agent stop its daemons and exit 0.

Steps
-----
The master node's agent runs the cluster's steps: each reply lists the steps the
server has set RUNNING (`run_steps`); the agent starts each once (its step directory
is the record that it did, so a repeated reply or an agent restart never runs a step
twice), and reports every step's `StepReport` in later heartbeats until the reply no
longer lists it. Logs are shipped with POSTs to `LOGS_PATH`.

Decommissioning
---------------
When a core or task node leaves its cluster (its instance group shrinks), the server
decommissions it gracefully before stopping it. Until it stops the node:
- the master's agent gets `HeartbeatReply.decommission_nodes`, [{"instance_id",
  "address"}] (instance_id: the leaving node's NodeSpec.instance_id, ci-…): it
  decommissions their DataNode and NodeManager with HDFS's and YARN's own graceful
  decommissioning and lists in `Heartbeat.decommissioned_nodes` the ids whose
  decommissioning is finished (blocks re-replicated, containers drained) until the
  reply stops listing them;
- the leaving node's own agent gets `HeartbeatReply.decommission: true`: it starts no
  new work, reports DECOMMISSIONING, and DECOMMISSIONED once its own daemons are done
  (a NodeManager YARN decommissioned shuts itself down; the DataNode serves its
  blocks until the master's side is done).
The server stops the node when both sides have reported it done, or when the
group's DecommissionTimeout runs out, whichever comes first.

Objects
-------
Bootstrap action and script-runner scripts may be s3:// URIs: the agent GETs them
from `OBJECT_PATH` with its node's token (it holds no S3 credentials).

Notebook executions
-------------------
Like steps, on the master: each reply lists the executions to run (`run_notebooks`)
and those to stop (`stop_notebooks`); the agent runs each once (its directory is the
record), reports a `NotebookReport` per execution in later heartbeats, and before it
reports one ended, POSTs the executed notebook (raw bytes, not gzipped) to
`LOGS_PATH` with path `NOTEBOOK_OUTPUT_PREFIX<execution-id>/<name>.ipynb` (and
`.html`), which the server writes to the execution's output location.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

NODE_SPEC_FILE = "node.json"
HEARTBEAT_PATH = "/elmr/agent/v1/heartbeat"
# POST a log file (gzipped body) for the cluster's LogUri: query instance_id, token
# and path (relative: steps/<step-id>/stderr.gz or node/<i-…>/agent.log.gz).
LOGS_PATH = "/elmr/agent/v1/logs"
# GET an object's bytes: query instance_id, token and uri (s3://bucket/key).
OBJECT_PATH = "/elmr/agent/v1/object"
# Uploads to LOGS_PATH under this path are executed notebooks, not logs.
NOTEBOOK_OUTPUT_PREFIX = "notebook-executions/"
# GET the cluster's credentials (ECS's container-credentials shape) with the node's
# credentials token as the Authorization header: what SDKs on the node do when
# AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN are set.
CREDENTIALS_PATH = "/elmr/agent/v1/credentials"
# URI schemes that name the object store, as EMR accepts them.
OBJECT_STORE_SCHEMES = ("s3", "s3a", "s3n")

# Variables of the server's environment that never reach a node (its root key, the
# user's own AWS identity): the provider starts agents without them, and the agent
# gives its processes the cluster's credentials endpoint instead.
SERVER_ONLY_VARIABLES = ("ELMR_ACCESS_KEY_ID", "ELMR_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
                         "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE",
                         "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE")

# Set to "1" in the agent's environment when the provider started it in a mount
# namespace of its own, where it may overlay EMR's paths (agent/emr_paths.py).
MOUNT_NAMESPACE_VARIABLE = "ELMR_MOUNT_NAMESPACE"

# The node's directory, in the environment of every process the node starts (YARN's
# containers too, through its env whitelist): how a provider finds them all.
NODE_DIR_VARIABLE = "ELMR_NODE_DIR"

# Phases a node's agent reports, in the order they happen.
PHASE_BOOTSTRAPPING = "BOOTSTRAPPING"  # registered; bootstrap actions, config files
PHASE_STARTING_DAEMONS = "STARTING_DAEMONS"  # daemons launched, not all serving yet
PHASE_RUNNING = "RUNNING"  # every daemon of this node serves (the master: and the
# cluster's HDFS directories exist)
PHASE_FAILED = "FAILED"  # a bootstrap action or daemon failed; `message` says why
PHASE_STOPPING = "STOPPING"  # asked to shut down, stopping daemons
PHASE_DECOMMISSIONING = "DECOMMISSIONING"  # leaving: its daemons hand over their work
PHASE_DECOMMISSIONED = "DECOMMISSIONED"  # leaving: its daemons have nothing left to hand over


@dataclass
class NodeSpec:
    """What a node is; written by the provider, read once by the agent."""

    server_url: str  # e.g. http://127.0.0.1:8900
    cluster_id: str  # j-…
    instance_id: str  # ci-…  (EMR's Instance.Id)
    ec2_instance_id: str  # i-…
    agent_token: str  # secret the agent sends with every heartbeat
    role: str  # MASTER | CORE | TASK
    instance_type: str  # m5.xlarge
    vcpus: int  # what the node's NodeManager offers
    memory_mib: int  # the instance type's memory (YARN offers most of it)
    address: str  # the node's own address (a 127.x.y.z of its own on `local`)
    # {port name: port} of this node's daemons on `address`, as the applications
    # declare them (apps/registry.py), chosen by the provider before anything starts.
    ports: dict = field(default_factory=dict)
    master_address: str = ""  # the master node's address: NameNode, ResourceManager…
    master_ports: dict = field(default_factory=dict)  # the master's `ports`
    core_nodes: int = 0  # the cluster's requested core nodes (HDFS replication)
    task_nodes: int = 0
    region: str = "us-east-1"
    heartbeat_interval_s: float = 1.0
    spark_conf: dict = field(default_factory=dict)  # spark-defaults properties elmr sets
    # EMR Configurations (classifications) the agent writes to the real files.
    configurations: list = field(default_factory=list)
    # [{"name", "path", "args"}], run in order before the daemons start.
    bootstrap_actions: list = field(default_factory=list)
    # The cluster's credentials for code on the node (as an instance profile's):
    # SDKs GET them from this URL with this token in the Authorization header.
    credentials_url: str = ""
    credentials_token: str = ""
    # EMR's /mnt/var/lib/info/job-flow.json for this cluster (the agent writes it).
    job_flow: dict = field(default_factory=dict)
    instance_group_id: str = ""  # ig-…
    applications: list = field(default_factory=list)  # EMR names of what the cluster runs (Hive…)
    # MASTER only: the cluster has no core or task nodes, so this node runs a core
    # node's DataNode and NodeManager too, as EMR runs a single-node cluster.
    runs_tasks: bool = False
    # The instance type Spark's executors are sized for, on every node: the smallest
    # of the cluster's core and task types (the master's own for a cluster of one
    # node). 0: this node's own (vcpus, memory_mib).
    worker_vcpus: int = 0
    worker_memory_mib: int = 0

    def write(self, node_dir: Path) -> Path:
        path = Path(node_dir) / NODE_SPEC_FILE
        path.write_text(json.dumps(asdict(self), indent=2))
        path.chmod(0o600)
        return path

    @classmethod
    def read(cls, node_dir: Path) -> "NodeSpec":
        return cls(**json.loads((Path(node_dir) / NODE_SPEC_FILE).read_text()))


@dataclass
class DaemonStatus:
    name: str  # namenode, datanode, resourcemanager, nodemanager…
    pid: int | None
    alive: bool
    ui_url: str | None = None  # http://ADDR:PORT of its web UI
    exit_code: int | None = None


# The figures of `Heartbeat.cluster_report` the server waits for before a cluster runs
# (every core node's DataNode and every core and task node's NodeManager registered).
CLUSTER_COUNTS = ("hdfs_live_datanodes", "yarn_active_nodemanagers")


@dataclass
class Heartbeat:
    instance_id: str
    agent_token: str
    phase: str  # one of the PHASE_* constants
    message: str = ""  # why, for PHASE_FAILED
    agent_pid: int = 0
    daemons: list = field(default_factory=list)  # [DaemonStatus as dict]
    # Master node only: what the cluster's daemons report of themselves (live DataNodes,
    # active NodeManagers, YARN's metrics, HDFS's capacity): apps/*.py `report`.
    cluster_report: dict = field(default_factory=dict)
    failure_code: str = ""  # BOOTSTRAP_FAILURE when a bootstrap action failed
    # Master node only: every step it was given, [StepReport as dict].
    steps: list = field(default_factory=list)
    # Master node only: every notebook execution it was given, [NotebookReport as dict].
    notebooks: list = field(default_factory=list)
    # Master node only: applications running on the cluster (YARN's running
    # applications), which keep a cluster from being idle.
    running_applications: int | None = None
    # Master node only: instance ids (ci-…) of nodes the reply listed in
    # `decommission_nodes` whose DataNode and NodeManager have finished
    # decommissioning (see Decommissioning above).
    decommissioned_nodes: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()


# Step states an agent reports; the server maps them to EMR's.
STEP_RUNNING = "RUNNING"
STEP_COMPLETED = "COMPLETED"
STEP_FAILED = "FAILED"
STEP_CANCELLED = "CANCELLED"


@dataclass
class StepReport:
    step_id: str
    state: str  # one of the STEP_* constants
    exit_code: int | None = None
    failure_reason: str = ""  # short, e.g. "exit code 1"
    failure_message: str = ""  # the error the job printed (last error line of stderr)
    log_file: str = ""  # where the step's stderr is kept
    run_seconds: float = 0.0  # how long the step's own process ran (start to exit)


# Notebook execution states an agent reports; the server maps them to EMR's.
NOTEBOOK_RUNNING = "RUNNING"
NOTEBOOK_FINISHED = "FINISHED"
NOTEBOOK_FAILED = "FAILED"
NOTEBOOK_STOPPED = "STOPPED"


@dataclass
class NotebookReport:
    execution_id: str
    state: str  # one of the NOTEBOOK_* constants
    message: str = ""  # why it failed: the error the notebook raised


@dataclass
class HeartbeatReply:
    shutdown: bool = False
    # Master node only. Steps to run (the agent starts those it has not started yet):
    # [{"step_id", "name", "hadoop_jar_step": {Jar, MainClass, Args, Properties}}].
    run_steps: list = field(default_factory=list)
    # Running steps to stop: [{"step_id", "option": SEND_INTERRUPT | TERMINATE_PROCESS}].
    cancel_steps: list = field(default_factory=list)
    # Master node only. Notebook executions to run: [{"execution_id", "notebook_uri"
    # (s3://…), "parameters": {…}, "environment": {…}, "html": bool}], and the ids of
    # those to stop.
    run_notebooks: list = field(default_factory=list)
    stop_notebooks: list = field(default_factory=list)
    # This node is leaving: start no new work (see Decommissioning above).
    decommission: bool = False
    # Master node only: the leaving nodes, [{"instance_id", "address"}].
    decommission_nodes: list[dict] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()
