"""`eventually`: it returns once a check holds (predicate or assertion, sync or async), fails
with a message that says what it waited for, and lets real errors through at once."""

from __future__ import annotations

import pytest
from todo_testkit.waiting import eventually


async def test_returns_the_result_once_a_predicate_holds() -> None:
    calls: list[int] = []

    def third_time() -> bool:
        calls.append(1)
        return len(calls) >= 3

    assert await eventually(third_time) is True
    assert len(calls) == 3


async def test_an_assertion_is_retried_and_its_value_returned() -> None:
    seen: list[str] = []

    async def two_items() -> list[str]:
        seen.append("x")
        assert len(seen) == 2, seen
        return list(seen)

    assert await eventually(two_items) == ["x", "x"]


async def test_gives_up_after_the_deadline_naming_what_it_waited_for() -> None:
    def never() -> None:
        raise AssertionError("still 503")

    with pytest.raises(AssertionError, match=r"waiting for the edge to be ready .*: still 503"):
        await eventually(never, within=0.05, what="the edge to be ready")


async def test_a_predicate_that_stays_false_says_so() -> None:
    with pytest.raises(AssertionError, match=r"waiting for <lambda> .*stayed False"):
        await eventually(lambda: False, within=0.05)


async def test_other_errors_end_the_wait_at_once() -> None:
    calls: list[int] = []

    def broken() -> bool:
        calls.append(1)
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        await eventually(broken, within=5)
    assert calls == [1]
