"""bpmnlint's recommended rules, run by the real bpmnlint (npm) in one node process kept for the next diagram.

The modeller shows the same rules live (bpmn-js-bpmnlint) and ``make test`` runs the bpmnlint CLI over
the shipped diagrams; the project's ``.bpmnlintrc`` is the one configuration for all three. Where node or
the npm packages are missing (``npm ci`` not run), :func:`lint` returns None and says so once in the log:
the other parts of the gate still run.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import logging
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("bpmnlint.cjs")


@dataclass(frozen=True)
class Report:
    element: str | None
    category: str  # "error" or "warning"
    message: str
    rule: str


class _Server:
    """One ``node bpmnlint.cjs`` for the process: a diagram per line in, its reports per line out."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen[str] | None = None
        self.cache: dict[str, list[Report]] = {}
        self.missing_said = False

    def available(self) -> bool:
        if shutil.which("node") and (ROOT / "node_modules" / "bpmnlint").is_dir():
            return True
        if not self.missing_said:
            log.warning("bpmnlint is not installed here (run npm ci): diagrams are checked without its rules")
            self.missing_said = True
        return False

    def _start(self) -> subprocess.Popen[str]:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(  # noqa: S603 - our own script, no shell
                ["node", str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                encoding="utf-8",
            )  # fmt: skip
        return self.process

    def ask(self, xml: str) -> list[Report]:
        key = hashlib.sha256(xml.encode("utf-8")).hexdigest()
        with self.lock:
            if key not in self.cache:
                self.cache[key] = self._ask(xml)
            return self.cache[key]

    def _ask(self, xml: str) -> list[Report]:
        for attempt in (1, 2):  # a node that died (killed, out of memory) is started again once
            process = self._start()
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(json.dumps(xml) + "\n")
                process.stdin.flush()
                line = process.stdout.readline()
            except (BrokenPipeError, OSError):
                line = ""
            if line:
                return [Report(r.get("id"), r["category"], r["message"], r["rule"]) for r in json.loads(line)]
            process.kill()
            self.process = None
            if attempt == 2:
                return [Report(None, "error", "bpmnlint stopped without an answer: try again", "bpmnlint")]
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self.lock:
            if self.process is not None:
                self.process.kill()
                self.process.wait()
                self.process = None


@functools.cache
def _server() -> _Server:
    server = _Server()
    atexit.register(server.close)
    return server


def lint(xml: bytes | str) -> list[Report] | None:
    """bpmnlint's reports on one diagram, or None where bpmnlint is not installed."""
    server = _server()
    if not server.available():
        return None
    return server.ask(xml.decode("utf-8") if isinstance(xml, bytes) else xml)
