"""Model serving next to the adapters: ONNX models from a repository folder.

The ``models:`` section of the spec names a repository laid out
``models/<name>/<version>/model.onnx`` (each version with a ``metadata.yaml``);
:class:`~strangler.inference.server.ModelServer` loads the versions, serves the
Open Inference Protocol v2 over REST, coalesces concurrent requests into one
``session.run`` per batch, and swaps in new versions while it serves.

In-process, ``server.model("reorder")`` is a
:class:`~strangler.inference.server.ServedModel` whose ``await infer(inputs)``
goes through the same batcher as the HTTP routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strangler.inference.repository import ServedModel
    from strangler.inference.server import ModelServer

__all__ = ["ModelServer", "ServedModel"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the part's registration imports this package, and
    # onnxruntime and numpy load only when models are served.
    if name == "ModelServer":
        from strangler.inference.server import ModelServer

        return ModelServer
    if name == "ServedModel":
        from strangler.inference.repository import ServedModel

        return ServedModel
    raise AttributeError(name)
