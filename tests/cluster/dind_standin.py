"""The docker:dind stand-in the test kubelet runs for a ``docker:*dind*`` image.

It replays the start of a real daemon: with ``DIND_STANDIN_LOG`` naming a log captured from a real
dockerd (tests/kube/logs/, made by tests/kube/failing_daemons.py), it prints the entrypoint's
``iptables --version`` line (docker-library/docker dockerd-entrypoint.sh prints it before it
starts dockerd) and the captured log, then exits as dockerd does (status 1). Without it, it listens
on 2375 like a healthy plain-tcp dind (``API listen on [::]:2375``) and answers the Engine API's
``/_ping`` and ``/version``.
"""

from __future__ import annotations

import http.server
import json
import os
import sys
from pathlib import Path

IPTABLES_VERSION = {"legacy": "iptables v1.8.10 (legacy)", "nft": "iptables v1.8.10 (nf_tables)"}


class _Engine(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.endswith("/_ping"):
            body, kind = b"OK", "text/plain; charset=utf-8"
        elif path.endswith("/version"):
            body = json.dumps(
                {
                    "Version": "27.3.1",
                    "ApiVersion": "1.47",
                    "MinAPIVersion": "1.24",
                    "Os": "linux",
                    "Arch": "amd64",
                }
            ).encode()
            kind = "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Api-Version", "1.47")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET


def main() -> int:
    backend = os.environ.get("DIND_STANDIN_BACKEND", "legacy")
    print(IPTABLES_VERSION[backend], flush=True)
    log = os.environ.get("DIND_STANDIN_LOG")
    if log:
        sys.stdout.write(Path(log).read_text())
        sys.stdout.flush()
        return 1
    server = http.server.ThreadingHTTPServer(("", 2375), _Engine)
    print(
        'time="2026-12-07T00:00:00.000000000Z" level=info msg="API listen on [::]:2375"', flush=True
    )
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
