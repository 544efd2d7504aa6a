"""The README's examples run as a new user would run them, from the repository root."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def _python_blocks() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_has_a_library_example() -> None:
    assert _python_blocks(), "README.md lost its Python example"


@pytest.mark.slow
@pytest.mark.parametrize("block", _python_blocks())
def test_readme_python_example_runs(block: str, shared_dir: Path) -> None:
    code = block.replace("../shared/", f"{shared_dir.as_posix()}/")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "id_a" in done.stdout
