"""Rollout state, the audit log and the analyses, in the gateway's state database.

Three tables beside the routes' live state:

``strangler_canary_rollouts``
    one row per route: the step index, the status (``running``, ``paused``,
    ``promoted``, ``rolled_back``), when the step began, why the last change
    was made, the lease (which controller acts on the route, until when) and a
    ``version`` raised by every change. A change is written only if the
    version is still the one it was decided on (:meth:`RolloutStore.change`),
    so two controllers deciding on the same step cannot both move it.
``strangler_canary_audit``
    every change: what (``start``, ``promote``, ``rollback``, ``pause``,
    ``resume``, ``complete``), when, from and to which state, why, by whom
    (a controller's id, or the actor named to the admin API) and the figures
    of the analysis it rests on. Written in the change's own transaction.
``strangler_canary_analyses``
    each analysis of the acting controller, for the charts; the newest
    :data:`KEEP_ANALYSES` per route are kept.

All methods block: call them from a thread.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from strangler.canary.analysis import Analysis
from strangler.canary.samples import create_tables

__all__ = [
    "ANALYSES",
    "AUDIT",
    "KEEP_ANALYSES",
    "ROLLOUTS",
    "Rollout",
    "RolloutStore",
    "Status",
]

Status = Literal["running", "paused", "promoted", "rolled_back"]
STATUSES: tuple[Status, ...] = ("running", "paused", "promoted", "rolled_back")
KEEP_ANALYSES = 5000

METADATA = sa.MetaData()
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ROLLOUTS = sa.Table(
    "strangler_canary_rollouts",
    METADATA,
    sa.Column("route", sa.String(64), primary_key=True),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("step_started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("holder", sa.String(128), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
AUDIT = sa.Table(
    "strangler_canary_audit",
    METADATA,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("route", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("from_state", sa.String(32), nullable=False),
    sa.Column("to_state", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("figures", sa.Text, nullable=False),
    sa.Index("strangler_canary_audit_route_id", "route", "id"),
)
ANALYSES = sa.Table(
    "strangler_canary_analyses",
    METADATA,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("route", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("weight", sa.Float, nullable=False),
    sa.Column("samples", sa.Integer, nullable=False),
    sa.Column("error_rate", sa.Float, nullable=True),
    sa.Column("p99_ms", sa.Float, nullable=True),
    sa.Column("disagreement_rate", sa.Float, nullable=True),
    sa.Column("verdict", sa.String(8), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("segments", sa.Text, nullable=False),
    sa.Index("strangler_canary_analyses_route_at", "route", "at"),
)


@dataclass(frozen=True)
class Rollout:
    """One route's rollout row."""

    route: str
    step: int
    status: Status
    step_started_at: dt.datetime
    reason: str
    holder: str | None
    lease_until: dt.datetime | None
    version: int
    updated_at: dt.datetime

    def held_by(self, holder: str, now: dt.datetime) -> bool:
        return self.holder == holder and self.lease_until is not None and self.lease_until > now


