"""ListTasks: paging with signed tokens, every filter and every order."""

from __future__ import annotations

import base64
import json

import grpc
import pytest
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_testkit.rpc_errors import expect_rpc_error

INVALID = grpc.StatusCode.INVALID_ARGUMENT
PAST = 1_000_000_000  # 2001
SOON = 1_900_000_000  # 2030
LATER = 2_000_000_000  # 2033


def titles(tasks) -> list[str]:
    return [t.title for t in tasks]


async def test_pages_cover_every_task_once_in_order(new_task_caller):
    alice = await new_task_caller()
    created = await alice.create_numbered(7)
    pages = []
    token = ""
    while True:
        page = await alice.list_tasks(page_size=3, page_token=token)
        pages.append(titles(page.tasks))
        token = page.next_page_token
        if not token:
            break
    assert pages == [["t0", "t1", "t2"], ["t3", "t4", "t5"], ["t6"]]
    everything = await alice.list_tasks(page_size=500)
    assert [t.id for t in everything.tasks] == [t.id for t in created]
    assert everything.next_page_token == ""


async def test_exact_multiple_of_page_size_has_no_empty_last_page(new_task_caller):
    alice = await new_task_caller()
    await alice.create_numbered(4)
    first = await alice.list_tasks(page_size=2)
    second = await alice.list_tasks(page_size=2, page_token=first.next_page_token)
    assert titles(second.tasks) == ["t2", "t3"]
    assert second.next_page_token == ""


async def test_default_and_maximum_page_size(new_task_caller):
    alice = await new_task_caller()
    await alice.create_numbered(55)
    page = await alice.list_tasks()
    assert len(page.tasks) == 50
    rest = await alice.list_tasks(page_token=page.next_page_token)
    assert titles(rest.tasks) == [f"t{i}" for i in range(50, 55)]
    # Above the maximum is clamped, not an error.
    assert len((await alice.list_tasks(page_size=100_000)).tasks) == 55


async def test_page_size_may_change_between_pages(new_task_caller):
    alice = await new_task_caller()
    await alice.create_numbered(5)
    first = await alice.list_tasks(page_size=1)
    rest = await alice.list_tasks(page_size=10, page_token=first.next_page_token)
    assert titles(rest.tasks) == ["t1", "t2", "t3", "t4"]


async def test_a_task_deleted_between_pages_does_not_break_paging(new_task_caller):
    alice = await new_task_caller()
    tasks = await alice.create_numbered(4)
    first = await alice.list_tasks(page_size=2)
    await alice.delete(tasks[1].id)  # the cursor's own task
    rest = await alice.list_tasks(page_size=2, page_token=first.next_page_token)
    assert titles(rest.tasks) == ["t2", "t3"]


def _tamper(token: str) -> str:
    body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["i"] = "00000000-0000-7000-8000-000000000000"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{forged}.{signature}"


async def test_forged_and_tampered_tokens_are_rejected(new_task_caller):
    alice = await new_task_caller()
    await alice.create_numbered(3)
    token = (await alice.list_tasks(page_size=1)).next_page_token
    assert token
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    unsigned = base64.urlsafe_b64encode(b'{"v":1,"k":null,"i":"x"}').decode()
    for bad in (
        "garbage",
        "a.b",
        "....",
        flipped,
        _tamper(token),
        token + "x",
        unsigned,
        token.split(".")[0] + ".",
        "x" * 5000,
    ):
        error = await expect_rpc_error(alice.list_tasks(page_size=1, page_token=bad), INVALID)
        assert error.reason == "INVALID_PAGE_TOKEN", bad
        assert [v.field for v in error.field_violations] == ["page_token"]
    # The genuine token still works.
    assert titles((await alice.list_tasks(page_size=1, page_token=token)).tasks) == ["t1"]


@pytest.mark.parametrize(
    "other",
    [
        {"state": pb.TASK_STATE_OPEN},
        {"priority": pb.TASK_PRIORITY_MEDIUM},
        {"tag": "home"},
        {"query": "t"},
        {"overdue": True},
        {"due_after": {"seconds": 0}},
        {"due_before": {"seconds": LATER}},
        {"order_by": "create_time desc"},
        {"order_by": "priority"},
    ],
)
async def test_token_is_bound_to_the_exact_filters_and_order(new_task_caller, other):
    alice = await new_task_caller()
    await alice.create_numbered(3, tags=["home"])
    token = (await alice.list_tasks(page_size=1)).next_page_token
    error = await expect_rpc_error(
        alice.list_tasks(page_size=1, page_token=token, **other), INVALID
    )
    assert error.reason == "INVALID_PAGE_TOKEN"


async def test_equivalent_spellings_share_tokens(new_task_caller):
    alice = await new_task_caller()
    await alice.create_numbered(3, tags=["home"])
    token = (
        await alice.list_tasks(page_size=1, tag="#Home", order_by="create_time")
    ).next_page_token
    page = await alice.list_tasks(
        page_size=5, tag="home", order_by=" create_time  asc", page_token=token
    )
    assert titles(page.tasks) == ["t1", "t2"]


async def test_another_users_token_is_rejected(new_task_caller):
    alice = await new_task_caller()
    bob = await new_task_caller()
    await alice.create_numbered(3)
    await bob.create_numbered(3, prefix="b")
    token = (await alice.list_tasks(page_size=1)).next_page_token
    error = await expect_rpc_error(bob.list_tasks(page_size=1, page_token=token), INVALID)
    assert error.reason == "INVALID_PAGE_TOKEN"


