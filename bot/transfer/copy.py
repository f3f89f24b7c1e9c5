"""Every row of every table from one connection to another, in batches, then checked table by table.

Runs inside one transaction on the target (the caller's): the schema is created, the rows copied, the sequences
set and the checks made before anything commits, so a failure anywhere (a mismatch, a full disk, a killed
process, a lost connection) leaves the target as it was: nothing half-copied is ever visible."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.exc import DBAPIError

from bot.store import dialect, tables
from bot.store.migrations import SCHEMA_VERSION, SchemaError, migrate, schema, version
from bot.transfer.checks import Fingerprint, fingerprint
from bot.transfer.urls import TransferError

BATCH = 1000  # rows read and written at a time: a table never sits in memory whole


@dataclass(frozen=True)
class Moved:
    table: str
    rows: int
    measures: int  # how many column measures were compared
    differences: list[str]


@dataclass
class Report:
    tables: list[Moved] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def ok(self) -> bool:
        return not any(t.differences for t in self.tables)


class Mismatch(TransferError):
    """The target does not hold what the source does: the move is rolled back; the report says where."""

    def __init__(self, report: Report) -> None:
        super().__init__("the copy does not match the source")
        self.report = report


def check_source(source: Connection) -> None:
    """Only a Qunguan database at this Qunguan's schema version is read (an older SQLite file is upgraded in a
    copy before it gets here; see bot/transfer/migrate.py)."""
    found = version(source)
    if found is None:
        raise TransferError("the source is not a Qunguan database (it has no schema version)")
    if found > SCHEMA_VERSION:
        raise TransferError(
            f"the source is at schema version {found}, newer than this Qunguan ({SCHEMA_VERSION}): "
            "upgrade Qunguan first"
        )
    if found < SCHEMA_VERSION:
        raise TransferError(
            f"the source is at schema version {found}, older than this Qunguan ({SCHEMA_VERSION}): open it once "
            "with this Qunguan (e.g. `qunguan audit`) to upgrade it, then migrate"
        )


def prepare_target(target: Connection) -> None:
    """Today's schema on the target, which must hold no shop's rows (its own schema version aside)."""
    try:
        migrate(target)
    except SchemaError as exc:  # a newer Qunguan's database, or not Qunguan's at all
        raise TransferError(f"the target: {exc}") from None
    for table in schema().sorted_tables:
        count = target.execute(select(func.count()).select_from(table)).scalar_one()
        if table.name == tables.Setting.__tablename__:
            count -= 1  # the schema version just written (or found)
        if count:
            raise TransferError(
                f"the target is not empty: table {table.name} holds {count} row(s); "
                "migrate only into a new, empty database"
            )
    target.execute(tables.Setting.__table__.delete())  # the source's settings come over whole


def copy_table(source: Connection, target: Connection, table: Table, batch: int = BATCH) -> int:
    """Stream the table: a server-side cursor on PostgreSQL, SQLite's own cursor; `batch` rows per insert."""
    copied = 0
    result = source.execution_options(yield_per=batch).execute(select(table))
    for rows in result.partitions():
        target.execute(table.insert(), [dict(row._mapping) for row in rows])
        copied += len(rows)
    return copied


def fix_sequences(target: Connection) -> None:
    """PostgreSQL: rows copied with their ids leave each serial's sequence at 1; the next insert would collide."""
    if target.dialect.name != "postgresql":
        return
    for table in schema().sorted_tables:
        column = table.autoincrement_column
        if column is None:
            continue
        target.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f'COALESCE((SELECT MAX("{column.name}") FROM "{table.name}"), 0) + 1, false)'
            ),
            {"table": f'"{table.name}"', "column": column.name},
        )


def transfer(
    source: Connection,
    target: Connection,
    *,
    batch: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> Report:
    """Copy every table of the schema, in dependency order; raise Mismatch if any table's check differs."""
    check_source(source)
    prepare_target(target)
    report = Report()
    for table in schema().sorted_tables:
        try:
            rows = copy_table(source, target, table, batch)
        except DBAPIError as exc:  # a value the target cannot hold, a full disk, a lost connection
            raise TransferError(f"copying table {table.name}: {dialect.describe(exc)}") from exc
        if progress is not None:
            progress(table.name, rows)
    fix_sequences(target)
    for table in schema().sorted_tables:
        theirs: Fingerprint = fingerprint(source, table)
        ours = fingerprint(target, table)
        report.tables.append(Moved(table.name, ours.rows, len(ours.measures), theirs.differences(ours)))
    if not report.ok:
        raise Mismatch(report)
    return report