class RolloutStore:
    """The three tables on a SQLAlchemy engine (see the module)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(self) -> None:
        create_tables(self.engine, METADATA, ROLLOUTS.name)

    # -- rollouts -----------------------------------------------------------

    def ensure(self, route: str, to_state: str, actor: str, reason: str) -> Rollout:
        """The route's row, written at step 0 (``running``, audited) if it has none."""
        now = _now()
        try:
            with self.engine.begin() as conn:
                known = sa.select(ROLLOUTS.c.route).where(ROLLOUTS.c.route == route)
                if conn.execute(known).first():
                    return self.get(route, conn)
                conn.execute(
                    ROLLOUTS.insert().values(
                        route=route, step=0, status="running", step_started_at=now,
                        reason=reason, holder=None, lease_until=None, version=1, updated_at=now,
                    )
                )  # fmt: skip
                _audit(conn, route, now, "start", "", to_state, reason, actor, {})
        except IntegrityError:  # another replica wrote it first: theirs stands
            pass
        return self.get(route)

    def get(self, route: str, conn: sa.Connection | None = None) -> Rollout:
        query = sa.select(ROLLOUTS).where(ROLLOUTS.c.route == route)
        if conn is not None:
            return _rollout(conn.execute(query).one())
        with self.engine.connect() as own:
            return _rollout(own.execute(query).one())

    def all(self) -> dict[str, Rollout]:
        with self.engine.connect() as conn:
            return {row.route: _rollout(row) for row in conn.execute(sa.select(ROLLOUTS))}

    def lease(self, route: str, holder: str, ttl_s: float) -> bool:
        """Take or renew the route's lease for ``ttl_s``; ``False`` while another holds it."""
        now = _now()
        with self.engine.begin() as conn:
            done = conn.execute(
                ROLLOUTS.update()
                .where(
                    ROLLOUTS.c.route == route,
                    sa.or_(
                        ROLLOUTS.c.holder == holder,
                        ROLLOUTS.c.holder.is_(None),
                        ROLLOUTS.c.lease_until.is_(None),
                        ROLLOUTS.c.lease_until < now,
                    ),
                )
                .values(holder=holder, lease_until=now + dt.timedelta(seconds=ttl_s))
            )
            return bool(done.rowcount)

    def release(self, route: str, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                ROLLOUTS.update()
                .where(ROLLOUTS.c.route == route, ROLLOUTS.c.holder == holder)
                .values(holder=None, lease_until=None)
            )

    def change(
        self,
        current: Rollout,
        *,
        step: int,
        status: Status,
        action: str,
        from_state: str,
        to_state: str,
        reason: str,
        actor: str,
        figures: dict[str, Any],
        new_step: bool,
    ) -> Rollout | None:
        """Write a change decided on ``current`` with its audit row; ``None`` if it moved on.

        ``new_step``: the step's clock starts again (a new step, a resume).
        """
        now = _now()
        values: dict[str, Any] = {
            "step": step, "status": status, "reason": reason,
            "version": current.version + 1, "updated_at": now,
        }  # fmt: skip
        if new_step:
            values["step_started_at"] = now
        with self.engine.begin() as conn:
            done = conn.execute(
                ROLLOUTS.update()
                .where(ROLLOUTS.c.route == current.route, ROLLOUTS.c.version == current.version)
                .values(**values)
            )
            if not done.rowcount:
                return None
            _audit(conn, current.route, now, action, from_state, to_state, reason, actor, figures)
            return self.get(current.route, conn)

    # -- audit and analyses ---------------------------------------------------

    def audit(self, route: str, limit: int = 100) -> list[dict[str, Any]]:
        """The route's audit rows, newest first."""
        t = AUDIT
        query = sa.select(t).where(t.c.route == route).order_by(t.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "id": row.id,
                "at": _utc(row.at).isoformat(),
                "action": row.action,
                "from": row.from_state,
                "to": row.to_state,
                "reason": row.reason,
                "actor": row.actor,
                "figures": json.loads(row.figures),
            }
            for row in rows
        ]

    def add_analysis(self, route: str, analysis: Analysis) -> None:
        """Keep one analysis (and drop the route's beyond :data:`KEEP_ANALYSES` now and then)."""
        t = ANALYSES
        with self.engine.begin() as conn:
            inserted = conn.execute(
                t.insert().values(
                    route=route,
                    at=analysis.at,
                    step=analysis.step,
                    weight=analysis.weight,
                    samples=analysis.samples,
                    error_rate=analysis.error_rate,
                    p99_ms=analysis.p99_ms,
                    disagreement_rate=analysis.disagreement_rate,
                    verdict=analysis.verdict,
                    reasons=json.dumps(list(analysis.reasons)),
                    segments=json.dumps({k: dict(v) for k, v in analysis.segments.items()}),
                )
            )
            key = inserted.inserted_primary_key
            if key is not None and int(key[0]) % 100 == 0:
                cutoff = conn.execute(
                    sa.select(t.c.id)
                    .where(t.c.route == route)
                    .order_by(t.c.id.desc())
                    .offset(KEEP_ANALYSES)
                    .limit(1)
                ).scalar()
                if cutoff is not None:
                    conn.execute(t.delete().where(t.c.route == route, t.c.id <= cutoff))

    def analyses(
        self, route: str, since: dt.datetime | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """The route's analyses since ``since``, oldest first (the newest ``limit``)."""
        t = ANALYSES
        query = sa.select(t).where(t.c.route == route).order_by(t.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(t.c.at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_analysis(row) for row in reversed(rows)]

    def last_analysis(self, route: str) -> dict[str, Any] | None:
        found = self.analyses(route, limit=1)
        return found[0] if found else None


def _audit(
    conn: sa.Connection,
    route: str,
    at: dt.datetime,
    action: str,
    from_state: str,
    to_state: str,
    reason: str,
    actor: str,
    figures: dict[str, Any],
) -> None:
    conn.execute(
        AUDIT.insert().values(
            route=route, at=at, action=action, from_state=from_state, to_state=to_state,
            reason=reason, actor=actor[:128], figures=json.dumps(figures, default=str),
        )
    )  # fmt: skip


def _analysis(row: Any) -> dict[str, Any]:
    return {
        "at": _utc(row.at).isoformat(),
        "step": row.step,
        "weight": row.weight,
        "samples": row.samples,
        "error_rate": row.error_rate,
        "p99_ms": row.p99_ms,
        "disagreement_rate": row.disagreement_rate,
        "verdict": row.verdict,
        "reasons": json.loads(row.reasons),
        "segments": json.loads(row.segments),
    }


def _rollout(row: Any) -> Rollout:
    status: Status = next((s for s in STATUSES if s == row.status), "paused")
    return Rollout(
        route=row.route,
        step=row.step,
        status=status,
        step_started_at=_utc(row.step_started_at),
        reason=row.reason,
        holder=row.holder,
        lease_until=_utc(row.lease_until) if row.lease_until is not None else None,
        version=row.version,
        updated_at=_utc(row.updated_at),
    )


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite gives the stored UTC time back without its zone."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
