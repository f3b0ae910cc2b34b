"""Tiny status server for the build farm."""

import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

HOST = "127.0.0.1"


def port_from_env():
    raw = os.environ.get("APP_PORT")
    if raw is None:
        return 8080
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        print(f"APP_PORT must be an integer in 1..65535, not {raw!r}", file=sys.stderr)
        sys.exit(2)
    return int(raw)


PORT = port_from_env()


class Status(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main(argv):
    if "--dry-run" in argv:
        print(f"serving on {HOST}:{PORT}")
        return 0
    HTTPServer((HOST, PORT), Status).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
