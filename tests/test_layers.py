"""The layers of DESIGN.md, kept by import-linter's contracts in pyproject.toml."""

import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
