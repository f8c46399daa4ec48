"""`elmr server`: wires the boxes together (store, service context, control loop
with the local provider, WSGI app) and serves on one loopback port. The server holds
nothing that is not in the store: kill it at any moment, start it again on the same
data dir, and it carries on with the nodes it finds."""

import fcntl
import gc
import json
import logging
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from cheroot.workers.threadpool import ThreadPool
from cheroot.wsgi import Server as WSGIServer

from elmr import credentials
from elmr.api import emr_protocol
from elmr.api.app import ElmrApp
from elmr.api.sendfile import SendfileGateway
from elmr.api.socket_reader import Connection
from elmr.control.actuator import Actuator, held_node_addresses
from elmr.control.loop import ControlLoop
from elmr.control.reconciler import Reconciler
from elmr.market.settings import DEFAULT_NOTICE_S, DEFAULT_PRICE_PERIOD_S, MarketSettings, start_epoch
from elmr.control.settings import ControlSettings
from elmr.control.workqueue import WorkQueue
from elmr.objectstore.objects import buckets_root
from elmr.objectstore.storage import sweep_staging
from elmr.platform.spark_history import SparkHistoryService
from elmr.providers.local import LocalProvider
from elmr.service.cluster_credentials import Keyring
from elmr.service.context import ServiceContext, utc_now
from elmr.store.db import Store, sqlite_url

SERVER_INFO_FILE = "server.json"
LOCK_FILE = "server.lock"
# Requests served at once: heartbeats of every node, a client's parallel multipart
# parts, Spark jobs… An idle keep-alive connection holds no thread. The pool starts
# with HTTP_THREADS and grows when every one is busy: a thread waits on each request
# being received, so clients sending theirs slowly must not keep the others out.
HTTP_THREADS = 32
MAX_HTTP_THREADS = 1024
# How long a request may pause between two reads of its body, and take to send its
# request line and headers, before it is refused (S3's RequestTimeout); an idle
# keep-alive connection is closed after as long. S3 allows 20 s.
REQUEST_TIMEOUT_S = 20.0
# How long a stopping server waits for the requests under way to finish.
SHUTDOWN_GRACE_S = 10.0
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
    spot_seed: int | None = None  # None: the data dir's seed
    spot_notice_s: float = DEFAULT_NOTICE_S
    spot_price_period_s: int = DEFAULT_PRICE_PERIOD_S
    # A running node whose agent has not reported for this long is lost (None: the
    # control loop's default).
    node_heartbeat_timeout_s: float | None = None
    # Managed scaling's waits: after a scale-out, after any resize before a scale-in,
    # and for spare capacity before a scale-in (None: the control loop's defaults).
    scaling_cooldown_s: float | None = None
    request_timeout_s: float = REQUEST_TIMEOUT_S


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
    _hold_data_dir(data_dir)
    _configure_logging(data_dir)
    reclaimed = sweep_staging(buckets_root(data_dir))
    if reclaimed:
        log.info("removed %d bytes of uploads a previous server left unfinished", reclaimed)
    root_credentials = credentials.load_or_create(data_dir)
    store = Store.open(options.database_url or sqlite_url(data_dir))
    market = MarketSettings(seed=options.spot_seed, notice_s=options.spot_notice_s,
                            price_period_s=options.spot_price_period_s, region=options.region)
    spark_history = SparkHistoryService(data_dir, options.host)
    spark_history.start_fresh()
    ctx = ServiceContext(store=store, data_dir=data_dir, region=options.region, market=market,
                         spark_history=spark_history)
    with store.transaction() as session:
        start_epoch(session, market, ctx.clock())
    keyring = Keyring(root_credentials, store)  # the root key and live clusters' keys
    app = ElmrApp(ctx, keyring)
    http_server = _http_server(options.host, options.port, app, options.request_timeout_s)
    server_url = f"http://{options.host}:{http_server.bind_addr[1]}"

    provider = LocalProvider(data_dir, max_nodes=options.max_local_nodes,
                             held_addresses=held_node_addresses(store))
    loop, provider_calls = _control_loop(store, provider, server_url, options, market)
    ctx.wake_reconciler = loop.wake
    loop.start()
    _write_server_info(data_dir, server_url, options.region, options.database_url)
    credentials.write_server_credentials(data_dir, root_credentials)
    stopping = _stop_on_signals(http_server)
    log.info("elmr server listening on %s (data dir %s)", server_url, data_dir)
    print(f"elmr server listening on {server_url} (data dir {data_dir})", flush=True)
    _settle_heap()
    try:
        http_server.serve()
    finally:
        (data_dir / credentials.SERVER_CREDENTIALS_FILE).unlink(missing_ok=True)
        loop.stop()
        spark_history.stop()
        provider_calls.shutdown(wait=True, cancel_futures=True)
        finished = stopping.wait_for_requests(http_server.shutdown_timeout + SHUTDOWN_GRACE_S)
        store.close()
    if not finished:
        # A request thread that will not end would keep the process, and with it the
        # data dir's lock, alive for good: a server that was told to stop must stop.
        log.error("requests still under way after the shutdown grace period; exiting regardless")
        logging.shutdown()
        os._exit(1)
    # The data dir's lock goes as the process exits, not before (_hold_data_dir).


