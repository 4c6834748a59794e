"""`POST /api/undo`: reverts one task change by the `undo_token` its response carried.

The tasks service decides everything (`UndoChange`): a token is used once, within its window;
another user's token is 404 like a missing one; a used or expired token, or one whose tasks
changed again since, is 409 with the reason (`ALREADY_UNDONE`, `UNDO_EXPIRED`,
`UNDO_CONFLICT`).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from todo.tasks.v1 import tasks_service_pb2

from todo_edge.dependencies import TasksClient
from todo_edge.problems import problem_responses
from todo_edge.schemas import TaskJSONResponse, UndoBody, UndoOut, task_to_json

router = APIRouter(prefix="/api", tags=["tasks"])


@router.post(
    "/undo",
    response_model=UndoOut,
    summary="Undo a task change",
    responses=problem_responses(401, 404, 409, 422, 429, 503, 504),
)
async def undo_change(body: UndoBody, tasks: TasksClient) -> Response:
    """Reverts the change an `undo_token` names: a created task is deleted, a deleted one
    restored, an update, completion or reopening rolled back (a completion's next occurrence
    goes too). Without a token, the caller's most recent change that can still be undone.
    Answers the tasks as the undo left them."""
    reply = await tasks.UndoChange(tasks_service_pb2.UndoChangeRequest(undo_token=body.undo_token))
    return TaskJSONResponse({"tasks": [task_to_json(task) for task in reply.tasks]})
