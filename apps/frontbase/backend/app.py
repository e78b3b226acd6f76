"""Frontbase backend stand-in: a FastAPI app on SQLite, one per tenant.

GET /health writes and reads the tenant's database (a real answer, not a static "ok") and names the
tenant; GET/POST /api/notes is the tiny API the frontend page calls. The database lives on the
tenant's volume (DATA_DIR, default /data). A real Frontbase backend replaces this image by name in
tenantctl's config; the template only relies on port 8000 and GET /health answering 200.
"""
import os
import sqlite3
import time
from contextlib import closing

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, constr

TENANT_ID = os.environ.get("TENANT_ID", "")
DATABASE_PATH = os.path.join(os.environ.get("DATA_DIR", "/data"), "frontbase.db")
MAX_NOTES_LISTED = 50


def read_secret(name: str) -> str:
    """A secret from the file NAME_FILE points at (copied for this user by the entrypoint)."""
    path = os.environ.get(f"{name}_FILE")
    if not path:
        raise RuntimeError(f"{name}_FILE is not set")
    with open(path, encoding="utf-8") as handle:
        value = handle.read().strip()
    if not value:
        raise RuntimeError(f"{name}_FILE names an empty file")
    return value


# Read once at start: a missing secret stops the service instead of failing requests later.
# (Real Frontbase signs sessions with it; this stand-in only proves it is handed over as a file.)
SECRET_KEY = read_secret("SECRET_KEY")


def connect() -> sqlite3.Connection:
    # One short connection per request: SQLite opens in microseconds, and nothing is held at rest.
    connection = sqlite3.connect(DATABASE_PATH, timeout=5)
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


def create_schema() -> None:
    with closing(connect()) as db, db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS health_checks (id INTEGER PRIMARY KEY CHECK (id = 1),"
            " tenant TEXT NOT NULL, checked_at REAL NOT NULL)"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " text TEXT NOT NULL, created_at REAL NOT NULL)"
        )


create_schema()
app = FastAPI(title="frontbase backend", docs_url=None, redoc_url=None, openapi_url=None)


class NewNote(BaseModel):
    text: constr(strip_whitespace=True, min_length=1, max_length=2000)


@app.get("/health")
def health() -> dict:
    now = time.time()
    try:
        with closing(connect()) as db, db:
            db.execute(
                "INSERT INTO health_checks (id, tenant, checked_at) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, checked_at = excluded.checked_at",
                (TENANT_ID, now),
            )
            tenant, checked_at = db.execute("SELECT tenant, checked_at FROM health_checks WHERE id = 1").fetchone()
    except sqlite3.Error as error:
        raise HTTPException(status_code=503, detail=f"sqlite: {error}") from error
    return {"status": "ok", "service": "backend", "tenant": tenant, "database": "sqlite", "checkedAt": checked_at}


@app.get("/api/notes")
def list_notes() -> dict:
    with closing(connect()) as db:
        rows = db.execute(
            "SELECT id, text, created_at FROM notes ORDER BY id DESC LIMIT ?", (MAX_NOTES_LISTED,)
        ).fetchall()
    return {"tenant": TENANT_ID, "notes": [{"id": i, "text": t, "createdAt": c} for i, t, c in rows]}


@app.post("/api/notes", status_code=201)
def add_note(note: NewNote) -> dict:
    now = time.time()
    with closing(connect()) as db, db:
        cursor = db.execute("INSERT INTO notes (text, created_at) VALUES (?, ?)", (note.text, now))
        note_id = cursor.lastrowid
    return {"id": note_id, "text": note.text, "createdAt": now}