def _settle_heap() -> None:
    """Load what every request needs, then move the heap built so far out of Python's
    collector. A full collection walks every tracked object under the GIL: with the
    ~100,000 that botocore's models, SQLAlchemy and the app leave, one took 50-140 ms
    (up to 480 ms on a loaded machine), during which no request is answered. Frozen,
    the longest took 37 ms; bench/api_load.py's paced p99 did not move measurably with
    it (docs/benchmarks.md, run 3), so the tail has another main cause."""
    for name in emr_protocol.service_model().operation_names:
        emr_protocol.operation_model(name)
    gc.collect()
    gc.freeze()


def _control_loop(store: Store, provider, server_url: str, options: ServerOptions, market: MarketSettings):
    """The loop, its queue, and the actuator whose provider calls run on a pool of
    their own (a slow node start holds up no reconciler pass), all on one clock."""
    settings = ControlSettings()
    if options.node_heartbeat_timeout_s is not None:
        settings = replace(settings, heartbeat_timeout_s=options.node_heartbeat_timeout_s)
    if options.scaling_cooldown_s is not None:
        cooldown_s = options.scaling_cooldown_s
        settings = replace(settings, scale_out_cooldown_s=cooldown_s, scale_in_cooldown_s=cooldown_s,
                           scale_in_after_s=cooldown_s)
    provider_calls = ThreadPoolExecutor(max_workers=8, thread_name_prefix="elmr-provider")
    actuator = Actuator(store, provider, utc_now, server_url, settings, region=options.region,
                        submit=provider_calls.submit)
    loop = ControlLoop(Reconciler(store, actuator, utc_now, settings, market), WorkQueue(utc_now))
    actuator.on_done = loop.wake
    return loop, provider_calls


def _hold_data_dir(data_dir: Path) -> None:
    """One server per data dir: two would run two control loops over the same nodes,
    and each one's staging sweep would remove the other's uploads in flight. The lock
    is the kernel's, on a descriptor nothing closes: it goes with the process, however
    it ends (kill -9 included), and not before (a file object would be closed when
    collected, as serve() returns, while request threads may still run)."""
    descriptor = os.open(data_dir / LOCK_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        info = read_server_info(data_dir) or {}
        raise SystemExit(f"another elmr server is serving {data_dir} "
                         f"(pid {info.get('pid', '?')}, {info.get('url', '?')}): stop it first") from None


class GrowingThreadPool(ThreadPool):
    """cheroot's worker pool, one more thread whenever a connection is handed over
    and none is idle (up to `max`). cheroot's pool stays at its minimum: forty clients
    holding half-sent requests took every thread, and a ListReleaseLabels on the same
    port waited 5–19 s behind them. Threads are not shrunk back: an idle one costs
    a blocked thread's stack."""

    def __init__(self, server, **kwargs):
        super().__init__(server, **kwargs)
        self._growing = threading.Lock()

    def put(self, connection) -> None:
        if len(self._threads) < self.max and self.idle <= self._queue.qsize():
            with self._growing:
                if len(self._threads) < self.max and self.idle <= self._queue.qsize():
                    self._threads.append(self._spawn_worker())
        super().put(connection)


def _http_server(host: str, port: int, app, request_timeout_s: float = REQUEST_TIMEOUT_S) -> WSGIServer:
    """Cheroot, a threaded production WSGI server: it keeps HTTP/1.1 connections alive
    (boto3 and the agents reuse theirs; werkzeug's development server closes every
    one) and streams request bodies to the app as they arrive. Bound here, so port 0
    gets a free port before the server URL is handed to anyone."""
    server = WSGIServer((host, port), app, server_name="elmr", timeout=request_timeout_s)
    server.requests = GrowingThreadPool(server, min=HTTP_THREADS, max=MAX_HTTP_THREADS)
    server.head_timeout_s = request_timeout_s  # http_request.py: the request line and headers
    server.ConnectionClass = Connection  # socket_reader.py, http_request.py: how requests are read
    server.keep_alive_conn_limit = KEEP_ALIVE_CONNECTIONS
    server.gateway = SendfileGateway  # sendfile.py: GET bodies sent by the kernel
    server.prepare()
    return server


def _write_server_info(data_dir: Path, server_url: str, region: str, database_url: str | None) -> None:
    """What `elmr env` and `elmr logs` read to find this server (mode 0600: a
    PostgreSQL URL may carry a password)."""
    info = {"url": server_url, "pid": os.getpid(), "region": region}
    if database_url:
        info["database_url"] = database_url
    path = data_dir / SERVER_INFO_FILE
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(info))


def read_server_info(data_dir: Path) -> dict | None:
    path = Path(data_dir) / SERVER_INFO_FILE
    return json.loads(path.read_text()) if path.exists() else None


class _Stopping:
    """The HTTP server's stop, run in a thread of its own when a signal asks for it
    (it waits for the requests under way; a signal handler must not)."""

    def __init__(self, http_server):
        self.http_server = http_server
        self.thread: threading.Thread | None = None

    def start(self, _signum=None, _frame=None) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self.http_server.stop, name="elmr-stop", daemon=True)
            self.thread.start()

    def wait_for_requests(self, timeout_s: float) -> bool:
        """Whether every request thread has ended within `timeout_s`."""
        self.start()
        self.thread.join(timeout_s)
        return not self.thread.is_alive()


def _stop_on_signals(http_server) -> _Stopping:
    """SIGTERM/SIGINT stop serving; the nodes keep running, as after a crash, and
    the next server on this data dir adopts them."""
    stopping = _Stopping(http_server)
    signal.signal(signal.SIGTERM, stopping.start)
    signal.signal(signal.SIGINT, stopping.start)
    return stopping
