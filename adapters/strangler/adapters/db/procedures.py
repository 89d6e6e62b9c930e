"""Stored procedures as operations: ``POST /database/{system}/{procedure}``.

The body holds the parameters the spec lists (typed); the answer is
``{"rows": [...]}``, the procedure's first result set. The call is written per
database, with every argument bound:

* PostgreSQL: ``SELECT * FROM fn(?, ...)`` (a set-returning or scalar function);
* MariaDB / MySQL: ``CALL proc(?, ...)``;
* SQL Server: ``EXEC proc ?, ...``;
* other ODBC databases: the ODBC escape ``{CALL proc(?, ...)}``.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import sqlalchemy as sa
from pydantic import Base64Bytes, BaseModel, ConfigDict, Field, create_model
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import TextClause

from strangler.adapters.base import Operation
from strangler.adapters.db.models import model_name
from strangler.spec.database import ParamType, ProcedureSpec

__all__ = ["ProcedureResult", "build_operations", "call_statement"]

_PARAM_TYPES: dict[ParamType, Any] = {
    "string": str,
    "integer": int,
    "decimal": decimal.Decimal,
    "float": float,
    "boolean": bool,
    "date": dt.date,
    "datetime": dt.datetime,
    "time": dt.time,
    "bytes": Base64Bytes,
}


class ProcedureResult(BaseModel):
    """The first result set of a procedure call."""

    rows: list[dict[str, Any]] = Field(
        description="One object per row; decimals as strings, dates ISO 8601, binary base64."
    )


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


def build_operations(
    system: str, procedures: dict[str, ProcedureSpec], dbms: str
) -> list[Operation[tuple[str, ...]]]:
    """One operation per procedure of the spec (``ValueError`` where there are none)."""
    if procedures and dbms == "sqlite":
        raise ValueError("SQLite has no stored procedures; remove 'procedures' from the spec")
    operations = []
    for name, spec in procedures.items():
        fields: dict[str, Any] = {p: (_PARAM_TYPES[t], ...) for p, t in spec.params.items()}
        model = create_model(
            model_name(system, name, "Params"),
            __base__=_Params,
            __doc__=f"The parameters of {name}, in call order.",
            **fields,
        )
        operations.append(
            Operation(
                system=system,
                name=name,
                route=(name,),
                input_model=model,
                output_model=ProcedureResult,
                summary=spec.summary or f"Call {name}",
                description=f"Calls the stored procedure {name}; answers its first result set.",
                safe=spec.safe,
                tags=(system,),
                target=tuple(spec.params),
            )
        )
    return operations


def call_statement(
    dbms: str, dialect: Dialect, name: str, params: tuple[str, ...], values: dict[str, Any]
) -> TextClause:
    """The call of ``name`` with ``values`` bound as ``:p0, :p1…`` (never inlined)."""
    quote = dialect.identifier_preparer.quote
    target = ".".join(quote(part) for part in name.split("."))
    marks = [f":p{i}" for i in range(len(params))]
    args = ", ".join(marks)
    if dbms == "postgresql":
        text = f"SELECT * FROM {target}({args})"
    elif dbms == "mysql":
        text = f"CALL {target}({args})"
    elif dbms == "mssql":
        text = f"EXEC {target} {args}".rstrip()
    else:
        text = f"{{CALL {target}({args})}}"
    binds = {f"p{i}": values[param] for i, param in enumerate(params)}
    return sa.text(text).bindparams(**binds)
