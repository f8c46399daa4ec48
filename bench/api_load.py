"""Benchmark: EMR API reads under load. 50 boto3 clients call DescribeCluster,
ListClusters and ListSteps (in turn, on random clusters) against a store of 1,000
clusters and 10,000 steps while one real cluster runs steps (a step a second) and
its nodes heartbeat; the same calls against moto_server holding as many clusters and
steps, in the same run.

A third side, the floor, is the same clients against a replay server that does no work:
it answers each operation with the bytes elmr gave for it once (a thread per connection,
Python's http.server). Its latencies are the clients' own: signing, parsing, and the
two cores shared by 50 client threads; a server cannot be faster than that here.

Two modes, each run against elmr, moto_server and the floor back to back:
- paced: every client sends 2 requests a second (100/s offered); p50 and p99 latency.
- flat out: every client sends its next request as soon as the last answered; the
  rate all 50 sustain.
Clients run in 5 processes of 10 threads (one Python process cannot offer 100/s of
signed boto3 calls and measure them). Clients and servers share the machine's cores,
so flat-out latency would only measure the queue: its rate is what counts.

Run:  .venv/bin/python bench/api_load.py [--seconds 20]   (needs the bench extra: moto[server])
"""

import argparse
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
from botocore.config import Config

from elmr import ids
from elmr.launcher import ServerProcess, free_port, poll_until, port_answers
from elmr.store.db import Store, sqlite_url
from elmr.store.models import Cluster, InstanceGroup, Step

CLUSTERS, STEPS_PER_CLUSTER = 1000, 10
CLIENTS, PROCESSES = 50, 5
PACED_RATE_PER_CLIENT = 2.0
KEY, SECRET = "AKIABENCHAPILOAD0000", "bench-api-load-secret"


def populate_elmr_store(data_dir: Path) -> list[str]:
    """1,000 ended clusters with 10 steps each, written straight to the store (as many
    clusters started through the API would leave behind)."""
    store = Store.open(sqlite_url(data_dir))
    now = datetime.now(timezone.utc)
    cluster_ids = []
    with store.transaction() as session:
        for n in range(CLUSTERS):
            created = now - timedelta(minutes=CLUSTERS - n)
            cluster = Cluster(
                id=ids.cluster_id(), name=f"history-{n}", state="TERMINATED", state_reason_code="ALL_STEPS_COMPLETED",
                state_reason_message="Steps completed", created_at=created, ready_at=created, ended_at=created,
                release_label="emr-7.2.0", applications=[{"Name": "Spark", "Version": "4.2.0", "Args": []}],
                configurations=[], tags=[{"Key": "n", "Value": str(n)}], log_uri=None, keep_alive_when_no_steps=False,
                termination_protected=False, visible_to_all_users=True, step_concurrency_level=1,
                auto_termination_policy=None, managed_scaling_policy=None, request_extras={})
            session.add(cluster)
            session.add(InstanceGroup(id=ids.instance_group_id(), cluster_id=cluster.id, name="MASTER", role="MASTER",
                                      market="ON_DEMAND", instance_type="m5.xlarge", requested_count=1,
                                      state="TERMINATED", created_at=created, configurations=[]))
            for position in range(STEPS_PER_CLUSTER):
                session.add(Step(id=ids.step_id(), cluster_id=cluster.id, position=position, name=f"step-{position}",
                                 action_on_failure="CONTINUE", state="COMPLETED", created_at=created,
                                 started_at=created, ended_at=created,
                                 hadoop_jar_step={"Jar": "command-runner.jar", "Args": ["true"]}))
            cluster_ids.append(cluster.id)
    store.close()
    return cluster_ids


def client(url: str):
    return boto3.client("emr", endpoint_url=url, region_name="us-east-1", aws_access_key_id=KEY,
                        aws_secret_access_key=SECRET,
                        config=Config(retries={"max_attempts": 1}, max_pool_connections=4, read_timeout=60))


