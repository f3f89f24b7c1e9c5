"""Per table, what must be equal on both sides of a move: the row count, the sum of every integer column, the
count of true values of every flag, the total length of every text column, the count of every time column and
the sum of every float column (to rounding)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Connection, Table, TypeDecorator, case, func, select

Value = int | float


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    measures: dict[str, Value]  # 'sum(points)' -> 1234

    def differences(self, other: Fingerprint) -> list[str]:
        """What differs, as 'rows 10 != 9' or 'sum(points) 500 != 480'; empty when the two agree."""
        found = [f"rows {self.rows} != {other.rows}"] if self.rows != other.rows else []
        for name, value in self.measures.items():
            theirs = other.measures.get(name)
            if theirs is None or not _same(value, theirs):
                found.append(f"{name} {value} != {theirs}")
        return found


def _same(a: Value, b: Value) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return a == b


def _measure(column: Column[Any]) -> tuple[str, Any] | None:
    stored = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    try:
        kind = stored.python_type
    except NotImplementedError:
        return None
    if kind is bool:
        return f"true({column.name})", func.sum(case((column.is_(True), 1), else_=0))
    if kind is int:
        return f"sum({column.name})", func.sum(column)
    if kind is float:
        return f"sum({column.name})", func.sum(column)
    if kind is str:
        return f"length({column.name})", func.sum(func.length(column))
    if kind in (datetime, date):
        return f"count({column.name})", func.count(column)
    return None


def _number(value: Any) -> Value:
    if value is None:
        return 0
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value if isinstance(value, int | float) else int(value)


def fingerprint(conn: Connection, table: Table) -> Fingerprint:
    """One query over the whole table, whatever its size."""
    measures = [m for m in (_measure(c) for c in table.columns) if m is not None]
    row = conn.execute(select(func.count(), *(expr for _, expr in measures)).select_from(table)).one()
    return Fingerprint(int(row[0]), {name: _number(v) for (name, _), v in zip(measures, row[1:], strict=True)})
