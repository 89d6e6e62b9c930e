"""The one declarative spec (``strangler.yaml``) and its loader."""

from strangler.spec.loader import load_spec, parse_spec
from strangler.spec.models import Spec

__all__ = ["Spec", "load_spec", "parse_spec"]
