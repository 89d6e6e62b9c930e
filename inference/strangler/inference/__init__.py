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
