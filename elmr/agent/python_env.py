"""The node's own Python, as every EMR node has one: the `python3` that bootstrap
actions, steps and Spark's Python workers run, and that `pip install`, `pip3
install`, `sudo pip3 install` and `python3 -m pip install` install into.

Where it sits: the agent creates it when the node starts, before the bootstrap
actions (`create`), and `node_env` puts its bin directory first on the PATH of
everything the node runs (`variables`). A cluster's nodes each have their own, so two
clusters can hold two versions of one package, and nothing a user installs reaches
elmr's own environment or the system's.

Layout, under the node's directory:
- `python/`: a venv without pip of its own (made in about 0.1 s). Its site-packages
  comes first on sys.path, so what users install there shadows the base packages.
- `base-python/`: links to the base packages in this host's elmr installation
  (numpy, pandas, pyarrow, boto3 as EMR's Python carries them, their dependencies,
  and pip), reached through a .pth file. It lies outside the venv, so pip never
  uninstalls through it: upgrading numpy in a node installs a new numpy beside it.
  (Its path must not even begin with the venv's: pip tells a package inside the
  environment from one outside by comparing path strings.)
- `python/bin/`: `pip`, `pip3`, `pip3.N` run the venv's `python -m pip`; `sudo` runs
  its command as the node's own user with the node's environment, as EMR's
  scripts expect sudo to (a real sudo would reset PATH and reach the system's pip).

PySpark itself is not in the environment: spark-submit puts Spark's own
python/lib/pyspark.zip and py4j on the PYTHONPATH of drivers and Python workers, as
on EMR. PYSPARK_PYTHON is the bare name `python3`, so each executor runs the
python3 first on its own node's PATH, and the spark-env classification can name
another interpreter.
"""

import importlib.metadata
import os
import re
import sys
import venv
from pathlib import Path

# The packages every node's Python starts with, with whatever they need to import.
BASE_DISTRIBUTIONS = ("numpy", "pandas", "pyarrow", "boto3", "pip")
SPARK_PYTHON = "python3"

_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

PIP_SHIM = """#!/bin/sh
# elmr: this node's pip. `--user` is dropped: the node's environment is the user's.
for arg; do
    shift
    [ "$arg" = --user ] || set -- "$@" "$arg"
done
exec "{python}" -m pip "$@"
"""

SUDO_SHIM = """#!/bin/sh
# elmr: nodes run as one user, so `sudo CMD` runs CMD as that user, with the
# node's environment (PATH kept: `sudo pip3 install` reaches the node's Python).
# sudo's own options are skipped, with the value of those that take one.
while [ $# -gt 0 ]; do
    case "$1" in
        -D|--chdir) cd "$2" || exit 1; shift 2 ;;
        --chdir=*) cd "${1#--chdir=}" || exit 1; shift ;;
        -u|-g|-p|-C|-h|-r|-t|-T|-U|--user|--group|--prompt|--close-from|--host|\\
        --role|--type|--command-timeout|--other-user) shift 2 ;;
        --) shift; break ;;
        -*) shift ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || exec "${SHELL:-/bin/sh}"
exec env "$@"
"""

# pip never asks PyPI whether it is the newest pip (nodes may have no network).
PIP_CONF = "[global]\ndisable-pip-version-check = true\n"


def env_dir(node_dir: Path) -> Path:
    return Path(node_dir) / "python"


def base_dir(node_dir: Path) -> Path:
    return Path(node_dir) / "base-python"


def variables(node_dir: Path, path: str) -> dict:
    """What the node's processes need to run its Python: its bin first on `path`."""
    bin_dir = env_dir(node_dir) / "bin"
    return {"PATH": f"{bin_dir}{os.pathsep}{path}" if path else str(bin_dir),
            "PYSPARK_PYTHON": SPARK_PYTHON}


def create(node_dir: Path) -> Path:
    """The node's environment, made once: an agent restarted on the node keeps what
    was installed into it. Returns its python."""
    env = env_dir(node_dir)
    python = env / "bin" / "python3"
    if (env / "pyvenv.cfg").exists():
        return python
    _link_base_packages(base_dir(node_dir))
    venv.EnvBuilder(symlinks=True, with_pip=False).create(env)
    site_packages = Path(next(env.glob("lib/python3*/site-packages")))
    (site_packages / "elmr-base.pth").write_text(f"{base_dir(node_dir)}\n")
    (env / "pip.conf").write_text(PIP_CONF)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for name in ("pip", "pip3", f"pip{version}"):
        _write_script(env / "bin" / name, PIP_SHIM.format(python=python))
    _write_script(env / "bin" / "sudo", SUDO_SHIM)
    return python


def _write_script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def _link_base_packages(target: Path) -> None:
    """Symlinks to each base distribution's top-level files (package directories,
    modules, .dist-info, bundled .libs) where this host's elmr has them installed."""
    target.mkdir(parents=True, exist_ok=True)
    for distribution in _base_closure():
        site = Path(distribution.locate_file(""))
        for top in {file.parts[0] for file in distribution.files or ()}:
            link = target / top
            if top not in ("..", "__pycache__") and not link.is_symlink():
                link.symlink_to(site / top)


def _base_closure() -> list:
    """The base distributions and everything they require (extras left out),
    as installed here."""
    found, pending = {}, list(BASE_DISTRIBUTIONS)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a requirement for another platform (tzdata on Windows)
        found[key] = distribution
        for requirement in distribution.requires or ():
            match = _REQUIREMENT_NAME.match(requirement)
            if match and "extra ==" not in requirement:
                pending.append(match.group(1))
    return list(found.values())
