"""Tasks fixtures: a real tasks server on a free port, with its own database, verifying tokens
against the module's real auth server.

    async def test_something(tasks_service, sign_up):
        alice = await sign_up()
        await tasks_service.stub.ListTasks(ListTasksRequest(), metadata=alice.metadata, timeout=5)

`running_tasks_service` starts extra servers with other settings (another database, another
token issuer or audience) for fault tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo.tasks.v1 import tasks_service_pb2_grpc
from todo_common.settings import TokenSettings
from todo_tasks.server import migrate, start_tasks_server
from todo_tasks.settings import TasksSettings

from todo_testkit.auth import AuthServiceHandle, SignedUpUser, SignUp
from todo_testkit.databases import IsolatedDatabase, drop_database, new_database
from todo_testkit.servers import ServerHandle, fixture_settings, serving


def stamp(moment: datetime) -> Timestamp:
    """A protobuf Timestamp of an aware datetime."""
    value = Timestamp()
    value.FromDatetime(moment)
    return value


@dataclass
class TasksServiceHandle(
    ServerHandle[TasksSettings, "tasks_service_pb2_grpc.TaskServiceAsyncStub"]
):
    """A running tasks server, its settings, token settings and database, and a channel +
    stub to it."""

    token_settings: TokenSettings
    database: IsolatedDatabase


def tasks_test_settings(database: IsolatedDatabase, **overrides: Any) -> TasksSettings:
    """Settings for a test server: port 0, the given database, a small pool."""
    return fixture_settings(TasksSettings, database, **overrides)


def token_settings_for(auth: AuthServiceHandle, **overrides: Any) -> TokenSettings:
    """Verifier settings that trust `auth` (its address, issuer and audience)."""
    values: dict[str, Any] = {
        "issuer": auth.settings.token.issuer,
        "audience": auth.settings.token.audience,
        "auth_address": auth.address,
        "jwks_refetch_cooldown_seconds": 1.0,
    }
    values.update(overrides)
    return TokenSettings(**values)


@asynccontextmanager
async def running_tasks_service(
    folder: Path,
    auth: AuthServiceHandle,
    *,
    database: IsolatedDatabase | None = None,
    token_overrides: dict[str, Any] | None = None,
    **overrides: Any,
) -> AsyncIterator[TasksServiceHandle]:
    """Starts a tasks server on a migrated database and stops it after.

    Without `database` a fresh one is made (and dropped after); with one, it is migrated and
    left in place (so two servers can share a database). `overrides` are TasksSettings
    fields; `token_overrides` are TokenSettings fields (e.g. another expected audience).
    """
    owned = database is None
    database = database or new_database("tasks", folder)
    try:
        settings = tasks_test_settings(database, **overrides)
        token_settings = token_settings_for(auth, **(token_overrides or {}))
        await migrate(settings)
        running = await start_tasks_server(settings, token_settings)
        async with serving(
            running,
            TasksServiceHandle,
            tasks_service_pb2_grpc.TaskServiceStub,
            settings=settings,
            token_settings=token_settings,
            database=database,
        ) as handle:
            yield handle
    finally:
        if owned:
            await drop_database(database)


@pytest.fixture(scope="module")
async def tasks_service(
    auth_service: AuthServiceHandle, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TasksServiceHandle]:
    """A real tasks server for the module, on 127.0.0.1:0 with its own fresh database,
    trusting the module's `auth_service`."""
    async with running_tasks_service(tmp_path_factory.mktemp("tasks"), auth_service) as handle:
        yield handle


