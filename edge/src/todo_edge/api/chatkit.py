"""`POST /chatkit` (the ChatKit protocol) and `POST /api/chatkit/session`.

`/chatkit` takes the same bearer token as the REST API. What a client can get wrong is checked
before the SDK's `process()` runs (`chatkit.requests`), so it is a 400/404 problem and never a
500. JSON operations answer `application/json`. Streaming operations answer
`text/event-stream` (see `chatkit.transport`): the first event is produced before the status
line is sent, so a failure that early is still a problem response; later failures are `error`
events.

`/api/chatkit/session` returns a client secret for ChatKit front-ends that ask the host for one
(`getClientSecret`). The edge cannot mint tokens (only the auth service holds signing keys) and
auth has no RPC for a narrower token, so the secret is the caller's own verified internal
access token (an external token is first exchanged for one) with its own expiry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from chatkit.server import NonStreamingResult
from fastapi import APIRouter, Header, Request, Response
from starlette.responses import JSONResponse

from todo_edge.chatkit.item_json import read_response
from todo_edge.chatkit.requests import chat_context, check_request, client_errors, parse_request
from todo_edge.chatkit.transport import EventStreamResponse
from todo_edge.dependencies import CurrentUser, State
from todo_edge.problems import problem_responses
from todo_edge.ratelimit import enforce

router = APIRouter(tags=["chatkit"])

_CHATKIT_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "A ChatKit protocol request: `{type, params, metadata}`.",
            }
        }
    },
}


@router.post(
    "/chatkit",
    summary="The ChatKit protocol endpoint",
    responses={
        200: {
            "description": "JSON for reads and updates; an SSE stream for streaming operations.",
            "content": {"application/json": {}, "text/event-stream": {}},
        },
        **problem_responses(400, 401, 404, 413, 429, 503),
    },
    openapi_extra={"requestBody": _CHATKIT_BODY},
)
async def chatkit_endpoint(
    request: Request,
    user: CurrentUser,
    state: State,
    accept_language: Annotated[str | None, Header()] = None,
    x_time_zone: Annotated[
        str | None, Header(description="The user's IANA time zone, e.g. Europe/London.")
    ] = None,
) -> Response:
    """Point a ChatKit front-end here (`api.url`), sending `Authorization: Bearer <token>`
    from its custom `fetch`. Operations: threads.create / add_user_message / retry_after_item /
    custom_action (+3 more) stream SSE; the rest answer JSON."""
    settings, server = state.settings, state.chat_server
    body = await request.body()
    context = chat_context(user, accept_language, x_time_zone, settings)
    with client_errors():
        parsed = parse_request(body)
        await check_request(parsed, server.chat_store, settings, context)
        # items.list / threads.get_by_id: the stored item JSON spliced in (`item_json.py`).
        answer = await read_response(parsed, server, server.chat_store, context)
        if answer is not None:
            return Response(answer, media_type="application/json")
        result = await server.process_parsed(parsed, context)
        if isinstance(result, NonStreamingResult):
            return Response(result.json, media_type="application/json")
        return await EventStreamResponse.open(
            result, heartbeat_seconds=settings.chatkit_heartbeat_seconds
        )


@router.post(
    "/api/chatkit/session",
    summary="A client secret for a ChatKit front-end",
    responses=problem_responses(401, 429, 503),
)
async def chatkit_session(user: CurrentUser, state: State) -> JSONResponse:
    """Returns `{client_secret, expires_at}`: send the secret as the bearer token to
    `/chatkit`. It is a short-lived internal access token for the caller (their own, or the
    one an external token was exchanged for) and expires with it; ask again before then."""
    settings = state.settings
    await enforce(
        state.limiter,
        f"chatkit-session:{user.user_id}",
        settings.chatkit_sessions_per_user,
        settings.rate_limit_window_seconds,
        "ChatKit session requests",
    )
    expires_at = datetime.fromtimestamp(user.expires_at, UTC) if user.expires_at else None
    return JSONResponse(
        {
            "client_secret": user.token,
            "expires_at": expires_at.isoformat().replace("+00:00", "Z") if expires_at else None,
        },
        headers={"Cache-Control": "no-store"},
    )
