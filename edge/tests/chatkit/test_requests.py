"""The request context taken from what a client sends (headers), and the SDK's refusals
turned into the problems they mean."""

from __future__ import annotations

import pytest
from chatkit.store import NotFoundError
from todo_common.errors import InvalidArgument, NotFound
from todo_common.tokens import Principal
from todo_edge.chatkit.read_cache import NO_READ_CACHE
from todo_edge.chatkit.requests import (
    NOT_FOUND_ITEM,
    NOT_FOUND_THREAD,
    chat_context,
    client_errors,
)
from todo_edge.settings import EdgeSettings

CALLER = Principal(user_id="u1", token="t1", token_id="s1", expires_at=0)


@pytest.mark.parametrize(
    ("accept_language", "time_zone", "locale", "zone"),
    [
        (None, None, "", "Europe/London"),
        ("ur-PK,en;q=0.8", "Asia/Karachi", "ur-PK", "Asia/Karachi"),
        ("en-GB;q=0.9", " Asia/Karachi ", "en-GB", "Asia/Karachi"),
        ("*", "Mars/Olympus_Mons", "", "Europe/London"),
        ("x" * 36, "Asia/" + "x" * 60, "", "Europe/London"),
        ("", "../../etc/passwd", "", "Europe/London"),
    ],
)
def test_the_context_takes_only_sensible_header_values(
    accept_language: str | None, time_zone: str | None, locale: str, zone: str
) -> None:
    settings = EdgeSettings(environment="test", chatkit_default_time_zone="Europe/London")
    context = chat_context(CALLER, accept_language, time_zone, settings)
    assert (context.user_id, context.token) == ("u1", "t1")
    assert (context.locale, context.time_zone, context.zone.key) == (locale, zone, zone)


def test_each_request_gets_its_own_read_cache() -> None:
    settings = EdgeSettings(environment="test")
    first = chat_context(CALLER, None, None, settings)
    second = chat_context(CALLER, None, None, settings)
    assert first.read_cache.enabled and first.read_cache is not second.read_cache
    assert first.read_cache is not NO_READ_CACHE
    assert first == second  # the cache is not part of who is asking


@pytest.mark.parametrize(
    ("raised", "expected", "detail"),
    [
        (NotFoundError("Thread not found"), NotFound, NOT_FOUND_THREAD),
        (NotFoundError("Thread item not found"), NotFound, NOT_FOUND_ITEM),
        (ValueError("Item msg_1 is not a StructuredInputItem"), InvalidArgument, None),
    ],
)
def test_sdk_refusals_become_problems(
    raised: Exception, expected: type[Exception], detail: str | None
) -> None:
    with pytest.raises(expected) as caught, client_errors():
        raise raised
    if detail is not None:
        assert str(caught.value.args[0]) == detail
    assert "msg_1" not in str(caught.value)


def test_other_errors_pass_through() -> None:
    with pytest.raises(RuntimeError), client_errors():
        raise RuntimeError("a bug")
    with pytest.raises(NotFound), client_errors():
        raise NotFound("Task not found.")