@dataclass
class TaskCaller:
    """One signed-up user calling the tasks service with their own token."""

    user: SignedUpUser
    stub: tasks_service_pb2_grpc.TaskServiceAsyncStub
    timeout: float = 10.0

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The user's `authorization` metadata."""
        return self.user.metadata

    async def _call(self, rpc: Callable[..., Awaitable[Any]], request: Message) -> Any:
        """One unary call as this user: their token, this caller's deadline."""
        return await rpc(request, metadata=self.metadata, timeout=self.timeout)

    async def create(self, title: str = "A task", request_id: str = "", **fields: Any) -> pb.Task:
        """Creates a task (`fields` are other Task fields) and returns it."""
        request = pb.CreateTaskRequest(task=pb.Task(title=title, **fields), request_id=request_id)
        response: pb.CreateTaskResponse = await self._call(self.stub.CreateTask, request)
        return response.task

    async def create_filled(self, title: str, due: datetime, **fields: Any) -> pb.Task:
        """A task with every content field set — notes "2 litres", priority high, the tag
        "errands" and due at `due` — for tests that check a copy or a restore keeps each."""
        return await self.create(
            title,
            notes="2 litres",
            priority=pb.TASK_PRIORITY_HIGH,
            tags=["errands"],
            due_time=stamp(due),
            **fields,
        )

    async def create_numbered(self, count: int, prefix: str = "t", **fields: Any) -> list[pb.Task]:
        """Creates `count` tasks titled t0, t1, … one after another (so creation order is title
        order) and returns them; `fields` are other Task fields for all of them."""
        return [await self.create(title=f"{prefix}{n}", **fields) for n in range(count)]

    async def get(self, task_id: str) -> pb.Task:
        """GetTask."""
        response: pb.GetTaskResponse = await self._call(
            self.stub.GetTask, pb.GetTaskRequest(id=task_id)
        )
        return response.task

    async def list_tasks(self, **fields: Any) -> pb.ListTasksResponse:
        """One ListTasks call (`fields` are ListTasksRequest fields)."""
        response: pb.ListTasksResponse = await self._call(
            self.stub.ListTasks, pb.ListTasksRequest(**fields)
        )
        return response

    async def list_all(self, **fields: Any) -> list[pb.Task]:
        """Every matching task, following next_page_token to the end."""
        tasks: list[pb.Task] = []
        token = ""
        while True:
            page = await self.list_tasks(page_token=token, **fields)
            tasks.extend(page.tasks)
            token = page.next_page_token
            if not token:
                return tasks

    async def update(self, task: pb.Task, *paths: str) -> pb.Task:
        """UpdateTask with `task` (id, new values, optional etag) and the given mask."""
        mask = field_mask_pb2.FieldMask(paths=paths)
        response: pb.UpdateTaskResponse = await self._call(
            self.stub.UpdateTask, pb.UpdateTaskRequest(task=task, update_mask=mask)
        )
        return response.task

    async def complete(self, task_id: str, etag: str = "") -> pb.Task:
        """CompleteTask."""
        return await self._set_state(self.stub.CompleteTask, pb.CompleteTaskRequest, task_id, etag)

    async def reopen(self, task_id: str, etag: str = "") -> pb.Task:
        """ReopenTask."""
        return await self._set_state(self.stub.ReopenTask, pb.ReopenTaskRequest, task_id, etag)

    async def _set_state(
        self, rpc: Callable[..., Awaitable[Any]], request_type: Any, task_id: str, etag: str
    ) -> pb.Task:
        """CompleteTask and ReopenTask: the same request shape, the task as it now is back."""
        response = await self._call(rpc, request_type(id=task_id, etag=etag))
        task: pb.Task = response.task
        return task

    async def delete(self, task_id: str, etag: str = "") -> None:
        """DeleteTask."""
        await self._call(self.stub.DeleteTask, pb.DeleteTaskRequest(id=task_id, etag=etag))


@pytest.fixture
def alice_tasks(tasks_service: TasksServiceHandle, alice: SignedUpUser) -> TaskCaller:
    """alice's tasks, straight from the module's tasks service."""
    return TaskCaller(user=alice, stub=tasks_service.stub)


@pytest.fixture
def bob_tasks(tasks_service: TasksServiceHandle, bob: SignedUpUser) -> TaskCaller:
    """bob's tasks, straight from the module's tasks service."""
    return TaskCaller(user=bob, stub=tasks_service.stub)


NewTaskCaller = Callable[[], Awaitable[TaskCaller]]


@pytest.fixture
def new_task_caller(tasks_service: TasksServiceHandle, sign_up: SignUp) -> NewTaskCaller:
    """`await new_task_caller()` signs up a fresh user and returns a TaskCaller for them."""

    async def make() -> TaskCaller:
        return TaskCaller(user=await sign_up(), stub=tasks_service.stub)

    return make
