"""The demo's ``reorder`` model: what ``strangler demo`` prints to try it.

The model (``models/reorder/1``, built by :mod:`strangler.demo.reorder_model`)
learnt ``GetReorderAdvice``'s rules from the ``item_features`` tables; the demo
serves it over the Open Inference Protocol v2 and by SKU (``/predict/reorder``).
"""

from __future__ import annotations

__all__ = ["prediction_lines"]


def prediction_lines(api: str) -> list[str]:
    """How to ask the demo's reorder model, by SKU and over v2."""
    json = "-H 'content-type: application/json'"
    return [
        f'curl -s -X POST {api}/predict/reorder {json} -d \'{{"entity": {{"sku": "SKU-1003"}}}}\'',
        f"curl -s -X POST {api}/predict/reorder {json} "
        '-d \'{"entity": {"sku": "SKU-1001"}, "features": {"onHand": 40}}\'',
        f"curl -s {api}/v2/models/reorder",
    ]
