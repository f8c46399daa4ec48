"""The embedded node provider: every node is a process group on this host, with its
own directory under DATA_DIR/nodes and its own loopback address (127.x.y.z: Linux
routes all of 127.0.0.0/8 to the loopback device without setup), so every daemon
listens on the port EMR documents for it and two clusters never share an address.
An address is taken only when every port the node needs is free on it, and never
one another node of this server holds, so servers and other programs on the host
using loopback addresses do not collide with it.

The agent is started as the leader of a new session (`start_new_session=True`), so
the node's processes survive the server being killed and a restarted server finds
them again from the checkpoint (pid). A node's processes are its session and YARN's
containers, which leave it (node_members): a node taken by force takes them too, as
EC2 takes a whole machine.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
from functools import cache
from pathlib import Path

from elmr.node_protocol import MOUNT_NAMESPACE_VARIABLE, NODE_DIR_VARIABLE, SERVER_ONLY_VARIABLES, NodeSpec
from elmr.providers.base import NodeProvider, NodeRequest, NodeStatus

# What one node costs the host (agent, two to four daemon JVMs of 192-256 MiB heap,
# a task container or two): the capacity check divides available memory by it.
MEMORY_PER_NODE_MIB = 1536
# Node addresses: 127.A.B.C with A from this range (127.0.x.x is left to the host's
# own services), C never 0 or 255.
ADDRESS_FIRST_OCTETS = range(16, 255)
ADDRESS_TRIES = 500
# Ports Hadoop binds on every address (the shuffle, DataNode transfer) are picked from
# here, under the kernel's ephemeral range: a port bind(0) hands out is one the kernel
# may give the next outgoing connection, which then holds it when the daemon binds.
WILDCARD_PORT_FLOOR = 20000


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def ephemeral_port_floor() -> int:
    """The lowest port the kernel picks for bind(0) and outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_wildcard_port(taken: set[int]) -> int:
    """A port free on every address, below the ephemeral range and not in `taken`."""
    ceiling = ephemeral_port_floor()
    if ceiling > WILDCARD_PORT_FLOOR:
        for _ in range(ADDRESS_TRIES):
            port = random.randrange(WILDCARD_PORT_FLOOR, ceiling)
            if port not in taken and port_is_free("", port):
                return port
    return free_port("")


def port_is_free(address: str, port: int) -> bool:
    """Nothing listens on address:port, nor on the wildcard address at that port."""
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def _random_address() -> str:
    return (f"127.{random.choice(ADDRESS_FIRST_OCTETS)}.{random.randrange(256)}."
            f"{random.randrange(1, 255)}")


def _available_memory_mib() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


def _agent_command(node_dir: Path) -> list[str]:
    return [sys.executable, "-m", "elmr.agent", "--node-dir", str(node_dir)]


@cache
def mount_namespace_prefix() -> tuple:
    """How to start an agent in a mount namespace of its own, where the OS allows it
    (so its node sees EMR's paths, agent/emr_paths.py): `unshare --mount` for root,
    with a user namespace for other users; () where neither works."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for prefix in ((unshare, "--mount", "--propagation", "private"),
                   (unshare, "--user", "--map-root-user", "--mount", "--propagation", "private")):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return ()


def _agent_env(node_dir: Path) -> dict:
    """The server's environment without its root key (nodes get the cluster's own)."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ONLY_VARIABLES}
    env[NODE_DIR_VARIABLE] = str(node_dir.resolve())
    if mount_namespace_prefix():
        env[MOUNT_NAMESPACE_VARIABLE] = "1"
    return env


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")


