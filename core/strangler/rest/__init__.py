"""The REST edge: FastAPI routes over the platform's components, errors as problem+json."""

from strangler.rest.app import build_app, create_app

__all__ = ["build_app", "create_app"]
