"""Benchmark: S3 PUT and GET through boto3 against elmr's embedded object store and
against moto_server (the local S3 most people use), with plain file copies on the
same disk as the floor — in one run; and boto3's own download ceiling
against a server that costs next to nothing (boto3_ceiling.py).

Workloads: N small objects of 64 KiB (operations per second) and one large object
(MiB per second; elmr's and the floor's are the median of --repeats transfers, since
on a shared VM one transfer swings by 10–20%).  Run:
    .venv/bin/pip install -e '.[bench]'    # moto_server, for the comparison only
    .venv/bin/python bench/s3_throughput.py [--small 1000] [--large-mib 1024] [--repeats 3]
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
from pathlib import Path
from typing import Callable

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from boto3_ceiling import download_ceiling
from elmr.launcher import ServerProcess, free_port, poll_until, port_answers
from elmr.service.objectstore import objects

SMALL_SIZE = 64 * 1024
LARGE_TRANSFER = TransferConfig(multipart_chunksize=64 * 1024 * 1024, max_concurrency=4)
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


def run_s3(s3, scratch: Path, small: int, large_file: Path, repeats: int,
           stored_file_of: Callable[[str], Path] | None = None) -> dict:
    """`stored_file_of(key)`: where the server keeps an object on disk, if it does."""
    s3.create_bucket(Bucket="bench")
    payload = os.urandom(SMALL_SIZE)
    started = time.monotonic()
    for n in range(small):
        s3.put_object(Bucket="bench", Key=f"small/{n:05d}", Body=payload)
    put_small = small / (time.monotonic() - started)
    started = time.monotonic()
    for n in range(small):
        s3.get_object(Bucket="bench", Key=f"small/{n:05d}")["Body"].read()
    get_small = small / (time.monotonic() - started)
    mib = large_file.stat().st_size / 2 ** 20
    put_large, get_large = [], []
    for n in range(repeats):
        key = f"large-{n}"
        started = time.monotonic()
        s3.upload_file(str(large_file), "bench", key, Config=LARGE_TRANSFER)
        put_large.append(mib / (time.monotonic() - started))
        if stored_file_of is not None:
            drop_cached(stored_file_of(key))
        started = time.monotonic()
        s3.download_file("bench", key, str(scratch / "large.down"), Config=LARGE_TRANSFER)
        get_large.append(mib / (time.monotonic() - started))
        (scratch / "large.down").unlink()
        s3.delete_object(Bucket="bench", Key=key)
    return {"put 64KiB ops/s": put_small, "get 64KiB ops/s": get_small,
            "put large MiB/s": statistics.median(put_large), "get large MiB/s": statistics.median(get_large)}


def run_file_copy(scratch: Path, small: int, large_file: Path, repeats: int) -> dict:
    payload = os.urandom(SMALL_SIZE)
    target = scratch / "copies"
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
    mib = large_file.stat().st_size / 2 ** 20
    put_large, get_large = [], []
    for _ in range(repeats):
        started = time.monotonic()
        shutil.copyfile(large_file, target / "large")
        with open(target / "large", "rb+") as copied:
            os.fsync(copied.fileno())
        put_large.append(mib / (time.monotonic() - started))
        drop_cached(target / "large")
        started = time.monotonic()
        shutil.copyfile(target / "large", scratch / "large.back")
        get_large.append(mib / (time.monotonic() - started))
        (target / "large").unlink()
        (scratch / "large.back").unlink()
    shutil.rmtree(target)
    return {"put 64KiB ops/s": put_small, "get 64KiB ops/s": get_small,
            "put large MiB/s": statistics.median(put_large), "get large MiB/s": statistics.median(get_large)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large-mib", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3,
                        help="large PUT and GET, each taken as the median of this many (elmr and the floor; "
                             "moto_server once: no target compares with its large figures)")
    args = parser.parse_args()
    moto_server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    results = {}
    with tempfile.TemporaryDirectory(prefix="elmr-bench-s3-") as scratch:
        scratch = Path(scratch)
        large_file = scratch / "large.src"
        with open(large_file, "wb") as out:
            for _ in range(args.large_mib):
                out.write(os.urandom(2 ** 20))
            # On the disk before anything is timed: left dirty, the kernel writes it back
            # ~30 s later, in the middle of whichever measurement runs then.
            out.flush()
            os.fsync(out.fileno())
        results["file copy (floor)"] = run_file_copy(scratch, args.small, large_file, args.repeats)
        server = ServerProcess(scratch / "elmr")
        server.start()
        try:
            bucket_dir = objects.buckets_root(server.data_dir) / "bench"
            results["elmr"] = run_s3(_client(server.url, server.access_key_id, server.secret_access_key),
                                     scratch, args.small, large_file, args.repeats, lambda key: bucket_dir / key)
        finally:
            server.stop()
        if moto_server:
            port = free_port()
            moto = subprocess.Popen([moto_server, "-H", "127.0.0.1", "-p", str(port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                poll_until(lambda: port_answers(port), 30, what="moto_server")
                results["moto_server"] = run_s3(_client(f"http://127.0.0.1:{port}", "x", "y"),
                                                scratch, args.small, large_file, 1)
            finally:
                os.killpg(moto.pid, signal.SIGTERM)
                moto.wait(30)
        else:
            print("moto_server not found: pip install -e '.[bench]' to compare with it")
        ceiling = download_ceiling(lambda url: _client(url, "x", "y"), args.large_mib, args.repeats, LARGE_TRANSFER)
    metrics = list(results["elmr"])
    print(f"{'':22}" + "".join(f"{name:>20}" for name in results))
    for metric in metrics:
        print(f"{metric:22}" + "".join(f"{values[metric]:>20.1f}" for values in results.values()))
    floor = results["file copy (floor)"]
    for metric in ("put large MiB/s", "get large MiB/s"):
        print(f"elmr {metric} / file copy: {results['elmr'][metric] / floor[metric]:.2f}")
    print(f"boto3 download_file ceiling (in-memory fake server): {ceiling:.1f} MiB/s; "
          f"elmr get large / ceiling: {results['elmr']['get large MiB/s'] / ceiling:.2f}")
    if "moto_server" in results:
        for metric in ("put 64KiB ops/s", "get 64KiB ops/s"):
            print(f"elmr {metric} / moto_server: {results['elmr'][metric] / results['moto_server'][metric]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