def _stat_fields(pid: str) -> list[str]:
    """/proc/PID/stat after the command name: [state, ppid, pgrp, session, …]."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return raw[raw.rindex(")") + 2:].split()


# Which node a process was started for, by (pid, start time): a process's
# environment is fixed when it starts, so its environ is read once. Polls of
# different nodes share it from the actuator's threads.
_node_dir_of_process: dict[tuple[str, str], str | None] = {}
_node_dir_lock = threading.Lock()


def _node_dir_in_environ(pid: str) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = NODE_DIR_VARIABLE.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix):].decode(errors="replace")
    return None


def node_members(session_id: int, node_dir: str | None = None) -> list[int]:
    """Live (non-zombie) processes of a node. A node is one session: its agent,
    daemons, and steps (each step in a process group of its own, so it can be
    cancelled alone); and, given its directory, YARN's containers, which the
    NodeManager starts in sessions of their own (setsid) but which carry the node's
    ELMR_NODE_DIR (YARN's env whitelist passes it): a NodeManager killed before it
    stopped them leaves them running, and the node is not gone while they are.
    Orphaned node processes are reparented to PID 1, which does not always reap
    them, so zombies are skipped rather than counted alive."""
    wanted = str(Path(node_dir).resolve()) if node_dir is not None else None  # as the agent has it
    members, seen = [], set()
    with _node_dir_lock:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            fields = _stat_fields(entry.name)
            if len(fields) < 20 or fields[0] in ("Z", "X"):
                continue
            if fields[3] == str(session_id):
                members.append(int(entry.name))
            elif wanted is not None:
                key = (entry.name, fields[19])  # field 22 of stat: the process's start time
                seen.add(key)
                if key not in _node_dir_of_process:
                    _node_dir_of_process[key] = _node_dir_in_environ(entry.name)
                if _node_dir_of_process[key] == wanted:
                    members.append(int(entry.name))
        if wanted is not None:
            for ended in _node_dir_of_process.keys() - seen:
                del _node_dir_of_process[ended]
    return members


def session_members(session_id: int) -> list[int]:
    """The processes of a node's session alone (what the agent started directly)."""
    return node_members(session_id)


def node_alive(session_id: int, node_dir: str | None = None) -> bool:
    """Is anything of the node still running?"""
    return bool(node_members(session_id, node_dir))


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _find_agent_pid(node_dir: Path) -> int | None:
    """A live agent already started for this node dir (adopt it, never start two)."""
    wanted = _agent_command(node_dir)[1:]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _cmdline(int(entry.name))[1:len(wanted) + 1] == wanted:
            return int(entry.name)
    return None


class LocalProvider(NodeProvider):
    name = "local"

    def __init__(self, data_dir: Path, max_nodes: int | None = None, held_addresses=()):
        """`held_addresses`: addresses this server's nodes already hold (a restarted
        server's, from the store); allocate never hands them out again."""
        self.nodes_dir = Path(data_dir) / "nodes"
        self.max_nodes = max_nodes
        self._children: dict[int, subprocess.Popen] = {}  # to reap what we started
        self._exit_codes: dict[int, int] = {}  # how the agents we reaped ended
        self._held = set(held_addresses)
        self._wildcard_ports: set[int] = set()  # handed out by this server

    def allocate(self, node: NodeRequest) -> dict:
        node_dir = self.nodes_dir / node.cluster_id / node.instance_id
        (node_dir / "logs").mkdir(parents=True, exist_ok=True)
        address = self._free_address([port for port in node.ports.values() if port])
        self._held.add(address)
        ports = {name: port or self._wildcard_port() for name, port in node.ports.items()}
        return {"node_dir": str(node_dir), "address": address, "ports": ports}

    def _wildcard_port(self) -> int:
        port = free_wildcard_port(self._wildcard_ports)
        self._wildcard_ports.add(port)
        return port

    def _free_address(self, ports: list[int]) -> str:
        for _ in range(ADDRESS_TRIES):
            address = _random_address()
            if address not in self._held and all(port_is_free(address, port) for port in ports):
                return address
        raise RuntimeError(f"no loopback address with ports {ports} free after {ADDRESS_TRIES} tries")

    def start(self, spec: NodeSpec, checkpoint: dict) -> dict:
        node_dir = Path(checkpoint["node_dir"])
        existing = _find_agent_pid(node_dir)
        if existing is not None:
            return {"pid": existing, "pgid": os.getpgid(existing)}
        spec.write(node_dir)
        with open(node_dir / "logs" / "agent.out", "ab") as output:
            process = subprocess.Popen(
                [*mount_namespace_prefix(), *_agent_command(node_dir)], cwd=node_dir, env=_agent_env(node_dir),
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self._children[process.pid] = process
        self._exit_codes.pop(process.pid, None)  # a reused pid: forget its old agent
        return {"pid": process.pid, "pgid": process.pid}

    def stop(self, checkpoint: dict, force: bool = False) -> None:
        pgid = checkpoint.get("pgid")
        if pgid is None:
            return
        if force:
            _kill_all(node_members(pgid, checkpoint.get("node_dir")))
        else:  # the agent stops its steps and daemons in order
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def poll(self, checkpoint: dict) -> NodeStatus:
        pgid = checkpoint.get("pgid")
        if pgid is None:
            return NodeStatus(NodeStatus.GONE)
        exit_code = self._reap(checkpoint.get("pid"))
        members = node_members(pgid, checkpoint.get("node_dir"))
        if pgid in members:  # the agent leads the node's session
            return NodeStatus(NodeStatus.RUNNING)
        return NodeStatus(NodeStatus.AGENT_GONE if members else NodeStatus.GONE, exit_code)

    def _reap(self, pid: int | None) -> int | None:
        """An exited agent we started stays a zombie in its group until reaped; its
        exit status is known only to us, its parent."""
        child = self._children.get(pid)
        if child is not None and child.poll() is not None:
            del self._children[pid]
            self._exit_codes[pid] = child.returncode
        return self._exit_codes.get(pid)

    def room_for(self, live_nodes: int) -> int | None:
        if self.max_nodes is not None:
            return max(0, self.max_nodes - live_nodes)
        # Available memory already excludes the live nodes' processes.
        return _available_memory_mib() // MEMORY_PER_NODE_MIB
