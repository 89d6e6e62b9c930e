"""The parsed WSDL cached on disk, so a restart skips parsing and schema analysis.

An entry holds zeep's parsed ``Document`` and the ``xmlschema`` schema read for
facets, pickled together. It is used only while every local file it was read
from is unchanged (checked by content hash) and, for WSDLs loaded from a URL,
for at most ``max_age_s``. Anything unexpected while reading an entry simply
means a miss: the WSDL is parsed again and the entry rewritten.

zeep's objects are not made for pickling; four things need help: the transport
and settings are re-attached on load (persistent ids), lxml elements and QNames
travel as text, zeep's dynamically created type classes are re-created, and
cached value classes are rebuilt on first use.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import pickle
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

from lxml import etree
from zeep import Settings
from zeep.transports import Transport
from zeep.xsd import ComplexType, CompoundValue

from strangler.adapters.soap import zeep_api
from strangler.errors.redact import mask_url

__all__ = ["WsdlCache"]

log = logging.getLogger(__name__)
_FORMAT = 2


class WsdlCache:
    """A folder of parsed WSDLs keyed by source and library versions."""

    def __init__(self, folder: Path, *, max_age_s: float = 24 * 3600) -> None:
        self.folder = folder
        self.max_age_s = max_age_s

    def _path(self, source: str) -> Path:
        versions = ",".join(version(p) for p in ("zeep", "xmlschema", "lxml"))
        key = hashlib.sha256(f"{_FORMAT}|{versions}|{source}".encode()).hexdigest()[:32]
        return self.folder / f"wsdl-{key}.pickle"

    def load(self, source: str, transport: Transport, settings: Settings) -> tuple[Any, Any] | None:
        """(zeep Document, xmlschema schema or None), or None on a miss."""
        path = self._path(source)
        try:
            with path.open("rb") as file, _deep_recursion():
                header = pickle.load(file)
                if not self._fresh(header):
                    return None
                document, schema = _Unpickler(file, transport, settings).load()
        except FileNotFoundError:
            return None
        except Exception as exc:  # a broken or foreign entry is a miss, never an error
            log.info("ignoring WSDL cache entry %s: %s", path, exc)
            return None
        return document, schema

    def save(self, source: str, document: Any, schema: Any) -> None:
        """Write the entry; failure to write only costs the next start its speed."""
        header = {"source": source, "saved": time.time(), "files": _files_of(document)}
        buffer = io.BytesIO()
        try:
            with _deep_recursion():
                pickle.dump(header, buffer)
                _Pickler(buffer).dump((document, schema))
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as file:
                file.write(buffer.getvalue())
            os.replace(tmp, self._path(source))
        except Exception as exc:
            log.warning("cannot cache the parsed WSDL %s: %s", mask_url(source), exc)

    def _fresh(self, header: dict[str, Any]) -> bool:
        files: dict[str, str | None] = header["files"]
        for location, digest in files.items():
            if digest is None:  # fetched over the network: trust it for max_age_s
                if time.time() - header["saved"] > self.max_age_s:
                    return False
            elif _digest(location) != digest:
                return False
        return True


def _digest(location: str) -> str | None:
    try:
        return hashlib.sha256(Path(location).read_bytes()).hexdigest()
    except OSError:
        return "missing"


def _files_of(document: Any) -> dict[str, str | None]:
    """Every document zeep read for this WSDL, with a content hash for local files."""
    locations = {str(document.location)}
    locations.update(str(d.location) for d in zeep_api.wsdl_definitions(document))
    locations.update(zeep_api.schema_locations(document))
    return {
        loc: None if "://" in loc and not loc.startswith("file://") else _digest(_local(loc))
        for loc in locations
    }


def _local(location: str) -> str:
    return location[len("file://") :] if location.startswith("file://") else location


@contextlib.contextmanager
def _deep_recursion() -> Iterator[None]:
    """Deeply nested schemas pickle recursively; allow it for the duration."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _blank(cls: Any) -> Any:
    return cls.__new__(cls)


_DYNAMIC: dict[tuple[str, tuple[type[Any], ...], str], type[Any]] = {}
_DYNAMIC_LOCK = threading.Lock()


def _dynamic_class(name: str, bases: tuple[type[Any], ...], attrs: dict[str, Any]) -> type[Any]:
    key = (name, bases, zeep_api.dynamic_type_key(attrs))
    with _DYNAMIC_LOCK:
        if key not in _DYNAMIC:
            _DYNAMIC[key] = type(name, bases, attrs)
        return _DYNAMIC[key]


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> str | None:
        if isinstance(obj, Transport):
            return "transport"
        if isinstance(obj, Settings):
            return "settings"
        return None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type):
            if obj.__module__ == zeep_api.DYNAMIC_TYPES_MODULE:
                attrs = {k: v for k, v in vars(obj).items() if k not in ("__dict__", "__weakref__")}
                return (_dynamic_class, (obj.__name__, obj.__bases__, attrs))
            owner = zeep_api.value_class_owner(obj) if issubclass(obj, CompoundValue) else None
            if owner is not None:
                return (zeep_api.value_class, (owner,))
            return NotImplemented
        if isinstance(obj, etree._Element):
            return (etree.fromstring, (etree.tostring(obj),))
        if isinstance(obj, etree.QName):
            return (etree.QName, (obj.text,))
        if isinstance(obj, ComplexType):
            return (_blank, (type(obj),), zeep_api.picklable_state(obj))
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, transport: Transport, settings: Settings) -> None:
        super().__init__(file)
        self._objects = {"transport": transport, "settings": settings}

    def persistent_load(self, pid: Any) -> Any:
        return self._objects[pid]
