"""A model version's ``metadata.yaml``: what the model was trained on and how to feed it.

.. code-block:: yaml

    feature_view: item_features          # a view or service of the spec's features:
    feature_view_version: 1
    inputs:                              # input tensor -> the features that are its columns
      features: [unitsSold7d, unitsSold28d, onHand, reorderPoint]
    request_fields: [quantityOnHand]     # features a caller may pass at request time
    outputs:
      label: {labels: ["no", "yes"]}     # class labels of an output, by index

Every key is optional: a version without the file is served all the same
(over the v2 protocol, where callers pass tensors).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PositiveInt, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from strangler.errors import SpecError, SpecProblem
from strangler.spec.common import Frozen

__all__ = ["METADATA_FILE", "OutputMetadata", "VersionMetadata", "load_metadata"]

METADATA_FILE = "metadata.yaml"


class OutputMetadata(Frozen):
    """What an output's values mean."""

    labels: list[str] | None = Field(
        default=None, description="Class labels: the output's value i means labels[i]."
    )
    description: str | None = None


class VersionMetadata(Frozen):
    """The metadata of one model version."""

    feature_view: str | None = Field(
        default=None, description="The feature view or service the model was trained on."
    )
    feature_view_version: PositiveInt | None = None
    inputs: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Input tensor name -> the feature names that are its columns, in order.",
    )
    request_fields: list[str] = Field(
        default_factory=list,
        description="Features a caller may pass with the request (they override the table's).",
    )
    outputs: dict[str, OutputMetadata] = Field(default_factory=dict)
    description: str | None = None


def load_metadata(folder: Path) -> VersionMetadata:
    """The metadata in ``folder`` (empty when it has no ``metadata.yaml``).

    A file that is not valid YAML or breaks the schema is a
    :class:`~strangler.errors.SpecError` naming the file and the field.
    """
    path = folder / METADATA_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return VersionMetadata()
    except OSError as exc:
        raise SpecError([SpecProblem(str(path), None, "", f"cannot read: {exc.strerror}")]) from exc
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise SpecError([SpecProblem(str(path), None, "", f"not valid YAML: {exc}")]) from None
    try:
        return VersionMetadata.model_validate(data or {})
    except ValidationError as exc:
        raise SpecError(
            [
                SpecProblem(str(path), None, ".".join(str(p) for p in err["loc"]), err["msg"])
                for err in exc.errors(include_url=False)
            ]
        ) from None
