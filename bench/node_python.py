"""Benchmark: what a node's own Python costs at node start (elmr/agent/python_env.py,
run by every node's agent before its bootstrap actions), beside the ways one could
make it otherwise, alternating sample by sample in one run:

- elmr: a venv without pip whose site path reaches links to the base packages;
- `python -m venv` with pip (ensurepip), still without numpy/pandas/pyarrow/boto3;
- a venv with pip plus the base packages copied into it by pip from its cache
  (`pip install --no-index --find-links` of the wheels pip builds once here), the
  honest alternative that gives each cluster a full copy.

Each sample makes a new environment in a fresh process (as a node's agent would) and
imports numpy, pandas, pyarrow and boto3 in it once, so the figure includes whatever
the environment costs its first user.
Run:  .venv/bin/python bench/node_python.py [--samples 5]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE = ["numpy", "pandas", "pyarrow", "boto3"]
IMPORT_BASE = "import numpy, pandas, pyarrow, boto3"


def _timed(*commands: list) -> float:
    started = time.perf_counter()
    for command in commands:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def elmr_sample(node: Path) -> tuple[float, float]:
    made = _timed([sys.executable, "-c", "import sys; from elmr.agent import python_env; "
                   "python_env.create(sys.argv[1])", str(node)])
    return made, _timed([str(node / "python" / "bin" / "python3"), "-c", IMPORT_BASE])


def venv_with_pip_sample(node: Path) -> tuple[float, float]:
    return _timed([sys.executable, "-m", "venv", str(node)]), 0.0


def full_copy_sample(node: Path, wheels: Path) -> tuple[float, float]:
    made = _timed([sys.executable, "-m", "venv", str(node)],
                  [str(node / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index",
                   "--find-links", str(wheels), *BASE])
    return made, _timed([str(node / "bin" / "python"), "-c", IMPORT_BASE])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=5)
    samples = parser.parse_args().samples
    results = {"elmr": [], "venv with pip": [], "venv + base copied": []}
    with tempfile.TemporaryDirectory(prefix="elmr-bench-python-") as scratch:
        scratch = Path(scratch)
        wheels = scratch / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(wheels),
                        *(f"{name}=={__import__(name).__version__}" for name in BASE)], check=True)
        for index in range(samples):
            results["elmr"].append(elmr_sample(scratch / f"elmr-{index}"))
            results["venv with pip"].append(venv_with_pip_sample(scratch / f"venv-{index}"))
            results["venv + base copied"].append(full_copy_sample(scratch / f"copy-{index}", wheels))
            print(f"sample {index + 1}: " + ", ".join(
                f"{name} {made[-1][0]:.2f} s (+{made[-1][1]:.2f} s first import)" for name, made in results.items()))
        sizes = {name: subprocess.run(["du", "-sh", str(scratch / f"{prefix}-0")], capture_output=True,
                                      text=True).stdout.split()[0]
                 for name, prefix in (("elmr", "elmr"), ("venv with pip", "venv"), ("venv + base copied", "copy"))}
    elmr_median = statistics.median(made for made, _ in results["elmr"])
    for name, made in results.items():
        median = statistics.median(m for m, _ in made)
        print(f"{name:>20}: median {median:.3f} s to make, {sizes[name]} on disk, "
              f"{median / elmr_median:.1f}x elmr's")


if __name__ == "__main__":
    main()
