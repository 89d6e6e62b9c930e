"""The fault switch: a model made to fail or slow on purpose, for game days and demos.

Off unless the spec says ``models.faults: true``; then the model server offers

.. code-block:: http

    PUT /admin/models/reorder/faults
    {"error_rate": 0.5, "delay_ms": 300}

    200 {"model": "reorder", "error_rate": 0.5, "delay_ms": 300.0, "since": "2026-..."}

and ``GET`` (the switch as it stands) and ``DELETE`` (the model healthy again) on
the same path. While a fault is set, every run of the model (over the v2
protocol, ``/predict`` and a gateway route's modern side alike) waits
``delay_ms`` first, then fails with :class:`~strangler.errors.ModelError`
(a 500 problem) with probability ``error_rate``. Each injected delay and error
counts in ``strangler_model_faults_injected_total{model, kind}``, and the switch
itself shows in ``strangler_model_fault_error_rate{model}`` and
``strangler_model_fault_delay_seconds{model}``, so a chart never mistakes a
drill for an incident.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ConfigDict, Field

from strangler.errors import ModelError

if TYPE_CHECKING:
    from fastapi import APIRouter

    from strangler.inference.server import ModelServer

__all__ = ["Fault", "FaultChange", "FaultState", "Faults", "faults_router"]

MAX_DELAY_MS = 60_000.0

INJECTED = Counter(
    "strangler_model_faults_injected",
    "Faults injected on purpose by the fault switch, by kind: delay, error.",
    ("model", "kind"),
)
ERROR_RATE = Gauge(
    "strangler_model_fault_error_rate",
    "The share of runs the fault switch fails on purpose (0: off).",
    ("model",),
)
DELAY = Gauge(
    "strangler_model_fault_delay_seconds",
    "The delay the fault switch adds to every run on purpose (0: off).",
    ("model",),
)


@dataclass(frozen=True, slots=True)
class Fault:
    """What the switch does to a model's runs, set at ``since``."""

    error_rate: float
    delay_ms: float
    since: datetime


class FaultChange(BaseModel):
    """The fault to set: a share of runs that fail, a delay before every run."""

    model_config = ConfigDict(extra="forbid")

    error_rate: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.0, description="The share of runs that fail with a 500 problem (0..1)."
    )
    delay_ms: Annotated[float, Field(ge=0, le=MAX_DELAY_MS)] = Field(
        default=0.0, description="Milliseconds every run waits before it starts."
    )


class FaultState(BaseModel):
    """A model's fault switch as it stands (zeros and no ``since``: healthy)."""

    model: str
    error_rate: float
    delay_ms: float
    since: datetime | None = Field(description="When the fault was set.")


class Faults:
    """The fault switch of every model, by name (empty: every model healthy)."""

    def __init__(self, seed: int | None = None) -> None:
        self.active: dict[str, Fault] = {}
        self._rng = random.Random(seed)

    def set(self, model: str, error_rate: float, delay_ms: float) -> Fault:
        """Make ``model`` fail and/or slow from now on; both zero clears the switch."""
        if error_rate <= 0 and delay_ms <= 0:
            self.clear(model)
            return Fault(0.0, 0.0, datetime.now(UTC))
        fault = Fault(float(error_rate), float(delay_ms), datetime.now(UTC))
        self.active[model] = fault
        ERROR_RATE.labels(model).set(fault.error_rate)
        DELAY.labels(model).set(fault.delay_ms / 1000)
        return fault

    def clear(self, model: str) -> None:
        """``model`` healthy again."""
        self.active.pop(model, None)
        ERROR_RATE.labels(model).set(0)
        DELAY.labels(model).set(0)

    def get(self, model: str) -> Fault | None:
        return self.active.get(model)

    async def inject(self, model: str, version: str) -> None:
        """Wait and/or fail as the switch says for ``model`` (nothing when it is off)."""
        fault = self.active.get(model)
        if fault is None:
            return
        if fault.delay_ms > 0:
            INJECTED.labels(model, "delay").inc()
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.error_rate > 0 and self._rng.random() < fault.error_rate:
            INJECTED.labels(model, "error").inc()
            raise ModelError(
                f"model {model!r} failed on purpose: the fault switch is on "
                f"(error_rate {fault.error_rate:g}); DELETE /admin/models/{model}/faults clears it",
                model=model,
                version=version,
            )


def faults_router(server: ModelServer) -> APIRouter:
    """``GET``, ``PUT`` and ``DELETE /admin/models/{model}/faults`` over ``server``'s switch."""
    from fastapi import APIRouter

    from strangler.rest.problems import problem_responses

    router = APIRouter(prefix="/admin/models", tags=["models admin"])
    responses = problem_responses({404: "No such model."})
    changes = problem_responses(
        {404: "No such model.", 422: "A rate outside 0..1, a negative or too long delay."}
    )
    faults = server.faults

    def current(model: str) -> FaultState:
        server.model(model)  # UnknownModel (404) for a model not served
        fault = faults.get(model)
        if fault is None:
            return FaultState(model=model, error_rate=0.0, delay_ms=0.0, since=None)
        return FaultState(
            model=model, error_rate=fault.error_rate, delay_ms=fault.delay_ms, since=fault.since
        )

    @router.get(
        "/{model}/faults",
        summary="The model's fault switch (zeros: healthy)",
        operation_id="getModelFaults",
        responses=responses,
    )
    async def get_faults(model: str) -> FaultState:
        return current(model)

    @router.put(
        "/{model}/faults",
        summary="Make the model fail or slow on purpose (game days, demos)",
        description="Every run of the model waits delay_ms, then fails with a 500 problem "
        "with probability error_rate, until the switch is cleared. Counted in "
        "strangler_model_faults_injected_total.",
        operation_id="putModelFaults",
        responses=changes,
    )
    async def put_faults(model: str, change: FaultChange) -> FaultState:
        current(model)
        faults.set(model, change.error_rate, change.delay_ms)
        return current(model)

    @router.delete(
        "/{model}/faults",
        summary="Clear the model's fault switch: healthy again",
        operation_id="deleteModelFaults",
        responses=responses,
    )
    async def delete_faults(model: str) -> FaultState:
        current(model)
        faults.clear(model)
        return current(model)

    return router
