"""The run record: one ``run.json`` shape for every command and every result (schema-numbered).

A :class:`RunRecord` says what was run and how: ``schema`` (the record's format number), ``encoderscope`` (the
version), ``kind`` (the result type, which :func:`encoderscope.load_result` dispatches on), ``command`` (the argv for
command-line runs, set once by ``encoderscope.cli.main``; for Python runs, the call as text), ``config`` (the typed
configuration as JSON), ``seed``, ``versions`` (:func:`encoderscope._io.versions`), ``skipped`` (inputs left out, as
``{key, reason}``), ``seconds`` (wall time), ``stages`` (per-stage wall times where a method has stages) and
``details`` (what a result needs beyond its arrays and tables, e.g. NAVE's per-image geometry).

Results build their record with :meth:`RunRecord.create` and write it with :meth:`RunRecord.write`; nothing else
writes run.json. :meth:`RunRecord.read` gives one clear line for a missing file, a file without a schema number (or
another tool's JSON) and a record newer than this version reads.

Example:
    >>> import tempfile
    >>> record = RunRecord.create("nave", config={"k": 5}, seed=0, command="encoderscope.nave(k=5)")
    >>> folder = tempfile.mkdtemp()
    >>> _ = record.write(folder)
    >>> again = RunRecord.read(folder)
    >>> again.kind, again.config, again.schema
    ('nave', {'k': 5}, 1)
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from encoderscope._io import read_json, versions, write_json
from encoderscope.errors import ParameterError

SCHEMA = 1
"""The run record format this version writes and reads (records with a higher number are refused)."""

RUN_FILE = "run.json"

KINDS = (
    "nave",
    "compare",
    "corloc",
    "flow",
    "dissect",
    "link-pairs",
    "link-fit",
    "link-tune",
    "link-quantify",
    "link-counterfactual",
    "lwta-train",
    "scenes",
    "study",
)
"""Every ``kind`` a record can have (one per result type)."""

TIMING_FIELDS = ("seconds", "stages")
"""Fields that differ between two runs of the same configuration."""

_CLI_COMMAND: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar("cli_command", default=None)


def _version() -> str:
    from encoderscope import __version__

    return __version__


@contextlib.contextmanager
def cli_command(argv: Sequence[str]) -> Iterator[None]:
    """Within the block, every record written carries ``argv`` as its command (``encoderscope.cli.main`` sets it)."""
    token = _CLI_COMMAND.set(tuple(argv))
    try:
        yield
    finally:
        _CLI_COMMAND.reset(token)


def current_cli_command() -> list[str] | None:
    """The argv of the running command-line invocation, or ``None`` in Python."""
    argv = _CLI_COMMAND.get()
    return None if argv is None else list(argv)


def python_call(function: str, config: Any) -> str:
    """The call as text for Python runs: ``encoderscope.nave(config=NaveConfig(k=5, ...))``.

    Example:
        >>> python_call("encoderscope.fit_link", {"method": "ols"})
        "encoderscope.fit_link(config={'method': 'ols'})"
    """
    return f"{function}(config={config!r})"


def _skipped(entries: Sequence[Any]) -> list[dict[str, str]]:
    """``{key, reason}`` dicts from dicts or ``(key, reason)`` pairs."""
    out = []
    for entry in entries:
        if isinstance(entry, Mapping):
            out.append({str(k): str(v) for k, v in entry.items()})
        elif hasattr(entry, "key") and hasattr(entry, "reason"):
            out.append({"key": str(entry.key), "reason": str(entry.reason)})
        else:
            key, reason = entry
            out.append({"key": str(key), "reason": str(reason)})
    return out


RECORD_KEYS = ("schema", "encoderscope", "kind", "command", "config", "seed", "versions", "skipped", "seconds",
               "stages", "details")
"""The keys of run.json, in the order it is written."""


@dataclass(frozen=True)
class RunRecord:
    """What run.json holds (see the module docstring). Build one with :meth:`create`."""

    kind: str
    config: dict[str, Any] = field(default_factory=dict)
    command: list[str] | str = ""
    seed: int | None = None
    versions: dict[str, str] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    seconds: float | None = None
    stages: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    encoderscope: str = ""
    schema: int = SCHEMA

    @classmethod
    def create(
        cls,
        kind: str,
        config: Any = None,
        *,
        command: str | Sequence[str] = "",
        seed: int | None = None,
        skipped: Sequence[Any] = (),
        seconds: float | None = None,
        stages: Mapping[str, float] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """A record of this run: the version, ``versions()`` and, under the command line, its argv as command.

        ``config`` is a typed configuration (its ``to_json()`` is stored) or a plain dict.
        """
        if kind not in KINDS:
            raise ParameterError(f"unknown run kind {kind!r}; known kinds: {', '.join(KINDS)}")
        config_json = config.to_json() if hasattr(config, "to_json") else dict(config or {})
        argv = current_cli_command()
        return cls(
            kind=kind,
            config=_plain(config_json),
            command=argv if argv is not None else (command if isinstance(command, str) else list(command)),
            seed=seed,
            versions=versions(),
            skipped=_skipped(skipped),
            seconds=None if seconds is None else round(float(seconds), 3),
            stages={name: round(float(value), 3) for name, value in (stages or {}).items()},
            details=_plain(dict(details or {})),
            encoderscope=_version(),
        )

    def replace(self, **changes: Any) -> RunRecord:
        """A copy with some fields changed (``details`` is merged, not replaced)."""
        if "details" in changes:
            changes["details"] = _plain({**self.details, **changes["details"]})
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, keys in the fixed order of :data:`RECORD_KEYS` (schema first)."""
        return {key: getattr(self, key) for key in RECORD_KEYS}

    def to_json(self) -> str:
        """The record as JSON text (what :meth:`write` writes)."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def write(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``folder/run.json`` atomically; returns its path."""
        path = Path(folder) / RUN_FILE
        write_json(path, self.to_dict())
        return path

    @classmethod
    def from_dict(cls, data: Any, source: str = "run record") -> RunRecord:
        """A record from its JSON object; one line for another tool's JSON, an old or a newer schema."""
        if not isinstance(data, Mapping) or "kind" not in data:
            raise ParameterError(f"{source} is not an encoderscope run record (no 'kind')")
        schema = data.get("schema")
        if not isinstance(schema, int) or isinstance(schema, bool):
            raise ParameterError(
                f"{source} has no schema number: it was written before run records were versioned; run it again "
                "with this version"
            )
        if schema > SCHEMA:
            raise ParameterError(
                f"{source} has schema {schema}, newer than this encoderscope reads ({SCHEMA}); upgrade encoderscope"
            )
        if data["kind"] not in KINDS:
            raise ParameterError(f"{source} has an unknown kind {data['kind']!r}; known kinds: {', '.join(KINDS)}")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    @classmethod
    def read(
        cls, folder: str | os.PathLike[str], kind: str | None = None, what: str = "", result: str | None = None
    ) -> RunRecord:
        """Read ``folder/run.json`` (or the file itself when given one).

        With ``kind`` (and ``result``, the result class named in ``details`` where a kind has several), a record of
        another run is one line: "``folder`` holds a 'compare' run, not ``what``".
        """
        record = cls._read(folder)
        if kind is not None and (record.kind != kind or (result and record.details.get("result") != result)):
            raise ParameterError(f"{folder} holds a {record.kind!r} run, not {what or kind}")
        return record

    @classmethod
    def _read(cls, folder: str | os.PathLike[str]) -> RunRecord:
        path = Path(folder)
        if path.is_dir():
            path = path / RUN_FILE
        if not path.is_file():
            raise ParameterError(f"no {RUN_FILE} in {path.parent}: not a folder written by encoderscope")
        try:
            data = read_json(path)
        except ValueError as err:
            raise ParameterError(f"{path} is not valid JSON ({err})") from None
        return cls.from_dict(data, source=str(path))

    def without_timing(self) -> dict[str, Any]:
        """The record as a dict without the fields that differ between identical runs (for comparisons)."""
        return {key: value for key, value in self.to_dict().items() if key not in TIMING_FIELDS}


