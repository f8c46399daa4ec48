"""Benchmark: S3 PUT and GET through boto3 against elmr's embedded object store and
against moto_server (the local S3 most people use), with plain file copies on the
same disk as the floor, in one run; and boto3's own upload and download ceilings
against a server that costs next to nothing (boto3_ceiling.py).

Workloads: N small objects of 64 KiB (operations per second) and one large object
(MiB per second). Both run in rounds, since on a shared VM one transfer swings by
10-20% (more when other work shares the machine) and the disk's speed drifts over
minutes: the small ones, N / rounds objects each, elmr's and moto_server's back to
back; the large ones, the floor's, elmr's and the ceiling's back to back. Each figure
is the median of the rounds, each ratio the median of the rounds' ratios. Run:
    .venv/bin/pip install -e '.[bench]'    # moto_server, for the comparison only
    .venv/bin/python bench/s3_throughput.py [--small 1000] [--large-mib 1024] [--repeats 5]
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from boto3_ceiling import in_memory_fake_s3
from botocore.config import Config

from elmr.launcher import ServerProcess, free_port, poll_until, port_answers
from elmr.objectstore import objects

SMALL_SIZE = 64 * 1024
# 1 MiB reads of a download's body instead of s3transfer's 256 KiB: with 256 KiB the
# client's read loop was the limit (boto3 from an in-memory server ~640 MiB/s, ~1,000
# with 1 MiB), whatever the server.
LARGE_TRANSFER = TransferConfig(multipart_chunksize=64 * 1024 * 1024, max_concurrency=4, io_chunksize=1024 * 1024)
CONFIG = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}, max_pool_connections=16)


def _client(url: str, key: str, secret: str):
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=CONFIG)


def drop_cached(path: Path) -> None:
    """Evict a file's pages from the page cache, so the next read comes from the disk:
    the floor's copy and elmr's GET both read the large object cold. (Read warm, the
    floor runs at page-cache or disk speed depending on what the kernel happened to
    keep, and the ratio swung between 0.4 and 0.8 from run to run.)"""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def small_s3(s3, small: int) -> dict:
    """PUT then GET of `small` objects of 64 KiB, one at a time: operations per second."""
    payload = os.urandom(SMALL_SIZE)
    started = time.monotonic()
    for n in range(small):
        s3.put_object(Bucket="bench", Key=f"small/{n:05d}", Body=payload)
    put_small = small / (time.monotonic() - started)
    started = time.monotonic()
    for n in range(small):
        s3.get_object(Bucket="bench", Key=f"small/{n:05d}")["Body"].read()
    get_small = small / (time.monotonic() - started)
    return {"put 64KiB ops/s": put_small, "get 64KiB ops/s": get_small}


def small_side_by_side(clients: dict, small: int, repeats: int) -> dict[str, list[dict]]:
    """`repeats` rounds of small_s3 (`small` objects in all, split between the rounds)
    against each server in `clients` ({name: client}), back to back, the order
    reversed every other round. Returns each one's rounds."""
    rounds = {name: [] for name in clients}
    sides = list(clients.items())
    for n in range(repeats):
        for name, s3 in sides if n % 2 == 0 else reversed(sides):
            rounds[name].append(small_s3(s3, max(1, small // repeats)))
    return rounds


def small_files(target: Path, small: int) -> dict:
    """The floor of small_s3: write + fsync each file, then read each back."""
    payload = os.urandom(SMALL_SIZE)
    target.mkdir()
    started = time.monotonic()
    for n in range(small):
        with open(target / f"{n:05d}", "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
    put_small = small / (time.monotonic() - started)
    started = time.monotonic()
    for n in range(small):
        (target / f"{n:05d}").read_bytes()
    get_small = small / (time.monotonic() - started)
    shutil.rmtree(target)
    return {"put 64KiB ops/s": put_small, "get 64KiB ops/s": get_small}


def large_s3(s3, large_file: Path, scratch: Path, stored_file_of: Callable[[str], Path] | None = None,
             download_from=None) -> dict:
    """One upload_file and one download_file of the large file: MiB per second.
    `stored_file_of(key)`: where the server keeps an object on disk, if it does; its
    pages are dropped so the GET reads it cold. `download_from`: another client to
    download from instead (boto3's ceiling, in the state a GET after a PUT finds)."""
    mib = large_file.stat().st_size / 2 ** 20
    started = time.monotonic()
    s3.upload_file(str(large_file), "bench", "large", Config=LARGE_TRANSFER)
    put_large = mib / (time.monotonic() - started)
    if stored_file_of is not None:
        drop_cached(stored_file_of("large"))
    started = time.monotonic()
    (download_from or s3).download_file("bench", "large", str(scratch / "large.down"), Config=LARGE_TRANSFER)
    get_large = mib / (time.monotonic() - started)
    (scratch / "large.down").unlink()
    s3.delete_object(Bucket="bench", Key="large")
    return {"put large MiB/s": put_large, "get large MiB/s": get_large}


def large_files(large_file: Path, scratch: Path) -> dict:
    """The floor of large_s3: copy + fsync, then a cold copy back."""
    mib = large_file.stat().st_size / 2 ** 20
    stored, back = scratch / "large.copy", scratch / "large.back"
    started = time.monotonic()
    shutil.copyfile(large_file, stored)
    with open(stored, "rb+") as copied:
        os.fsync(copied.fileno())
    put_large = mib / (time.monotonic() - started)
    drop_cached(stored)
    started = time.monotonic()
    shutil.copyfile(stored, back)
    get_large = mib / (time.monotonic() - started)
    stored.unlink()
    back.unlink()
    return {"put large MiB/s": put_large, "get large MiB/s": get_large}


def ceiling(s3, fake, large_file: Path, scratch: Path) -> dict:
    """boto3's ceilings: an upload_file to the in-memory fake; then, after a PUT to
    elmr (untimed here), a download_file from the fake."""
    started = time.monotonic()
    fake.upload_file(str(large_file), "bench", "large", Config=LARGE_TRANSFER)
    put_large = large_file.stat().st_size / 2 ** 20 / (time.monotonic() - started)
    return large_s3(s3, large_file, scratch, download_from=fake) | {"put large MiB/s": put_large}


def large_side_by_side(s3, large_file: Path, scratch: Path, stored_file_of: Callable[[str], Path],
                       repeats: int) -> dict[str, list[dict]]:
    """`repeats` rounds of large transfers, the floor's, elmr's and boto3's ceiling's
    (a PUT to elmr, then a GET from the in-memory fake) back to back, the order
    reversed every other round: the VM's disk, its host's cache and the guest's free
    memory drift over minutes, and one round sees one state. Returns each one's rounds."""
    rounds = {"file copy (floor)": [], "elmr": [], "ceiling": []}
    with in_memory_fake_s3(large_file.stat().st_size) as fake_url:
        fake = _client(fake_url, "x", "y")
        sides = [("file copy (floor)", lambda: large_files(large_file, scratch)),
                 ("elmr", lambda: large_s3(s3, large_file, scratch, stored_file_of)),
                 ("ceiling", lambda: ceiling(s3, fake, large_file, scratch))]
        for n in range(repeats):
            for name, transfer in sides if n % 2 == 0 else reversed(sides):
                rounds[name].append(transfer())
    return rounds


def _medians(samples: list[dict]) -> dict:
    return {metric: statistics.median(sample[metric] for sample in samples) for metric in samples[0]}


def _print_round_ratios(title: str, mine: list[dict], reference: list[dict], metric: str,
                        unit: str = "MiB/s") -> None:
    ratios = [ours[metric] / theirs[metric] for ours, theirs in zip(mine, reference)]
    print(f"{title}, round by round: median {statistics.median(ratios):.2f} ("
          + ", ".join(f"{ratio:.2f}" for ratio in ratios) + f"); reference {unit} "
          + ", ".join(f"{theirs[metric]:.0f}" for theirs in reference))


def _with_botocores_own_signer() -> None:
    """Run again with boto3 as `pip install boto3` gives it. elmr's venv holds awscrt
    (the server's CRC32C and CRC64NVME), and where awscrt imports botocore signs with
    its CRT signer, whose payload hashing cost the client ~3 s more CPU per GiB of
    signed PUT on this machine (a 1 GiB PUT to elmr 204-265 MiB/s, against 389-403
    with botocore's own signer). BOTO_DISABLE_CRT is read when botocore is imported."""
    if os.environ.get("BOTO_DISABLE_CRT") != "true":
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "BOTO_DISABLE_CRT": "true"})


def main() -> int:
    _with_botocores_own_signer()
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large-mib", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5,
                        help="rounds of large transfers (the floor's, elmr's, boto3's ceiling's, back to back); "
                             "each figure is the median (moto_server's once: no target compares with its large "
                             "figures)")
    args = parser.parse_args()
    moto_server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    results = {}
    with tempfile.TemporaryDirectory(prefix="elmr-bench-s3-") as scratch:
        scratch = Path(scratch)
        large_file = scratch / "large.src"
        with open(large_file, "wb") as out:
            out.writelines(os.urandom(2 ** 20) for _ in range(args.large_mib))
            # On the disk before anything is timed: left dirty, the kernel writes it back
            # ~30 s later, in the middle of whichever measurement runs then.
            out.flush()
            os.fsync(out.fileno())
        results["file copy (floor)"] = small_files(scratch / "copies", args.small)
        server = ServerProcess(scratch / "elmr")
        server.start()
        moto = _start_moto_server(moto_server) if moto_server else None
        clients = {}
        try:
            bucket_dir = objects.buckets_root(server.data_dir) / "bench"
            clients["elmr"] = _client(server.url, server.access_key_id, server.secret_access_key)
            if moto is not None:
                clients["moto_server"] = _client(f"http://127.0.0.1:{moto[1]}", "x", "y")
            for s3 in clients.values():
                s3.create_bucket(Bucket="bench")
            small_rounds = small_side_by_side(clients, args.small, args.repeats)
            rounds = large_side_by_side(clients["elmr"], large_file, scratch, lambda key: bucket_dir / key,
                                        args.repeats)
            results["elmr"] = _medians(small_rounds["elmr"])
            if moto is not None:
                results["moto_server"] = _medians(small_rounds["moto_server"]) | large_s3(
                    clients["moto_server"], large_file, scratch)
        finally:
            server.stop()
            if moto is not None:
                os.killpg(moto[0].pid, signal.SIGTERM)
                moto[0].wait(30)
        results["file copy (floor)"].update(_medians(rounds["file copy (floor)"]))
        results["elmr"].update(_medians(rounds["elmr"]))
        if moto is None:
            print("moto_server not found: pip install -e '.[bench]' to compare with it")
    metrics = list(results["elmr"])
    print(f"{'':22}" + "".join(f"{name:>20}" for name in results))
    for metric in metrics:
        print(f"{metric:22}" + "".join(f"{values[metric]:>20.1f}" for values in results.values()))
    for metric in ("put large MiB/s", "get large MiB/s"):
        _print_round_ratios(f"elmr {metric} / file copy", rounds["elmr"], rounds["file copy (floor)"], metric)
    for metric in ("put large MiB/s", "get large MiB/s"):
        _print_round_ratios(f"elmr {metric} / boto3's ceiling", rounds["elmr"], rounds["ceiling"], metric)
        _print_round_ratios(f"boto3's ceiling {metric} / file copy", rounds["ceiling"], rounds["file copy (floor)"],
                            metric)
    if "moto_server" in results:
        for metric in ("put 64KiB ops/s", "get 64KiB ops/s"):
            _print_round_ratios(f"elmr {metric} / moto_server", small_rounds["elmr"], small_rounds["moto_server"],
                                metric, "ops/s")
    return 0


def _start_moto_server(moto_server: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    moto = subprocess.Popen([moto_server, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    poll_until(lambda: port_answers(port), 30, what="moto_server")
    return moto, port


if __name__ == "__main__":
    sys.exit(main())
