"""ruff (lint and format, configured in pyproject.toml) passes over the package, tests, tools and notebooks."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_ruff_check_is_clean():
    done = _ruff("check", "--no-cache", ".")
    assert done.returncode == 0, (
        f"ruff check found problems (fix: ruff check --fix .):\n{done.stdout}{done.stderr}"
    )


def test_ruff_format_is_clean():
    done = _ruff("format", "--no-cache", "--check", ".")
    assert done.returncode == 0, (
        f"files need formatting (fix: ruff format .):\n{done.stdout}{done.stderr}"
    )
