"""The REST edge: FastAPI routes over adapters, errors as problem+json."""

from strangler.rest.app import build_adapters, build_app, create_app

__all__ = ["build_adapters", "build_app", "create_app"]
