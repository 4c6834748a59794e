"""`serial_id_column` is part of migrations that already ran: the DDL it gives is pinned here,
on both backends, so an edit that would change history fails."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, PrimaryKeyConstraint, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import Column, CreateTable
from todo_common.migrations import serial_id_column


def ddl(dialect: Dialect, name: str = "id") -> str:
    table = Table(
        "t",
        MetaData(),
        serial_id_column(name),
        Column("owner_id", String(128), nullable=False),
        PrimaryKeyConstraint(name, name="pk_t"),
    )
    return " ".join(str(CreateTable(table).compile(dialect=dialect)).split())


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (
            postgresql.dialect(),
            "CREATE TABLE t ( id BIGSERIAL NOT NULL, owner_id VARCHAR(128) NOT NULL, "
            "CONSTRAINT pk_t PRIMARY KEY (id) )",
        ),
        (
            sqlite.dialect(),
            "CREATE TABLE t ( id INTEGER NOT NULL, owner_id VARCHAR(128) NOT NULL, "
            "CONSTRAINT pk_t PRIMARY KEY (id) )",
        ),
    ],
)
def test_the_key_column_is_bigserial_on_postgresql_and_integer_on_sqlite(
    dialect: Dialect, expected: str
) -> None:
    assert ddl(dialect) == expected


def test_each_call_is_a_new_column_named_as_asked() -> None:
    first, second = serial_id_column(), serial_id_column("seq")
    assert first is not serial_id_column()  # a Column belongs to one table
    assert (first.name, second.name) == ("id", "seq")
    assert first.autoincrement is True and first.nullable is False
