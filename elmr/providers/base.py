"""The node provider contract: where a node's processes run.

A provider is mechanism only; the control loop owns policy (when to launch, replace,
retry, give up), and only its actuator calls a provider. A method may raise: the
actuator records the failure on the node (attempts, last error, since when) and the
loop retries with backoff until its start timeout. Every method is idempotent for a
given node id, and everything a provider needs to find a node again lives in the
checkpoint dicts it returns, which the caller saves in the store before the next
side effect. A provider keeps no state that a
restarted server would need: asked about a node it only knows from a checkpoint,
`poll` must still answer truly.

Override:
- `allocate(node)`  -> checkpoint with at least "address" and "ports": choose where
  the node will listen (no process yet): an address on which every port of
  `node.ports` is free, and for each port asked as 0 one free on the whole host.
  Called once per node; the checkpoint keeps the choice.
- `start(spec, checkpoint)` -> checkpoint update (e.g. {"pid": …}): start the agent
  with the NodeSpec. If a process for this node already exists (a crash between
  starting it and saving the checkpoint), adopt it instead of starting another.
- `stop(checkpoint, force)` -> None: ask the node's processes to stop (force: kill
  them now). Returns at once; the caller polls.
- `poll(checkpoint)` -> NodeStatus: is the node's agent running, gone with some of
  the node's processes left, or is nothing of the node left (with the agent's exit
  status when the provider saw it)? Like JupyterHub's `Spawner.poll`, the answer
  tells losses apart, where a bool would make every loss read alike.
- `room_for(live_nodes)` -> int | None: how many more nodes can start now, given
  `live_nodes` of elmr's already run here (None: no limit known), so a cluster that
  cannot fit fails fast instead of hanging.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from elmr.node_protocol import NodeSpec


@dataclass(frozen=True)
class NodeStatus:
    """What `poll` found of a node."""

    RUNNING = "RUNNING"  # the node's agent runs
    AGENT_GONE = "AGENT_GONE"  # the agent is gone; some of the node's processes remain
    GONE = "GONE"  # no process of the node is left

    state: str
    # The agent's exit status when the provider saw it end (negative: the signal
    # that killed it); None when unknown (e.g. an agent started by an earlier server).
    exit_code: int | None = None

    def describe(self) -> str:
        """Why the node is lost, for EMR's StateChangeReason message."""
        if self.exit_code is None:
            how = ""
        elif self.exit_code < 0:
            how = f" (killed by signal {-self.exit_code})"
        else:
            how = f" (exit code {self.exit_code})"
        if self.state == self.AGENT_GONE:
            return f"The node's agent exited{how}; its daemons were stopped."
        return f"The node's processes exited unexpectedly{how}."


@dataclass(frozen=True)
class NodeRequest:
    cluster_id: str
    instance_id: str
    role: str  # MASTER | CORE | TASK
    # {port name: port} the node's daemons listen on (EMR's), 0 for "any port free on
    # the whole host" (daemons that bind every address); from apps/registry.py.
    ports: dict = field(default_factory=dict)


class NodeProvider(ABC):
    name: str = "abstract"

    @abstractmethod
    def allocate(self, node: NodeRequest) -> dict: ...

    @abstractmethod
    def start(self, spec: NodeSpec, checkpoint: dict) -> dict: ...

    @abstractmethod
    def stop(self, checkpoint: dict, force: bool = False) -> None: ...

    @abstractmethod
    def poll(self, checkpoint: dict) -> NodeStatus: ...

    def room_for(self, live_nodes: int) -> int | None:
        return None
