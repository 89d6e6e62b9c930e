"""The model repository: which versions are served, loaded and swapped in while serving.

The folder is laid out as Triton's repositories are, ``<repository>/<name>/<version>/``
holding ``model.onnx`` and optionally ``metadata.yaml``; a version folder's name
is a positive integer, anything else is ignored. Other sources (an MLflow
registry) add versions through :class:`VersionSource`.

:meth:`Repository.reload` reads every source, loads what is new or changed
(in a thread: onnxruntime sessions take a while to build), then swaps the
table of served versions in one assignment on the event loop. A request holds
the version it looked up until it is answered, and a version swapped out
answers what it has queued before its threads stop: no request is dropped or
failed by a reload. A version that fails to load is reported (``failures``)
and tried again once its files change; the version it would have replaced
keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any, Protocol

import numpy.typing as npt

from strangler.errors import BadTensor, StranglerError, UnknownModel
from strangler.inference.batching import Batcher, Outputs
from strangler.inference.faults import Faults
from strangler.inference.metadata import METADATA_FILE, VersionMetadata, load_metadata
from strangler.inference.metrics import VersionMetrics
from strangler.inference.session import Signature, check_inputs, open_session
from strangler.spec.inference import MODEL_NAME, LatestSpec, ModelServeSpec, ModelsSpec

__all__ = [
    "MODEL_FILE",
    "FolderSource",
    "FoundVersion",
    "ModelEntry",
    "Repository",
    "ServedModel",
    "VersionSource",
]

log = logging.getLogger("strangler.inference")

MODEL_FILE = "model.onnx"
_VERSION = re.compile(r"^[1-9][0-9]{0,17}$")

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class FoundVersion:
    """A version some source offers: its folder holds ``model.onnx`` (+ ``metadata.yaml``)."""

    model: str
    version: int
    folder: Path
    source: str = "folder"

    def stamp(self) -> tuple[int, ...]:
        """Changes whenever the version's files do (modification times and sizes)."""
        parts: list[int] = []
        for name in (MODEL_FILE, METADATA_FILE):
            try:
                stat = (self.folder / name).stat()
            except FileNotFoundError:
                parts.extend((0, -1))
            else:
                parts.extend((stat.st_mtime_ns, stat.st_size))
        return tuple(parts)


class VersionSource(Protocol):
    """Where versions come from; :meth:`found` runs in a thread at every reload."""

    def found(self) -> Iterable[FoundVersion]: ...


