"""Start the real ``greenhttp`` command in a subprocess and talk to it (tests only)."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "greenhttp"]


class Running:
    def __init__(self, proc: subprocess.Popen, urls: list[str]) -> None:
        self.proc = proc
        self.urls = urls
        self.url = urls[0]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)

    def workers(self) -> list[int]:
        """Pids of the master's live children."""
        path = f"/proc/{self.proc.pid}/task/{self.proc.pid}/children"
        with open(path) as f:
            return [int(pid) for pid in f.read().split()]

    def wait_workers(self, count: int, exclude: set[int] = frozenset(),  # type: ignore[assignment]
                     timeout: float = 10) -> list[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [p for p in self.workers() if p not in exclude]
            if len(pids) == count and len(self.workers()) == count:
                return pids
            time.sleep(0.05)
        states = {}
        for pid in self.workers():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    states[pid] = f.read().split()[2]
            except OSError:
                pass
        raise AssertionError(f"expected {count} workers, have {states} (pid: state)")


def start(*args: str, lines: int = 1, cwd: Any = ROOT, env: dict | None = None) -> Running:
    """Run ``greenhttp ARGS`` and wait for its ``lines`` listening-address lines."""
    proc = subprocess.Popen(CLI + list(args), cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    urls = []
    for _ in range(lines):
        line = proc.stdout.readline().strip()  # type: ignore[union-attr]
        if not line:
            proc.kill()
            raise AssertionError(f"no address line; stderr={proc.stderr.read()}")  # type: ignore[union-attr]
        urls.append(line)
    return Running(proc, urls)


def write_app(directory: pathlib.Path, source: str, name: str = "app.py") -> str:
    path = directory / name
    path.write_text(source)
    return str(path)


__all__ = ["CLI", "ROOT", "Running", "start", "write_app", "os"]
