"""Schema versions. A new database gets today's tables; an older one is stepped up.

To change a table: bump SCHEMA_VERSION and add a step (version -> function of a
sync Connection) that moves an existing database there without losing rows.

The tables are the machinery's (bot/store/tables.py, bot/windows.py) and those each ability declares beside its
code: `migrate` loads the abilities first, so whatever opens a database first (the bot, a `qunguan` command, a
test, the bench) creates every table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import Connection, MetaData, inspect, select, text
from sqlalchemy.schema import CreateIndex
from sqlmodel import SQLModel

from bot.registry import load_abilities
from bot.store import tables

SCHEMA_VERSION = 9


def schema() -> MetaData:
    """Every table: SQLModel's metadata once the abilities (and the built-ins) are loaded."""
    load_abilities()
    return SQLModel.metadata


def _add_new_tables(conn: Connection) -> None:
    """Version 2 only adds tables (outbox, name and topic history): create the missing ones."""
    schema().create_all(conn, checkfirst=True)


def _add_new_tables_and_indexes(conn: Connection) -> None:
    """Version 3 adds tables (reload requests, broadcasts): create whatever table or index is missing;
    existing rows stay as they are."""
    metadata = schema()
    metadata.create_all(conn, checkfirst=True)
    for table in metadata.sorted_tables:
        for index in table.indexes:  # IF NOT EXISTS: reflection does not see expression indexes
            conn.execute(CreateIndex(index, if_not_exists=True))


def add_missing(conn: Connection, metadata: MetaData | None = None) -> None:
    """Version 4 adds tables and columns: whatever table, column or index the models have and the database
    lacks is added; existing rows stay. A new column on an existing table must be nullable or have a
    server default, since old rows get no value."""
    metadata = metadata or schema()
    metadata.create_all(conn, checkfirst=True)
    inspector = inspect(conn)
    preparer = conn.dialect.identifier_preparer
    for table in metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable and column.server_default is None:
                raise SchemaError(f"column {table.name}.{column.name} is new: make it nullable or give a default")
            kind = column.type.compile(dialect=conn.dialect)
            default = ""
            if column.server_default is not None:
                default = f" DEFAULT {column.server_default.arg}"  # type: ignore[attr-defined]
            name = preparer.format_column(column)
            conn.exec_driver_sql(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {name} {kind}{default}")
        for index in table.indexes:  # IF NOT EXISTS: reflection does not see expression indexes
            conn.execute(CreateIndex(index, if_not_exists=True))


# Indexes a release dropped: each was written for nothing (a column every message rewrites; a second index over
# columns another one covers already).
DROPPED_INDEXES = ("ix_members_last_active", "ix_room_members_inviter")


def _drop_indexes(conn: Connection) -> None:
    """Version 9 drops DROPPED_INDEXES; the rows stay, and so does every other index."""
    for name in DROPPED_INDEXES:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


STEPS: Mapping[int, Callable[[Connection], None]] = {
    2: _add_new_tables,
    3: _add_new_tables_and_indexes,
    4: add_missing,
    5: add_missing,  # Growth II: profile values, orders and their summary, exchanges, message days, outbox.announce
    6: add_missing,  # the web console: one-time login links and sessions
    7: add_missing,  # the console's pages: traces and their counts, and whatever else they keep
    8: add_missing,  # a fleet: accounts on events and the outbox, speaker leases, held events (bot/fleet/tables.py)
    9: _drop_indexes,
}
_KEY = "schema_version"
# PostgreSQL advisory lock key (any constant bigint, the same in every process): 'qunguan' in ASCII.
_MIGRATE_LOCK = 0x7175_6E67_7561_6E


class SchemaError(Exception):
    pass


def version(conn: Connection) -> int | None:
    """The schema version a database is at; None for one with no Qunguan settings table (empty or foreign)."""
    if not inspect(conn).has_table(tables.Setting.__tablename__):
        return None
    row = conn.execute(select(tables.Setting.value).where(tables.Setting.key == _KEY)).first()
    return int(row[0]) if row else None


def _set_version(conn: Connection, version: int) -> None:
    table = tables.Setting.__table__
    conn.execute(table.delete().where(table.c.key == _KEY))
    conn.execute(table.insert().values(key=_KEY, value=str(version)))


def migrate(
    conn: Connection,
    *,
    latest: int = SCHEMA_VERSION,
    steps: Mapping[int, Callable[[Connection], None]] = STEPS,
) -> int:
    """Bring the database to `latest`; returns the version it was at (0 when new).

    On PostgreSQL several processes of a fleet may start at once on one empty database: each would see no
    tables and create them, and all but one fail on 'already exists'. A transaction-scoped advisory lock makes
    them take turns; the ones after the first find the schema current and do nothing."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATE_LOCK})
    current = version(conn)
    if current is None:
        if inspect(conn).get_table_names():
            raise SchemaError("the database has tables but no schema version: is it a Qunguan database?")
        schema().create_all(conn)
        _set_version(conn, latest)
        return 0
    if current > latest:
        raise SchemaError(
            f"the database is at schema version {current}, newer than this Qunguan ({latest}); "
            "upgrade Qunguan or use a backup"
        )
    pending = range(current + 1, latest + 1)
    missing = [v for v in pending if v not in steps]
    if missing:  # before any step runs: never leave a database half-way
        raise SchemaError(f"no migration step to schema version {missing[0]}")
    for step in pending:
        steps[step](conn)
        _set_version(conn, step)
    return current
