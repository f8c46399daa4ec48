"""The `elmr` command as a user meets it on the first day: `elmr env` prints the key
the running server accepts (whichever way the server got it), and `elmr logs` says
what it needs when it cannot find a data dir. Quick: no cluster is started."""

import os
import subprocess
import sys
from pathlib import Path

ELMR = Path(sys.executable).parent / "elmr"
AWS = Path(sys.executable).parent / "aws"


def _clean_env(**extra) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ELMR_", "AWS_"))}
    return {**environment, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", **extra}


def test_env_prints_the_key_of_a_server_started_with_elmr_access_key_id(server):
    """The session's server took its key from ELMR_ACCESS_KEY_ID/ELMR_SECRET_ACCESS_KEY;
    a shell without them evaluates `elmr env` and `aws s3 ls` works."""
    printed = subprocess.run([str(ELMR), "env", "--data-dir", str(server.data_dir)], env=_clean_env(),
                             capture_output=True, text=True, check=True, timeout=60).stdout
    exports = dict(line.removeprefix("export ").split("=", 1) for line in printed.splitlines())
    assert exports["AWS_ACCESS_KEY_ID"] == server.access_key_id
    assert exports["AWS_SECRET_ACCESS_KEY"] == server.secret_access_key
    server.client("s3").create_bucket(Bucket="first-day")
    listed = subprocess.run([str(AWS), "s3", "ls"], env=_clean_env(**exports), capture_output=True, text=True,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "first-day" in listed.stdout


def test_logs_without_a_data_dir_says_what_it_needs(tmp_path):
    answer = subprocess.run([str(ELMR), "logs", "j-ABCDEFGHIJKLM"], cwd=tmp_path, env=_clean_env(),
                            capture_output=True, text=True, timeout=60)
    assert answer.returncode == 2
    assert "--data-dir" in answer.stderr and "Traceback" not in answer.stderr
    assert not (tmp_path / ".elmr").exists()  # nothing created where there was nothing


def test_logs_finds_the_data_dir_from_elmr_data_dir(server, tmp_path):
    answer = subprocess.run([str(ELMR), "logs", "j-NOSUCHCLUSTER1"], cwd=tmp_path,
                            env=_clean_env(ELMR_DATA_DIR=str(server.data_dir)),
                            capture_output=True, text=True, timeout=60)
    assert answer.returncode == 2 and "no cluster j-NOSUCHCLUSTER1" in answer.stderr