class FolderSource:
    """The versions in a repository folder laid out ``<name>/<version>/model.onnx``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def found(self) -> Iterable[FoundVersion]:
        try:
            models = sorted(os.scandir(self.folder), key=lambda e: e.name)
        except FileNotFoundError:
            return []
        found: list[FoundVersion] = []
        for model in models:
            if not model.is_dir() or not MODEL_NAME.match(model.name):
                continue
            for version in os.scandir(model.path):
                if (
                    version.is_dir()
                    and _VERSION.match(version.name)
                    and os.path.isfile(os.path.join(version.path, MODEL_FILE))
                ):
                    found.append(FoundVersion(model.name, int(version.name), Path(version.path)))
        return found


class ServedModel:
    """One loaded version of a model: its metadata, signature, session and batcher.

    ``await infer({"input": array})`` checks the arrays against the signature
    (a :class:`~strangler.errors.BadTensor` naming the input otherwise) and runs
    them in the version's next batch.
    """

    __slots__ = (
        "batcher",
        "faults",
        "found",
        "metadata",
        "metrics",
        "name",
        "number",
        "session",
        "signature",
        "stamp",
        "version",
    )

    def __init__(
        self,
        found: FoundVersion,
        stamp: tuple[int, ...],
        metadata: VersionMetadata,
        session: Any,
        signature: Signature,
        settings: ModelServeSpec,
        faults: Faults | None = None,
    ) -> None:
        self.found = found
        self.faults = faults
        self.stamp = stamp
        self.name = found.model
        self.number = found.version
        self.version = str(found.version)
        self.metadata = metadata
        self.session = session
        self.signature = signature
        self.metrics = VersionMetrics(self.name, self.version)
        self.batcher = Batcher(
            session.run,
            [t.name for t in signature.inputs],
            [t.name for t in signature.outputs],
            model=self.name,
            version=self.version,
            batchable=signature.batchable,
            settings=settings.batching,
            instances=settings.instances,
            metrics=self.metrics,
        )

    def __repr__(self) -> str:
        return f"<ServedModel {self.name} version {self.version}>"

    async def infer(self, inputs: Mapping[str, Array]) -> Outputs:
        """The outputs for ``inputs`` (numpy arrays of the signature's dtypes and shapes)."""
        return await self.run(inputs, perf_counter())

    async def run(self, inputs: Mapping[str, Array], started: float) -> Outputs:
        """:meth:`infer` for a caller that started timing the request at ``started``."""
        metrics = self.metrics
        metrics.requests.inc()
        try:
            rows = check_inputs(self.name, self.signature, inputs)
        except BadTensor:
            metrics.bad_input.inc()
            raise
        if self.faults is not None and self.faults.active:  # the fault switch is on
            await self.faults.inject(self.name, self.version)
        outputs = await self.batcher.infer(inputs, rows)
        metrics.latency.observe(perf_counter() - started)
        return outputs


@dataclass(frozen=True)
class ModelEntry:
    """The served versions of one model, by version string; ``latest`` is the highest."""

    name: str
    versions: dict[str, ServedModel]
    latest: ServedModel


@dataclass
class ReloadReport:
    """What one reload did."""

    loaded: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class Repository:
    """The served versions of every model, and how they are reloaded."""

    def __init__(self, spec: ModelsSpec, sources: Iterable[VersionSource] = ()) -> None:
        self.spec = spec
        self.sources: list[VersionSource] = [FolderSource(Path(spec.repository)), *sources]
        self.faults = Faults()
        """The fault switch of every model (see :mod:`strangler.inference.faults`)."""
        self.models: dict[str, ModelEntry] = {}
        self.failures: dict[str, str] = {}  # "model/version" -> why it is not served
        self.scanned = False
        self._lock = asyncio.Lock()
        self._failed_stamps: dict[tuple[str, int], tuple[int, ...]] = {}

    def model(self, name: str, version: str | None = None) -> ServedModel:
        """The served version ``version`` of ``name`` (the latest when ``None``)."""
        entry = self.models.get(name)
        if entry is None:
            raise UnknownModel(name, known=", ".join(sorted(self.models)) or "none")
        if version is None:
            return entry.latest
        served = entry.versions.get(version)
        if served is None:
            raise UnknownModel(name, version, known=", ".join(entry.versions))
        return served

    async def reload(self, only: str | None = None) -> ReloadReport:
        """Read the sources again; load new and changed versions, retire removed ones.

        ``only``: reload just this model (the admin call); ``UnknownModel`` when no
        source offers it.
        """
        async with self._lock:
            current = {
                (name, served.number): served
                for name, entry in self.models.items()
                for served in entry.versions.values()
            }
            report = ReloadReport()
            wanted, loaded = await asyncio.to_thread(self._load, current, only, report)
            if (
                only is not None
                and only not in self.models
                and not any(m == only for m, _ in wanted)
            ):
                raise UnknownModel(only, known=", ".join(sorted(self.models)) or "none")
            table = {k: v for k, v in current.items() if only is not None and k[0] != only}
            for key in wanted:
                served = loaded.get(key) or current.get(key)
                if served is not None:
                    table[key] = served
            self.models = _entries(table)
            self.scanned = True
            for key, old in current.items():
                if table.get(key) is not old:
                    old.batcher.retire()
                    report.retired.append(f"{key[0]}/{key[1]}")
                    if key not in table:
                        VersionMetrics.forget(key[0], str(key[1]))
            self._note_failures(report, wanted, only)
            if report.loaded or report.retired or report.failed:
                log.info(
                    "models reloaded: loaded %s, retired %s, failed %s",
                    report.loaded,
                    report.retired,
                    report.failed,
                )
            return report

    def _note_failures(
        self, report: ReloadReport, wanted: set[tuple[str, int]], only: str | None
    ) -> None:
        for name in report.loaded:
            self.failures.pop(name, None)
        for name in list(self.failures):
            model, _, number = name.partition("/")
            if number.isdigit() and (only is None or model == only):
                if (model, int(number)) not in wanted:
                    del self.failures[name]
            elif only is None and not number:
                del self.failures[name]  # a source's failure: reported again if it still fails
        self.failures.update(report.failed)

    def _load(
        self,
        current: dict[tuple[str, int], ServedModel],
        only: str | None,
        report: ReloadReport,
    ) -> tuple[set[tuple[str, int]], dict[tuple[str, int], ServedModel]]:
        """In a thread: which versions should be served, and those newly loaded."""
        found: dict[tuple[str, int], FoundVersion] = {}
        for source in self.sources:
            try:
                offered = list(source.found())
            except Exception as exc:
                log.warning("model source %r failed: %s", source, exc)
                report.failed[f"source {type(source).__name__}"] = _reason(exc)
                # versions it served before stay served
                offered = [s.found for s in current.values() if s.found.source != "folder"]
            for version in offered:
                if only is None or version.model == only:
                    found.setdefault((version.model, version.version), version)
        by_model: dict[str, list[int]] = {}
        for model, number in found:
            by_model.setdefault(model, []).append(number)
        wanted: set[tuple[str, int]] = set()
        for model, numbers in by_model.items():
            wanted.update((model, n) for n in _pick(self.spec.settings(model), numbers))
        loaded: dict[tuple[str, int], ServedModel] = {}
        for key in sorted(wanted):
            version = found[key]
            stamp = version.stamp()
            old = current.get(key)
            if old is not None and old.stamp == stamp:
                continue
            if self._failed_stamps.get(key) == stamp:
                continue  # failed before and unchanged since
            try:
                loaded[key] = self._open(version, stamp)
            except (StranglerError, ValueError, OSError, RuntimeError) as exc:
                self._failed_stamps[key] = stamp
                report.failed[f"{key[0]}/{key[1]}"] = _reason(exc)
            else:
                self._failed_stamps.pop(key, None)
                report.loaded.append(f"{key[0]}/{key[1]}")
        return wanted, loaded

    def _open(self, version: FoundVersion, stamp: tuple[int, ...]) -> ServedModel:
        settings = self.spec.settings(version.model)
        metadata = load_metadata(version.folder)
        try:
            session, signature = open_session(version.folder / MODEL_FILE, settings.threads)
        except (ValueError, OSError):
            raise
        except Exception as exc:  # onnxruntime's own errors: a model it cannot load
            raise ValueError(str(exc)) from exc
        unknown = set(metadata.inputs) - {t.name for t in signature.inputs}
        if unknown:
            raise ValueError(
                f"{METADATA_FILE} maps features to inputs the model does not have: "
                f"{', '.join(sorted(unknown))}"
            )
        return ServedModel(version, stamp, metadata, session, signature, settings, self.faults)

    async def close(self) -> None:
        """Answer what is queued, then stop every version's threads."""
        served = [s for entry in self.models.values() for s in entry.versions.values()]
        self.models = {}
        await asyncio.gather(*(s.batcher.close() for s in served))


def _pick(settings: ModelServeSpec, numbers: list[int]) -> list[int]:
    chosen = sorted(numbers)
    versions = settings.versions
    if isinstance(versions, LatestSpec):
        return chosen[-versions.latest :]
    if isinstance(versions, list):
        return [n for n in chosen if n in versions]
    return chosen


def _entries(table: Mapping[tuple[str, int], ServedModel]) -> dict[str, ModelEntry]:
    grouped: dict[str, list[ServedModel]] = {}
    for (name, _), served in sorted(table.items()):
        grouped.setdefault(name, []).append(served)
    return {
        name: ModelEntry(name, {s.version: s for s in versions}, versions[-1])
        for name, versions in grouped.items()
    }


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:500] if text else type(exc).__name__
