"""Starting a node's bootstrap actions and step programs as EMR's runners start them.

EMR's runners are Java: ProcessBuilder executes the program directly, and when the
kernel refuses a file it cannot execute (ENOEXEC: a script with no `#!` line) runs
it with /bin/sh instead, as execvp(3) and a shell do. Python's subprocess makes no
such second try, so this module does: an executable with a `#!` line or a binary
runs directly; a script without an interpreter line runs with /bin/sh.
"""

import errno
import shutil
import subprocess


def start(argv: list[str], env: dict, **popen_args) -> subprocess.Popen:
    """subprocess.Popen(argv, env=env, ...) with /bin/sh for a script with no #! line."""
    try:
        return subprocess.Popen(argv, env=env, **popen_args)
    except OSError as error:
        if error.errno != errno.ENOEXEC:
            raise
    program = shutil.which(argv[0], path=env.get("PATH")) or argv[0]
    return subprocess.Popen(["/bin/sh", program, *argv[1:]], env=env, **popen_args)
