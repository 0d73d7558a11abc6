"""The whole package type-checks: mypy (mypy.ini at the root, types-gevent from the test
extra) reports no error. Part of the protocol layer, so CI (tests/run.sh) and every
``-m protocol`` run check it; mypy's incremental cache keeps a repeat run to seconds."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)  # a cold run (no .mypy_cache) on a loaded 2-core machine
def test_mypy_reports_no_error() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "mypy.ini")],
                            cwd=ROOT, capture_output=True, text=True)
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, output
    assert "Success: no issues found" in output
