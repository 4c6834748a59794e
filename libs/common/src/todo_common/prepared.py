"""Hot reads as prepared statements on PostgreSQL, the same statements through SQLAlchemy on
SQLite.

A read outside any unit of work costs 1.2 to 1.6 ms through the SQLAlchemy asyncio session
(statement compilation, result processing, greenlet hops) and ~0.2 ms as a prepared statement
on the pooled connection's asyncpg driver connection (measured for a 51-row page; asyncpg
prepares each SQL text once per connection and caches it). `PreparedReads.fetch` runs a Core
`Select` built once with named parameters (`bindparam`): on PostgreSQL its compiled text on the
driver connection, on SQLite through a read session. Rows are addressable by column name
either way. asyncpg decodes the columns itself the way SQLAlchemy's dialect set it up
(timestamptz as aware UTC datetimes, timestamp as naive ones, json through its codec).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Select

from todo_common.db import Database, is_postgres

# A row by column name: an asyncpg Record or a SQLAlchemy RowMapping.
Values = Mapping[Any, Any]
# A SELECT of any columns.
AnySelect = Select[*tuple[Any, ...]]


class PreparedReads:
    """Runs read statements of one database; see the module docstring. Never write with it."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._postgres = is_postgres(database.engine)
        self._dialect = database.engine.dialect
        self._sql: dict[AnySelect, tuple[str, tuple[str, ...], dict[str, Any]]] = {}

    async def fetch(self, statement: AnySelect, params: dict[str, Any]) -> Sequence[Values]:
        """The statement's rows for the named parameters."""
        if not self._postgres:
            async with self._db.read_session() as session:
                result = await session.execute(statement, params)
                return [row._mapping for row in result]
        sql, names, constants = self._compiled(statement)
        values = {**constants, **params}
        async with self._db.read_connection() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            records = await driver.fetch(sql, *(values[name] for name in names))
        return cast(Sequence[Values], records)

    def _compiled(self, statement: AnySelect) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        """The statement's PostgreSQL text (`$1`, `$2`, ...), its parameter names in order,
        and the values of the parameters the statement fixes itself (literals such as the
        open state of the overdue filter)."""
        found = self._sql.get(statement)
        if found is None:
            compiled = statement.compile(dialect=self._dialect)
            constants = {
                name: bind.value for name, bind in compiled.binds.items() if bind.value is not None
            }
            found = (compiled.string, tuple(compiled.positiontup or ()), constants)
            self._sql[statement] = found
        return found
