"""Frontbase edge stand-in: a small HTTP service on SQLite (Python's standard library only).

GET /health writes and reads the edge's own database (EDGE_DATA_DIR, default /data: the tenant's
edge volume) and names the tenant. A real Frontbase edge engine replaces this image by name in
tenantctl's config; the template only relies on the port (PORT, default 3002) and GET /health.
"""
import json
import os
import sqlite3
import time
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TENANT_ID = os.environ.get("TENANT_ID", "")
DATABASE_PATH = os.path.join(os.environ.get("DATA_DIR", "/data"), "edge.db")


def connect() -> sqlite3.Connection:
    return sqlite3.connect(DATABASE_PATH, timeout=5)


def create_schema() -> None:
    with closing(connect()) as db, db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS health_checks (id INTEGER PRIMARY KEY CHECK (id = 1),"
            " tenant TEXT NOT NULL, checked_at REAL NOT NULL)"
        )


def check_database() -> dict:
    now = time.time()
    with closing(connect()) as db, db:
        db.execute(
            "INSERT INTO health_checks (id, tenant, checked_at) VALUES (1, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, checked_at = excluded.checked_at",
            (TENANT_ID, now),
        )
        tenant, checked_at = db.execute("SELECT tenant, checked_at FROM health_checks WHERE id = 1").fetchone()
    return {"status": "ok", "service": "edge", "tenant": tenant, "database": "sqlite", "checkedAt": checked_at}


class Handler(BaseHTTPRequestHandler):
    server_version = "frontbase-edge"
    sys_version = ""

    def do_GET(self) -> None:
        if self.path != "/health":
            self.reply(404, {"error": "not found"})
            return
        try:
            self.reply(200, check_database())
        except sqlite3.Error as error:
            self.reply(503, {"status": "failing", "error": f"sqlite: {error}"})

    def reply(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:
        # Health checks every 30 s (Docker's and tenantctl's) would fill the log: errors only.
        if not (len(args) >= 2 and str(args[1]).startswith(("2", "3"))):
            super().log_message(format, *args)


if __name__ == "__main__":
    create_schema()
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "3002"))), Handler)
    server.daemon_threads = True
    # poll_interval=None: block in select() until a connection arrives (the default wakes every
    # 0.5 s to check for shutdown(), which nothing here calls; SIGTERM ends the process).
    server.serve_forever(poll_interval=None)
