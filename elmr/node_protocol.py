"""The contract between the server and a node's agent: the node spec file the
provider writes before it starts the agent, and the heartbeat exchange.

Launch
------
A node provider creates the node directory, writes `NODE_SPEC_FILE` in it (JSON, mode
0600, the fields of `NodeSpec`) and starts `python -m elmr.agent --node-dir DIR` as
the leader of a new process group. Everything the agent starts (Spark daemons, later
bootstrap actions and steps) stays in that process group, so the provider can stop a
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
- the leaving node's own agent gets `HeartbeatReply.decommission: true`: it takes no
  new work and decommissions its own daemons (a Spark standalone worker: Spark's own
  decommissioning, see elmr/apps/spark_decommission.py), reporting the phase
  DECOMMISSIONING, then DECOMMISSIONED once they are done;
- the master's agent gets `HeartbeatReply.decommission_nodes`, [{"instance_id",
  "address"}] (instance_id: the leaving node's NodeSpec.instance_id, ci-…), and lists
  in `Heartbeat.decommissioned_nodes` the ids whose decommissioning is finished on
  the master's side (a master with nothing to do for a node lists it at once).
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
# URI schemes that name the object store, as EMR accepts them.
OBJECT_STORE_SCHEMES = ("s3", "s3a", "s3n")

# Phases a node's agent reports, in the order they happen.
PHASE_BOOTSTRAPPING = "BOOTSTRAPPING"  # registered; bootstrap actions, config files
PHASE_STARTING_DAEMONS = "STARTING_DAEMONS"  # Spark daemons launched, not yet up
PHASE_RUNNING = "RUNNING"  # every daemon of this node is up
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
    vcpus: int  # what the Spark worker advertises (--cores)
    memory_mib: int  # what the Spark worker advertises (--memory NNNm)
    address: str  # the address the node's daemons bind to (127.0.0.1 on `local`)
    spark_master_url: str  # spark://ADDR:PORT of the cluster's master node
    ports: dict = field(default_factory=dict)
    # MASTER: {"spark_master": P, "spark_master_ui": P}; CORE/TASK: {"spark_worker": P,
    # "spark_worker_ui": P}. Chosen by the provider so workers know the master's
    # address before the master is up, and all nodes can start at once.
    heartbeat_interval_s: float = 1.0
    spark_conf: dict = field(default_factory=dict)  # spark-defaults properties elmr sets
    # EMR Configurations (classifications) the agent writes to the real files.
    configurations: list = field(default_factory=list)
    # [{"name", "path", "args"}], run in order before Spark starts.
    bootstrap_actions: list = field(default_factory=list)
    # Where Spark's event logs go (a directory shared by the cluster's master).
    event_log_dir: str = ""
    # The embedded object store's bucket directories (one per bucket), which Spark
    # reaches as s3://BUCKET/… and s3a://BUCKET/…; empty when there is none.
    object_store_dir: str = ""
    # MASTER only: the cluster has no core or task nodes, so this node runs the
    # cluster's tasks too (a Spark worker on ports spark_worker/spark_worker_ui), as
    # EMR runs a single-node cluster's tasks on its master.
    runs_tasks: bool = False

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
    name: str  # spark-master | spark-worker
    pid: int | None
    alive: bool
    ui_url: str | None = None  # http://ADDR:PORT of its web UI
    exit_code: int | None = None


@dataclass
class Heartbeat:
    instance_id: str
    agent_token: str
    phase: str  # one of the PHASE_* constants
    message: str = ""  # why, for PHASE_FAILED
    agent_pid: int = 0
    daemons: list = field(default_factory=list)  # [DaemonStatus as dict]
    # Master node only: what its Spark master reports (from its /json/ endpoint).
    spark_alive_workers: int | None = None
    spark_master_ui_url: str | None = None
    failure_code: str = ""  # BOOTSTRAP_FAILURE when a bootstrap action failed
    # Master node only: every step it was given, [StepReport as dict].
    steps: list = field(default_factory=list)
    # Master node only: every notebook execution it was given, [NotebookReport as dict].
    notebooks: list = field(default_factory=list)
    # Master node only: applications running on the cluster (Spark's active
    # applications), which keep a cluster from being idle.
    running_applications: int | None = None
    # Master node only: ids of leaving nodes whose decommissioning is finished on the
    # master's side (see Decommissioning above).
    decommissioned_nodes: list = field(default_factory=list)

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
    # This node is leaving: stop taking work and decommission its own daemons.
    decommission: bool = False
    # Master node only: the leaving nodes, [{"instance_id", "address"}].
    decommission_nodes: list = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()
