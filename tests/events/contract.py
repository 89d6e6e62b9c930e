"""The AsyncAPI contract, checked: the document against the official 3.0 schema, events
against the schema the document gives for them.

The official schema comes from npm's ``@asyncapi/specs`` (``schemas/3.0.0.json``),
installed by :func:`asyncapi_schema` into ``.cache/npm-asyncapi`` at the repo root
(kept between runs), as ``tests/rest/test_generated_clients.py`` installs its npm
packages. Validation is Python's ``jsonschema``.

Reuse from any event test::

    assert_event_matches(asyncapi_doc, "orders", event)
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
NPM_DIR = ROOT / ".cache" / "npm-asyncapi"
SPECS_VERSION = "6.11.1"
DOCUMENT_URI = "urn:strangler:asyncapi.json"

__all__ = ["assert_asyncapi_valid", "assert_event_matches", "asyncapi_schema", "message_for"]


@cache
def asyncapi_schema() -> dict[str, Any]:
    """The official AsyncAPI 3.0.0 JSON schema (installed from npm on first use)."""
    path = NPM_DIR / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0.json"
    if not path.is_file():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install @asyncapi/specs"
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(NPM_DIR),
             f"@asyncapi/specs@{SPECS_VERSION}"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def assert_asyncapi_valid(document: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``document`` is valid AsyncAPI 3.0.0."""
    schema = asyncapi_schema()
    # the bundle names each definition by its $id: register them all, offline
    registry: Registry[Any] = Registry().with_resources(
        (uri, DRAFT7.create_resource(sub)) for uri, sub in schema["definitions"].items()
    )
    validator = jsonschema.Draft7Validator(schema, registry=registry)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:10]
    )


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def message_for(document: dict[str, Any], stream: str, event_type: str) -> dict[str, Any]:
    """The message the document gives for ``event_type`` on ``stream``'s channel."""
    channel = document["channels"][stream]
    for ref in channel["messages"].values():
        message = _resolve(document, ref)
        if message["name"] == event_type:
            return message
    raise AssertionError(f"channel {stream} has no message {event_type}")


def _validator(document: dict[str, Any], ref: str) -> jsonschema.Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return jsonschema.Draft202012Validator(
        {"$ref": DOCUMENT_URI + ref}, registry=registry, format_checker=jsonschema.FormatChecker()
    )


def assert_event_matches(document: dict[str, Any], stream: str, event: dict[str, Any]) -> None:
    """``event`` (a CloudEvent as JSON) fits the payload the document gives for its type on
    ``stream``'s channel, and its ``data`` fits the schema its ``dataschema`` names."""
    message = message_for(document, stream, event["type"])
    payload = message["payload"]["$ref"]
    _validator(document, payload).validate(event)
    dataschema = event.get("dataschema")
    assert dataschema, "an event of a stream names its dataschema"
    path, _, fragment = dataschema.partition("#")
    assert path == "/asyncapi.json", dataschema
    _resolve(document, {"$ref": "#" + fragment})  # it resolves in the document
    _validator(document, "#" + fragment).validate(event["data"])
