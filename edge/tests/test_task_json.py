"""Task responses are serialised by orjson (`TaskJSONResponse`): the bytes must stay exactly
what Starlette's `JSONResponse` sent before, for every kind of value a task holds."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from starlette.responses import JSONResponse
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_edge.schemas import TaskJSONResponse, task_to_json, timestamp


def test_task_json_bytes_match_starlettes_json_response() -> None:
    full = pb.Task(
        id="0193a5b2-7c4e-7d3a-9f21-5b8c2d4e6f10",
        title='Ünïcödé "quoted" \\ back/slash \u2028 tab\t 日本 🎉',
        notes="line one\nline two\r\n\x01 control",
        state=pb.TASK_STATE_COMPLETED,
        priority=pb.TASK_PRIORITY_HIGH,
        tags=["a", "b c", "ü"],
        etag="3f2a9c",
    )
    full.due_time.CopyFrom(timestamp(datetime(2026, 11, 22, 17, 0, 0, 123456, tzinfo=UTC)))
    full.create_time.CopyFrom(timestamp(datetime(2026, 11, 21, 9, 30, tzinfo=UTC)))
    full.update_time.CopyFrom(timestamp(datetime(2026, 11, 21, 9, 30, 1, 500000, tzinfo=UTC)))
    full.complete_time.CopyFrom(timestamp(datetime(2026, 11, 21, 10, 0, tzinfo=UTC)))
    bare = pb.Task(id="x", title="t")
    page = {"tasks": [task_to_json(full), task_to_json(bare)], "next_page_token": None}
    for body in (
        task_to_json(full),
        task_to_json(bare),
        page,
        {"tasks": [], "next_page_token": "tok"},
    ):
        ours = TaskJSONResponse(body, headers={"ETag": '"e"'})
        before = JSONResponse(body, headers={"ETag": '"e"'})
        assert ours.body == before.body
        assert ours.headers.items() == before.headers.items()


def test_times_are_formatted_exactly_as_protobuf_does() -> None:
    from google.protobuf.timestamp_pb2 import Timestamp
    from todo_edge.schemas import _time

    rng = random.Random(11)
    cases = [(0, 0), (-1, 999_999_999), (-62135596800, 0), (253402300799, 999_999_999)]
    for nanos in (0, 1, 999, 1000, 120_000, 1_000_000, 500_000_000, 123_456_789, 999_999_999):
        cases += [(rng.randrange(-62135596800, 253402300800), nanos) for _ in range(200)]
    for seconds, nanos in cases:
        ts = Timestamp(seconds=seconds, nanos=nanos)
        assert _time(ts) == ts.ToJsonString(), (seconds, nanos)
