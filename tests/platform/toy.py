"""A toy part, from outside the REST package: its own spec section, route, health."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from strangler.platform import BuildContext, Component, Health
from strangler.spec.common import Frozen
from strangler.spec.models import Spec

EVENTS: list[str] = []
"""What toy components did, in order (tests clear it)."""


class ToySpec(Frozen):
    greeting: str
    fail_start: bool = False
    down: bool = False


class Toy:
    kind = "toy"
    prefix = "/toy"

    def __init__(self, name: str, spec: ToySpec) -> None:
        self.name = name
        self.spec = spec
        self.open = False

    async def start(self) -> None:
        EVENTS.append(f"start {self.name}")
        self.open = True
        if self.spec.fail_start:
            raise RuntimeError(f"{self.name} cannot start")

    async def close(self) -> None:
        EVENTS.append(f"close {self.name}")
        self.open = False

    async def health(self) -> Health:
        return Health("down" if self.spec.down else "ok", {"kind": self.kind})

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/greeting")
        async def greeting() -> dict[str, str]:
            return {"greeting": self.spec.greeting, "open": str(self.open)}

        return router


def build(spec: Spec, context: BuildContext) -> Sequence[Component]:
    section: ToySpec = spec.section("toy")
    return [Toy("toy", section)]