def populate_moto(url: str) -> list[str]:
    emr = client(url)
    cluster_ids = []
    for n in range(CLUSTERS):
        cluster_id = emr.run_job_flow(Name=f"history-{n}", ReleaseLabel="emr-7.2.0", Instances={
            "MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True})["JobFlowId"]
        emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[
            {"Name": f"step-{p}", "ActionOnFailure": "CONTINUE",
             "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["true"]}} for p in range(STEPS_PER_CLUSTER)])
        cluster_ids.append(cluster_id)
    return cluster_ids


def _one_call(emr, cluster_ids: list[str], turn: int, rng: random.Random) -> None:
    kind = turn % 3
    if kind == 0:
        emr.describe_cluster(ClusterId=rng.choice(cluster_ids))
    elif kind == 1:
        emr.list_clusters()
    else:
        emr.list_steps(ClusterId=rng.choice(cluster_ids))


def _client_thread(url, cluster_ids, paced, deadline, start_at, latencies, errors, seed):
    emr, rng = client(url), random.Random(seed)
    _one_call(emr, cluster_ids, 0, rng)  # connect and sign once before the clock starts
    while time.time() < start_at:
        time.sleep(0.005)
    interval = 1 / PACED_RATE_PER_CLIENT
    next_at, turn = start_at + rng.random() * interval, seed
    while True:
        if paced:
            delay = next_at - time.time()
            if delay > 0:
                time.sleep(delay)
            next_at += interval
        if time.time() >= deadline:
            return
        started = time.perf_counter()
        try:
            _one_call(emr, cluster_ids, turn, rng)
            latencies.append(time.perf_counter() - started)
        except Exception as error:  # counted, not fatal: the bench reports them
            errors.append(type(error).__name__)
        turn += 1


def _client_process(url, cluster_ids, paced, seconds, start_at, first_seed, results):
    latencies, errors = [], []
    threads = [threading.Thread(target=_client_thread, args=(url, cluster_ids, paced, start_at + seconds, start_at,
                                                             latencies, errors, first_seed + n))
               for n in range(CLIENTS // PROCESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((latencies, errors))


def run_mode(url: str, cluster_ids: list[str], paced: bool, seconds: float) -> dict:
    results = multiprocessing.Queue()
    start_at = time.time() + 8  # every client connected and warmed up by then
    processes = [multiprocessing.Process(target=_client_process,
                                         args=(url, cluster_ids, paced, seconds, start_at, n * 100, results))
                 for n in range(PROCESSES)]
    for process in processes:
        process.start()
    latencies, errors = [], []
    for _ in processes:
        batch, batch_errors = results.get(timeout=seconds + 300)
        latencies += batch
        errors += batch_errors
    for process in processes:
        process.join()
    latencies.sort()
    return {"requests": len(latencies), "errors": len(errors), "rate": len(latencies) / seconds,
            "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan")}


class MotoServer:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        moto = Path(sys.executable).parent / "moto_server"
        self.process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        poll_until(lambda: port_answers(self.port), 60, what="moto_server")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(30)


def recorded_answers(url: str, cluster_ids: list[str]) -> dict[str, bytes]:
    """The body elmr answers each of the three calls with, by X-Amz-Target."""
    emr, answers = client(url), {}

    def keep(http_response, model, **_):
        answers[f"ElasticMapReduce.{model.name}"] = http_response.content

    emr.meta.events.register("after-call.emr.*", keep)
    for turn in range(3):
        _one_call(emr, cluster_ids, turn, random.Random(turn))
    return answers


class _ReplayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3's pool expects
    answers: dict[str, bytes] = {}

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = self.answers[self.headers["X-Amz-Target"]]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-RequestId", "floor")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


def _serve_replay(port: int, answers: dict[str, bytes]) -> None:
    _ReplayHandler.answers = answers
    ThreadingHTTPServer(("127.0.0.1", port), _ReplayHandler).serve_forever()


class ReplayServer:
    """The floor: answers without doing any work, in a process of its own as a server is."""

    def __init__(self, answers: dict[str, bytes]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = multiprocessing.Process(target=_serve_replay, args=(self.port, answers), daemon=True)
        self.process.start()
        poll_until(lambda: port_answers(self.port), 30, what="the replay server")

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(30)


def start_busy_cluster(url: str) -> str:
    """One real cluster (a master node: YARN, HDFS, agent heartbeats) running a step a
    second, so writes go on while the clients read."""
    emr = client(url)
    cluster_id = emr.run_job_flow(Name="busy", ReleaseLabel="emr-7.2.0", Instances={
        "MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True})["JobFlowId"]
    emr.get_waiter("cluster_running").wait(ClusterId=cluster_id, WaiterConfig={"Delay": 2, "MaxAttempts": 150})
    emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[
        {"Name": f"tick-{n}", "ActionOnFailure": "CONTINUE",
         "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["bash", "-c", "sleep 1"]}} for n in range(200)])
    return cluster_id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="elmr-api-load-") as scratch:
        data_dir = Path(scratch) / "data"
        data_dir.mkdir()
        elmr_ids = populate_elmr_store(data_dir)
        elmr = ServerProcess(data_dir, free_port())
        elmr.access_key_id, elmr.secret_access_key = KEY, SECRET
        moto = MotoServer()
        floor = None
        try:
            elmr.start(timeout_s=60)
            busy = start_busy_cluster(elmr.url)
            moto_ids = populate_moto(moto.url)
            floor = ReplayServer(recorded_answers(elmr.url, elmr_ids))
            print(f"elmr: {len(elmr_ids)} clusters x {STEPS_PER_CLUSTER} steps, cluster {busy} running steps; "
                  f"moto_server: {len(moto_ids)} clusters x {STEPS_PER_CLUSTER} steps; {CLIENTS} clients, "
                  f"{args.seconds:.0f} s a run", flush=True)
            for paced in (True, False):
                sides = (("elmr", elmr.url, elmr_ids + [busy]), ("moto_server", moto.url, moto_ids),
                         ("floor", floor.url, elmr_ids))
                for name, url, cluster_ids in sides:
                    result = run_mode(url, cluster_ids, paced, args.seconds)
                    mode = f"paced ({CLIENTS * PACED_RATE_PER_CLIENT:.0f}/s offered)" if paced else "flat out"
                    print(f"{mode:22} {name:12} {result['rate']:7.1f} req/s  p50 {result['p50_ms']:7.1f} ms  "
                          f"p99 {result['p99_ms']:7.1f} ms  errors {result['errors']}", flush=True)
        finally:
            try:
                emr = client(elmr.url)
                live = [c["Id"] for c in emr.list_clusters(ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING",
                                                                         "WAITING"])["Clusters"]]
                if live:
                    emr.terminate_job_flows(JobFlowIds=live)
                    poll_until(lambda: not emr.list_clusters(ClusterStates=["TERMINATING"])["Clusters"], 120, 1,
                               "the busy cluster to stop")
            finally:
                elmr.stop()
                moto.stop()
                if floor:
                    floor.stop()


if __name__ == "__main__":
    main()
