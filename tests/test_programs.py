"""How a node starts bootstrap actions and step programs (elmr/agent/programs.py):
directly, as EMR's Java runners do, and with /bin/sh for a script that has no #!
line (the kernel refuses it with ENOEXEC; execvp, a shell and Java run it with sh)."""

import os
import shutil
import subprocess

from elmr.agent import programs


def run(argv, tmp_path) -> str:
    process = programs.start(argv, env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return process.communicate(timeout=60)[0].decode()


def executable(path, text: str):
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_a_script_without_an_interpreter_line_runs_with_sh(tmp_path):
    script = executable(tmp_path / "no-shebang", 'echo "sh ran me with $# args: $1" "$0"\n')
    assert run([str(script), "one two"], tmp_path) == f"sh ran me with 1 args: one two {script}\n"
    assert run(["no-shebang", "x"], tmp_path) == f"sh ran me with 1 args: x {script}\n", "found on PATH"


def test_a_script_with_an_interpreter_line_and_a_binary_run_directly(tmp_path):
    script = executable(tmp_path / "python-script", "#!/usr/bin/env python3\nimport sys\nprint('python', sys.argv[1:])\n")
    assert run([str(script), "a"], tmp_path) == "python ['a']\n"
    binary = tmp_path / "echo-copy"
    shutil.copy(shutil.which("echo"), binary)
    assert run([str(binary), "from", "a binary"], tmp_path) == "from a binary\n"
