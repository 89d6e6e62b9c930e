"""The demo's ``/api/reorder-advice`` route: GetReorderAdvice's contract, whichever side answers.

The rules engine (``inventory.GetReorderAdvice``) answers ``reorder``,
``quantity``, ``reason`` and ``ruleId``; the ``reorder`` model answers a label.
:func:`advice` (the route's ``response.modern`` callable) gives the model's
prediction the same shape, so a client in the canary reads one contract: the
model says whether, not how many (``quantity`` is null), and its ``ruleId``
names the model and version that decided. :func:`route_lines` is what
``strangler demo`` prints to try the route.
"""

from __future__ import annotations

from typing import Any

__all__ = ["advice", "route_lines"]


def advice(prediction: dict[str, Any]) -> dict[str, Any]:
    """A ``/predict/reorder`` answer as a ``ReorderAdvice``."""
    label = prediction["prediction"]["label"]
    model, version = prediction["model"], prediction["version"]
    return {
        "reorder": label == "yes",
        "quantity": None,
        "reason": f"the {model} model (version {version}) says {label}",
        "ruleId": f"MODEL-{model}-{version}",
    }


def route_lines(api: str) -> list[str]:
    """How to ask the route and see where the model disagrees (the rollout moves the
    customers: :func:`strangler.demo.rollout.rollout_lines`)."""
    json = "-H 'content-type: application/json'"
    ask = (
        '{"customerId": "HOLD-7", "sku": "SKU-1001", "quantityOnHand": 3, '
        '"averageDailySales": "4.5", "leadTimeDays": 7}'
    )
    return [
        f"curl -si -X POST {api}/api/reorder-advice {json} -d '{ask}'   (X-Strangler-Side)",
        f"curl -s {api}/admin/routes/reorder-advice/disagreements?limit=5",
    ]
