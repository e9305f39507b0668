"""The lab registry's mail server: IRRd mails a report to the submitter and notifications to
the maintainers (`upd-to`, `mnt-nfy`, `notify`) after every update, and answers an update with
an error if it cannot. This SMTP server keeps each message as a file in a folder instead
(nothing is relayed), so a lab can show the notifications a real registry would send.

    python mailsink.py PORT FOLDER      (listens on 127.0.0.1:PORT, in the registry's namespace)

Standard library only: it runs with IRRd's Python, as the registry's unprivileged user.
"""

from __future__ import annotations

import socketserver
import sys
import time
from pathlib import Path

MAX_MESSAGE = 1_000_000


class Handler(socketserver.StreamRequestHandler):
    folder: Path

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 lab-registry-mail ESMTP")
        while True:
            raw = self.rfile.readline(4096)
            if not raw:
                return
            verb = raw.decode("utf-8", "replace").strip().split(" ", 1)[0].upper()
            if verb in ("HELO", "EHLO"):
                self.reply("250 lab-registry-mail")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                body = bytearray()
                while (line := self.rfile.readline(65536)) and line not in (b".\r\n", b".\n"):
                    if len(body) < MAX_MESSAGE:
                        body += line[1:] if line.startswith(b"..") else line
                name = f"{time.time_ns()}.eml"
                (self.folder / name).write_bytes(bytes(body))
                self.reply("250 kept")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main() -> None:
    port, folder = int(sys.argv[1]), Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    Handler.folder = folder
    with Server(("127.0.0.1", port), Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
