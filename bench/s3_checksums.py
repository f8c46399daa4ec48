"""Benchmark: a large upload through boto3 to elmr's object store with each flexible
checksum a client may send, side by side in one run. CRC32 is boto3's and the AWS CLI
v1's default, CRC64NVME the AWS CLI v2's; the server verifies whichever comes, so an
upload should not get slower for the algorithm the client happened to pick. Prints
each algorithm's MiB/s (median of the rounds; the algorithms alternate within each
round) and its ratio to CRC32. boto3 runs here with awscrt (it needs it to compute a
CRC64NVME at all), so botocore signs with its CRT signer: the figures are not
comparable with s3_throughput.py's, which runs botocore's own signer. Run:
    .venv/bin/python bench/s3_checksums.py [--mib 256] [--repeats 3]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from elmr.launcher import ServerProcess

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA256", "SHA1")
# boto3's default parts (8 MiB) and threads: what `upload_file` and `aws s3 cp` send.
TRANSFER = TransferConfig()


def upload_mib_per_s(s3, source: Path, algorithm: str) -> float:
    started = time.monotonic()
    s3.upload_file(str(source), "bench", f"with-{algorithm}", ExtraArgs={"ChecksumAlgorithm": algorithm},
                   Config=TRANSFER)
    return source.stat().st_size / 2 ** 20 / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="elmr-bench-checksums-") as scratch:
        source = Path(scratch) / "source"
        with open(source, "wb") as out:
            out.writelines(os.urandom(2 ** 20) for _ in range(args.mib))
            out.flush()
            os.fsync(out.fileno())
        server = ServerProcess(Path(scratch) / "elmr")
        server.start()
        try:
            s3 = boto3.client("s3", endpoint_url=server.url, region_name="us-east-1",
                              aws_access_key_id=server.access_key_id,
                              aws_secret_access_key=server.secret_access_key,
                              config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
            s3.create_bucket(Bucket="bench")
            samples = {algorithm: [] for algorithm in ALGORITHMS}
            for round_number in range(args.repeats):
                order = ALGORITHMS if round_number % 2 == 0 else ALGORITHMS[::-1]
                for algorithm in order:
                    samples[algorithm].append(upload_mib_per_s(s3, source, algorithm))
        finally:
            server.stop()
    crc32 = statistics.median(samples["CRC32"])
    print(f"upload of {args.mib} MiB with upload_file, {args.repeats} rounds")
    for algorithm, figures in samples.items():
        median = statistics.median(figures)
        rounds = " ".join(f"{figure:.0f}" for figure in figures)
        print(f"{algorithm:10} {median:8.1f} MiB/s  ({rounds})  / CRC32: {median / crc32:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