@dataclass
class Recorded:
    """The base of every result type: ``run`` is the result's run record (what its folder's run.json holds; ``None``
    for a result built by hand), keyword-only, left out of ``==`` and ``repr``.

    Example:
        >>> @dataclass
        ... class Scores(Recorded):
        ...     values: list[float]
        >>> Scores([1.0], run=RunRecord(kind="nave")) == Scores([1.0])
        True
    """

    run: RunRecord | None = field(default=None, compare=False, repr=False, kw_only=True)


def _plain(value: Any) -> Any:
    """JSON round trip: what is stored equals what is read back (tuples become lists, numpy numbers Python's)."""
    from encoderscope._io import json_default

    return json.loads(json.dumps(value, default=json_default))


class Stopwatch:
    """Wall time of a run and of its named stages.

    Example:
        >>> watch = Stopwatch()
        >>> with watch.stage("fit"):
        ...     pass
        >>> list(watch.stages), watch.seconds() >= 0
        (['fit'], True)
    """

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self._mark = self.started
        self.stages: dict[str, float] = {}

    def lap(self, name: str) -> None:
        """Record the time since the previous lap (or the start) as stage ``name``."""
        now = time.perf_counter()
        self.stages[name] = self.stages.get(name, 0.0) + now - self._mark
        self._mark = now

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a block; a stage entered several times adds up."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._mark = time.perf_counter()
            self.stages[name] = self.stages.get(name, 0.0) + self._mark - start

    def seconds(self) -> float:
        """Seconds since the stopwatch started."""
        return time.perf_counter() - self.started
