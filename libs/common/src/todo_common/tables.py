"""What every process's table declarations share: the constraint naming rule and `UtcDateTime`.

Each process declares its own base, so its tables (and its Alembic migrations) stay its own:

    class Base(DeclarativeBase):
        metadata = table_metadata()

Names come from the rule, never by hand: `ix_<table>_<every column>`, `uq_<table>_<every
column>`, `fk_<table>_<column>_<referred table>`, `pk_<table>`, `ck_<table>_<name>`. A
migration can then name any constraint from its columns alone, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def table_metadata() -> MetaData:
    """A new MetaData (one per process) that names constraints by `NAMING_CONVENTION`."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores `timestamptz`. SQLite has no time zones, so values are stored as naive
    UTC (which also keeps its text comparison in time order) and read back as aware UTC.
    A naive datetime is refused: its time zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
