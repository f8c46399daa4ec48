"""`elmr server`: wires the boxes together (store, service context, control loop
with the local provider, WSGI app) and serves on one loopback port. The server holds
nothing that is not in the store: kill it at any moment, start it again on the same
data dir, and it carries on with the nodes it finds."""

import fcntl
import json
import logging
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

from cheroot.wsgi import Server as WSGIServer

from elmr import credentials
from elmr.api.app import ElmrApp, raw_path
from elmr.api.s3 import S3Api
from elmr.api.sendfile import SendfileGateway
from elmr.api.socket_reader import Connection
from elmr.control.actuator import Actuator, held_node_addresses
from elmr.control.loop import ControlLoop
from elmr.control.reconciler import Reconciler
from elmr.objectstore.objects import buckets_root
from elmr.objectstore.storage import sweep_staging
from elmr.providers.local import LocalProvider
from elmr.service.cluster_credentials import Keyring
from elmr.service.context import ServiceContext, utc_now
from elmr.store.db import Store, sqlite_url

SERVER_INFO_FILE = "server.json"
LOCK_FILE = "server.lock"
# Requests served at once: heartbeats of every node, a client's parallel multipart
# parts, Spark jobs… An idle keep-alive connection holds no thread.
HTTP_THREADS = 32
# Idle keep-alive connections the server keeps open (an fd each, no thread). Past the
# limit every response closes its connection, so each client request pays a new
# connection: cheroot's default of 10 is less than one boto3 client's pool.
KEEP_ALIVE_CONNECTIONS = 256
log = logging.getLogger("elmr.server")


@dataclass
class ServerOptions:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8900
    database_url: str | None = None
    region: str = "us-east-1"
    max_local_nodes: int | None = None


def _configure_logging(data_dir: Path) -> None:
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / "server.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def serve(options: ServerOptions) -> None:
    data_dir = options.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir_lock = _hold_data_dir(data_dir)
    _configure_logging(data_dir)
    reclaimed = sweep_staging(buckets_root(data_dir))
    if reclaimed:
        log.info("removed %d bytes of uploads a previous server left unfinished", reclaimed)
    root_credentials = credentials.load_or_create(data_dir)
    store = Store.open(options.database_url or sqlite_url(data_dir))
    ctx = ServiceContext(store=store, data_dir=data_dir, region=options.region)
    keyring = Keyring(root_credentials, store)  # the root key and live clusters' keys
    app = ElmrApp(ctx, keyring)
    app.s3 = S3Api(ctx, keyring, raw_path)
    http_server = _http_server(options.host, options.port, app)
    server_url = f"http://{options.host}:{http_server.bind_addr[1]}"

    provider = LocalProvider(data_dir, max_nodes=options.max_local_nodes,
                             held_addresses=held_node_addresses(store))
    actuator = Actuator(store, provider, server_url, region=options.region)
    loop = ControlLoop(Reconciler(store, provider, utc_now), actuator)
    ctx.wake_reconciler = loop.wake
    loop.start()
    _write_server_info(data_dir, server_url, options.region)
    _stop_on_signals(http_server)
    log.info("elmr server listening on %s (data dir %s)", server_url, data_dir)
    print(f"elmr server listening on {server_url} (data dir {data_dir})", flush=True)
    try:
        http_server.serve()
    finally:
        loop.stop()
        store.close()
        data_dir_lock.close()


def _hold_data_dir(data_dir: Path):
    """One server per data dir: two would run two control loops over the same nodes,
    and each one's staging sweep would remove the other's uploads in flight. The lock
    is the kernel's, so it goes with the process however it ends (kill -9 included)."""
    handle = open(data_dir / LOCK_FILE, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        info = read_server_info(data_dir) or {}
        raise SystemExit(f"another elmr server is serving {data_dir} "
                         f"(pid {info.get('pid', '?')}, {info.get('url', '?')}): stop it first") from None
    return handle


def _http_server(host: str, port: int, app) -> WSGIServer:
    """Cheroot, a threaded production WSGI server: it keeps HTTP/1.1 connections alive
    (boto3 and the agents reuse theirs; werkzeug's development server closes every
    one) and streams request bodies to the app as they arrive. Bound here, so port 0
    gets a free port before the server URL is handed to anyone."""
    server = WSGIServer((host, port), app, numthreads=HTTP_THREADS, server_name="elmr")
    server.ConnectionClass = Connection  # socket_reader.py: faster header reading
    server.keep_alive_conn_limit = KEEP_ALIVE_CONNECTIONS
    server.gateway = SendfileGateway  # sendfile.py: GET bodies sent by the kernel
    server.prepare()
    return server


def _write_server_info(data_dir: Path, server_url: str, region: str) -> None:
    info = {"url": server_url, "pid": os.getpid(), "region": region}
    (data_dir / SERVER_INFO_FILE).write_text(json.dumps(info))


def read_server_info(data_dir: Path) -> dict | None:
    path = Path(data_dir) / SERVER_INFO_FILE
    return json.loads(path.read_text()) if path.exists() else None


def _stop_on_signals(http_server) -> None:
    """SIGTERM/SIGINT stop serving; the nodes keep running, as after a crash, and
    the next server on this data dir adopts them."""
    def _shutdown(_signum, _frame):
        threading.Thread(target=http_server.stop, daemon=True).start()
    signal.signal(signal.SIGTERM, _shutdown)
    signal.signal(signal.SIGINT, _shutdown)
