"""Each node's own Python (elmr/agent/python_env.py), made as the agent makes it and
used through the PATH the agent gives its bootstrap actions and steps: every way EMR
users write `pip install` lands in that node's environment, never in elmr's own
environment or the system's, and two nodes keep two versions of one package."""

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from elmr.agent import python_env
from probe_wheel import PROBE, build_wheel

INSTALL_FORMS = ["pip install", "pip3 install", "sudo pip3 install", "python3 -m pip install",
                 "sudo -H pip3 install --user"]


def node_shell(node_dir, command: str) -> subprocess.CompletedProcess:
    """`bash -c COMMAND` with the node's PATH, as a bootstrap action runs."""
    env = {**os.environ, **python_env.variables(node_dir, os.environ.get("PATH", ""))}
    return subprocess.run(["bash", "-c", command], env=env, cwd=node_dir, capture_output=True,
                          text=True, timeout=300)


def probe_version(node_dir, package: str = PROBE) -> str:
    answer = node_shell(node_dir, f"python3 -c 'import {package}; print({package}.VERSION)'")
    assert answer.returncode == 0, answer.stderr
    return answer.stdout.strip()


def installed_packages(python: str) -> str:
    return subprocess.run([python, "-m", "pip", "list", "--format=freeze"], capture_output=True,
                          text=True, check=True).stdout


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    directory = tmp_path_factory.mktemp("wheels")
    return {version: build_wheel(directory, version) for version in ("1.0", "2.0", "3.0", "4.0", "5.0")}


def test_every_install_form_installs_into_the_node_environment_only(tmp_path, wheels):
    elmr_packages = installed_packages(sys.executable)
    node = tmp_path / "node"
    python_env.create(node)
    for form, version in zip(INSTALL_FORMS, wheels):
        answer = node_shell(node, f"{form} {wheels[version]}")
        assert answer.returncode == 0, f"{form}: {answer.stderr}"
        assert probe_version(node) == version, form
    assert installed_packages(sys.executable) == elmr_packages
    assert importlib.util.find_spec(PROBE) is None
    system_python = shutil.which("python3", path=os.environ["PATH"])
    assert subprocess.run([system_python, "-c", f"import {PROBE}"], capture_output=True).returncode != 0


def test_two_nodes_hold_two_versions_and_the_base_is_there(tmp_path, wheels):
    first, second = tmp_path / "first", tmp_path / "second"
    for node, version in ((first, "1.0"), (second, "2.0")):
        python_env.create(node)
        assert node_shell(node, f"sudo pip3 install {wheels[version]}").returncode == 0
    assert (probe_version(first), probe_version(second)) == ("1.0", "2.0")
    base = node_shell(first, "python3 -c 'import numpy, pandas, pyarrow, boto3, sys; "
                             "print(numpy.__version__, pandas.__version__, pyarrow.__version__, sys.prefix)'")
    elmr_versions = [importlib.metadata.version(name) for name in ("numpy", "pandas", "pyarrow")]
    assert base.stdout.split() == [*elmr_versions, str(first / "python")], base.stderr
    assert node_shell(first, "python3 -c 'import sqlalchemy'").returncode != 0, "elmr's own packages stay out"


def test_an_installed_package_shadows_the_base_one_without_touching_it(tmp_path):
    elmr_six = importlib.util.find_spec("six").origin
    before = open(elmr_six, "rb").read()
    node = tmp_path / "node"
    python_env.create(node)
    answer = node_shell(node, f"sudo pip3 install {build_wheel(tmp_path, '99.0', name='six')}")
    assert answer.returncode == 0, answer.stderr
    assert "outside environment" in answer.stdout  # pip leaves the base's six alone
    assert probe_version(node, "six") == "99.0"
    assert open(elmr_six, "rb").read() == before
    assert (python_env.base_dir(node) / "six.py").resolve() == Path(elmr_six).resolve()


def test_sudo_runs_the_command_as_the_node_user_with_the_node_environment(tmp_path):
    node = tmp_path / "node"
    python_env.create(node)
    answer = node_shell(node, "sudo -E -u hadoop MARK=set sh -c 'echo $MARK $(id -u) $(command -v python3)'; "
                              "sudo -D / pwd")
    assert answer.stdout.split() == ["set", str(os.getuid()), str(node / "python" / "bin" / "python3"), "/"]


def test_an_existing_environment_is_kept(tmp_path, wheels):
    """An agent restarted on its node finds what was installed there."""
    node = tmp_path / "node"
    python_env.create(node)
    assert node_shell(node, f"pip install {wheels['3.0']}").returncode == 0
    python_env.create(node)
    assert probe_version(node) == "3.0"

