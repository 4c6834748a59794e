"""THE COMPARISON BASELINE for `bench.rest_compare`, not part of the app.

One FastAPI process with SQLAlchemy async + asyncpg that verifies an EdDSA JWT on every
request: the architecture most peers of this project run. It serves the two hot reads of our
REST API, `GET /api/tasks/{id}` and `GET /api/tasks?page_size=50`, over the same table shape
(it reads the tasks service's own table in its schema, so both see the same rows and indexes),
and answers the same JSON. It is written the way such a service usually is: an ORM session per
request, a Pydantic response model, PyJWT against the issuer's public key (JWKS passed in).

    MONOLITH_DATABASE_URL=... MONOLITH_SCHEMA=... MONOLITH_JWKS='{"keys": [...]}' \\
        python -m bench.monolith --port 8123

`bench.rest_compare` starts it next to the real stack; nothing else uses it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

import jwt
import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Query
from sqlalchemy import JSON, DateTime, Integer, SmallInteger, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from todo_edge.recurrence import describe_recurrence
from todo_edge.schemas import TaskListOut, TaskOut

STATES: dict[int, Literal["open", "completed"]] = {1: "open", 2: "completed"}
PRIORITIES: dict[int, Literal["low", "medium", "high"]] = {1: "low", 2: "medium", 3: "high"}


class Base(DeclarativeBase):
    pass


class Task(Base):
    """The same shape as the tasks service's `tasks` table."""

    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text)
    state: Mapped[int] = mapped_column(SmallInteger)
    priority: Mapped[int] = mapped_column(SmallInteger)
    due_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tags: Mapped[list[str]] = mapped_column(JSON)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    complete_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer)
    recurrence: Mapped[str] = mapped_column(String(500))
    time_zone: Mapped[str] = mapped_column(String(64))
    previous_occurrence_id: Mapped[str | None] = mapped_column(String(36))
    deleted_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminders: Mapped[list[dict[str, str]]] = mapped_column(JSON)


def task_out(task: Task) -> TaskOut:
    """The REST form of a task: the edge's own response model (the same JSON), filled from
    the ORM object and validated, as a monolith's handler does."""
    return TaskOut(
        id=task.id,
        title=task.title,
        notes=task.notes,
        state=STATES.get(task.state, "open"),
        priority=PRIORITIES.get(task.priority, "medium"),
        due_time=task.due_time,
        tags=task.tags,
        create_time=task.create_time,
        update_time=task.update_time,
        complete_time=task.complete_time,
        etag=hashlib.sha256(f"{task.id}:{task.version}".encode()).hexdigest()[:20],
        recurrence=task.recurrence or None,
        time_zone=task.time_zone or None,
        repeats=describe_recurrence(task.recurrence),
        previous_occurrence_id=task.previous_occurrence_id,
        reminders=task.reminders or [],
    )


engine = create_async_engine(
    os.environ.get("MONOLITH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
    pool_size=10,
    max_overflow=10,
    connect_args={"server_settings": {"search_path": os.environ.get("MONOLITH_SCHEMA", "public")}},
)
sessions = async_sessionmaker(engine, expire_on_commit=False)
_jwks = json.loads(os.environ.get("MONOLITH_JWKS", '{"keys": []}'))
PUBLIC_KEYS = {key["kid"]: jwt.PyJWK(key).key for key in _jwks["keys"]}
ISSUER = os.environ.get("JWT_ISSUER", "todo-auth")
AUDIENCE = os.environ.get("JWT_AUDIENCE", "todo-api")


async def session() -> AsyncIterator[AsyncSession]:
    async with sessions() as db:
        yield db


def user_id(authorization: Annotated[str, Header()] = "") -> str:
    """Verifies the bearer token in full on every request (signature, issuer, audience, exp)."""
    token = authorization.removeprefix("Bearer ")
    try:
        kid = jwt.get_unverified_header(token).get("kid", "")
        claims = jwt.decode(
            token, PUBLIC_KEYS[kid], algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER
        )
    except (jwt.PyJWTError, KeyError):
        raise HTTPException(401, "invalid token") from None
    return str(claims["sub"])


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)
Db = Annotated[AsyncSession, Depends(session)]
User = Annotated[str, Depends(user_id)]


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/tasks/{task_id}", response_model=TaskOut)
async def get_task(task_id: str, user: User, db: Db) -> TaskOut:
    task = await db.scalar(
        select(Task).where(Task.id == task_id, Task.owner_id == user, Task.deleted_time.is_(None))
    )
    if task is None:
        raise HTTPException(404, "Task not found.")
    return task_out(task)


@app.get("/api/tasks", response_model=TaskListOut)
async def list_tasks(
    user: User, db: Db, page_size: Annotated[int, Query(ge=0, le=500)] = 0
) -> dict[str, Any]:
    size = page_size or 50
    rows = (
        await db.scalars(
            select(Task)
            .where(Task.owner_id == user, Task.deleted_time.is_(None))
            .order_by(Task.create_time, Task.id)
            .limit(size + 1)
        )
    ).all()
    return {
        "tasks": [task_out(task) for task in rows[:size]],
        "next_page_token": rows[size - 1].id if len(rows) > size else None,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")