async def test_users_only_see_their_own_tasks(new_task_caller):
    alice = await new_task_caller()
    bob = await new_task_caller()
    await alice.create(title="alice's", tags=["shared"])
    await bob.create(title="bob's", tags=["shared"])
    assert titles(await alice.list_all()) == ["alice's"]
    assert titles(await bob.list_all(tag="shared", query="'s")) == ["bob's"]


# The catalogue's titles in the order it creates them.
CREATED = ["open-low-past", "open-high-soon", "done-past", "open-nodue", "open-later", "Café crème"]


@pytest.fixture
async def catalogue(new_task_caller):
    """One user with a task of every kind, keyed by title."""
    alice = await new_task_caller()
    specs = [
        (
            "open-low-past",
            {"priority": pb.TASK_PRIORITY_LOW, "due_time": {"seconds": PAST}, "tags": ["Work"]},
        ),
        (
            "open-high-soon",
            {
                "priority": pb.TASK_PRIORITY_HIGH,
                "due_time": {"seconds": SOON},
                "notes": "Call the BANK",
            },
        ),
        (
            "done-past",
            {
                "priority": pb.TASK_PRIORITY_HIGH,
                "due_time": {"seconds": PAST},
                "tags": ["work", "home"],
            },
        ),
        (
            "open-nodue",
            {"priority": pb.TASK_PRIORITY_MEDIUM, "tags": ["home"], "notes": "50% off_sale"},
        ),
        ("open-later", {"priority": pb.TASK_PRIORITY_MEDIUM, "due_time": {"seconds": LATER}}),
        ("Café crème", {"priority": pb.TASK_PRIORITY_LOW, "notes": "100_percent"}),
    ]
    assert [title for title, _ in specs] == CREATED
    tasks = {}
    for title, fields in specs:
        tasks[title] = await alice.create(title=title, **fields)
    await alice.complete(tasks["done-past"].id)
    return alice


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            {},
            CREATED,
        ),
        (
            {"state": pb.TASK_STATE_OPEN},
            ["open-low-past", "open-high-soon", "open-nodue", "open-later", "Café crème"],
        ),
        ({"state": pb.TASK_STATE_COMPLETED}, ["done-past"]),
        ({"priority": pb.TASK_PRIORITY_HIGH}, ["open-high-soon", "done-past"]),
        ({"priority": pb.TASK_PRIORITY_LOW}, ["open-low-past", "Café crème"]),
        ({"tag": "work"}, ["open-low-past", "done-past"]),
        ({"tag": "#HOME"}, ["done-past", "open-nodue"]),
        ({"tag": "nothing"}, []),
        ({"due_before": {"seconds": SOON}}, ["open-low-past", "done-past"]),
        ({"due_before": {"seconds": SOON + 1}}, ["open-low-past", "open-high-soon", "done-past"]),
        ({"due_after": {"seconds": SOON}}, ["open-high-soon", "open-later"]),
        ({"due_after": {"seconds": SOON}, "due_before": {"seconds": LATER}}, ["open-high-soon"]),
        ({"overdue": True}, ["open-low-past"]),
        ({"query": "bank"}, ["open-high-soon"]),
        ({"query": "OPEN-"}, ["open-low-past", "open-high-soon", "open-nodue", "open-later"]),
        ({"query": "CAFÉ"}, ["Café crème"]),
        ({"query": "50%"}, ["open-nodue"]),
        ({"query": "%"}, ["open-nodue"]),
        ({"query": "_"}, ["open-nodue", "Café crème"]),
        ({"query": "50_"}, []),
        ({"query": "o%f"}, []),
        ({"tag": "work", "state": pb.TASK_STATE_OPEN}, ["open-low-past"]),
        (
            {"priority": pb.TASK_PRIORITY_MEDIUM, "query": "open", "due_after": {"seconds": 0}},
            ["open-later"],
        ),
        ({"overdue": True, "state": pb.TASK_STATE_COMPLETED}, []),
    ],
)
async def test_filters(catalogue, filters, expected):
    assert titles(await catalogue.list_all(**filters)) == expected
    # The same answer one task per page, following tokens.
    assert titles(await catalogue.list_all(page_size=1, **filters)) == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (
            "",
            CREATED,
        ),
        (
            "create_time",
            CREATED,
        ),
        (
            "create_time desc",
            CREATED[::-1],
        ),
        # Ties on the due time keep creation order; no due time comes last either way.
        (
            "due_time",
            [
                "open-low-past",
                "done-past",
                "open-high-soon",
                "open-later",
                "open-nodue",
                "Café crème",
            ],
        ),
        (
            "due_time desc",
            [
                "open-later",
                "open-high-soon",
                "open-low-past",
                "done-past",
                "open-nodue",
                "Café crème",
            ],
        ),
        (
            "priority",
            [
                "open-low-past",
                "Café crème",
                "open-nodue",
                "open-later",
                "open-high-soon",
                "done-past",
            ],
        ),
        (
            "priority desc",
            [
                "open-high-soon",
                "done-past",
                "open-nodue",
                "open-later",
                "open-low-past",
                "Café crème",
            ],
        ),
    ],
)
async def test_orders(catalogue, order_by, expected):
    assert titles(await catalogue.list_all(order_by=order_by)) == expected
    for size in (1, 2, 4):
        assert titles(await catalogue.list_all(order_by=order_by, page_size=size)) == expected


async def test_filter_and_order_together_across_pages(catalogue):
    found = await catalogue.list_all(
        state=pb.TASK_STATE_OPEN, order_by="due_time desc", page_size=2
    )
    assert titles(found) == [
        "open-later",
        "open-high-soon",
        "open-low-past",
        "open-nodue",
        "Café crème",
    ]
