"""A real SMTP server on loopback that can be slow: it answers each message's DATA after ``delay`` seconds.

Enough of RFC 5321 for smtplib (HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT). It records every
message it accepted, by Message-ID, so a test can see a message sent twice.
"""

from __future__ import annotations

import socketserver
import threading
import time
from email import message_from_bytes


class SlowSmtp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.delay = delay
        self.received: list[str] = []
        self.lock = threading.Condition()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"smtp+plain://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> SlowSmtp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def accept(self, raw: bytes) -> None:
        with self.lock:
            self.received.append(str(message_from_bytes(raw)["Message-ID"]))
            self.lock.notify_all()

    def wait_for(self, count: int, limit: float = 120.0) -> bool:
        """Wait until ``count`` messages arrived (the limit only stops a broken run hanging)."""
        with self.lock:
            return self.lock.wait_for(lambda: len(self.received) >= count, timeout=limit)


class _Session(socketserver.StreamRequestHandler):
    server: SlowSmtp

    def handle(self) -> None:
        self._say("220 slow-smtp ready")
        while line := self.rfile.readline():
            verb = line.decode("latin-1").strip().split(" ")[0].upper()
            if verb == "QUIT":
                self._say("221 bye")
                return
            if verb == "DATA":
                self._say("354 end with <CRLF>.<CRLF>")
                self._data()
                continue
            self._say("250 ok")

    def _data(self) -> None:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        time.sleep(self.server.delay)  # the slow part: a busy relay takes its time to accept
        self.server.accept(b"".join(lines))
        self._say("250 queued")

    def _say(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()
