"""Typed run configurations: frozen dataclasses with one help line per field, checked in one place.

Every method that a command runs has a configuration class (:class:`~encoderscope.nave.config.NaveConfig`,
:class:`~encoderscope.dissect.config.DissectConfig`, ...). Each field is declared with :func:`option`: its default
and a one-line help, which the command line shows as the option's help (``encoderscope.cli.options`` builds the
Typer options from the fields, so no default is repeated in ``cli/``). ``__post_init__`` coerces JSON values
(lists to tuples, nested dicts to nested configurations) and then calls ``check()``, THE place that checks the
arguments: an impossible value raises one :class:`~encoderscope.errors.ParameterError` line.

A configuration is written into run.json with :meth:`Config.to_json` and read back with :meth:`Config.from_json`
(unknown keys are one-line errors listing the valid ones), so a previous run's record replays it
(``encoderscope nave --config run.json``).

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Demo(Config):
    ...     k: int = option(5, help="Number of concepts.")
    ...     layers: tuple[str, ...] = option((), help="Layers.")
    ...     def check(self) -> None:
    ...         if self.k < 2:
    ...             raise ParameterError(f"K must be at least 2, got {self.k}")
    >>> Demo.from_json({"k": 3, "layers": ["a", "b"]})
    Demo(k=3, layers=('a', 'b'))
    >>> Demo().replace(k=4).to_json()
    {'k': 4, 'layers': []}
    >>> Demo().replace(K=4)
    Traceback (most recent call last):
    ...
    encoderscope.errors.ParameterError: unknown option 'K' for Demo; valid options: k, layers
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from encoderscope.errors import ParameterError

C = TypeVar("C", bound="Config")

HELP_SEED = "Seed for every random choice."
HELP_AUTOCAST = (
    "Run the model forward in mixed precision (bfloat16 on CPU and recent GPUs, float16 on older GPUs and mps); "
    "faster, results can differ slightly from float32."
)
HELP_RANDOM_INIT = "Build the architecture without pretrained weights."
HELP_ARCH = "Architecture spec for file: checkpoints, e.g. timm:resnet18."
HELP_MODEL = "Model spec: zoo:NAME, timm:NAME, tv:NAME, hf:ORG/NAME or file:PATH."


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    flags: tuple[str, ...] = (),
    sep: str | None = None,
    cli: bool = True,
    factory: Any = None,
    panel: str | None = None,
) -> Any:
    """A configuration field: its default and one help line (shown by ``--help``).

    Args:
        default: the default value (tuples for sequences, so the configuration stays hashable and frozen).
        help: one line, shown as the option's help on the command line.
        flags: the option's names on the command line (default ``--field-name``).
        sep: for sequence fields: the command line takes one value split on ``sep`` (``--layers a,b``) instead of a
            repeated option.
        cli: ``False`` keeps the field off the command line (it can still come from ``--config FILE``).
        factory: instead of ``default``: a callable making the default (a nested configuration's class).
        panel: the ``--help`` panel the option stands in (default: the command's main options, listed first).
    """
    metadata = {"help": help, "flags": tuple(flags), "sep": sep, "cli": cli, "panel": panel}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """The resolved type of every field of a configuration class."""
    return typing.get_type_hints(cls)


def _is_config(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint) and issubclass(hint, Config)


def nested_config(hint: Any) -> type[Config] | None:
    """The configuration class a field holds (``X`` or ``X | None``), else ``None``."""
    if _is_config(hint):
        return hint
    for arg in typing.get_args(hint):
        if _is_config(arg):
            return arg
    return None


def _tuple_item(hint: Any) -> Any | None:
    """For ``tuple[X, ...]`` (possibly ``| None``) the item type ``X``, else ``None``."""
    candidates = [hint, *typing.get_args(hint)]
    for candidate in candidates:
        if typing.get_origin(candidate) is tuple:
            args = typing.get_args(candidate)
            return args[0] if args else Any
    return None


def _coerce(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    sub = nested_config(hint)
    if sub is not None and isinstance(value, Mapping):
        return sub.from_json(value)
    item = _tuple_item(hint)
    if item is not None and isinstance(value, list | tuple):
        return tuple(value)
    return value


def to_jsonable(value: Any) -> Any:
    """Tuples to lists, configurations to dicts, paths to strings, recursively."""
    if isinstance(value, Config):
        return value.to_json()
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


class Config:
    """Base of the configuration dataclasses (subclasses are ``@dataclass(frozen=True)``)."""

    def __post_init__(self) -> None:
        hints = field_types(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            coerced = _coerce(hints[f.name], value)
            if coerced is not value:
                object.__setattr__(self, f.name, coerced)
        self.check()

    def check(self) -> None:
        """Raise one :class:`ParameterError` line for an impossible value (overridden by each configuration)."""

    def _set(self, name: str, value: Any) -> None:
        """Normalise a field inside ``check()`` (the dataclass is frozen)."""
        object.__setattr__(self, name, value)

    @classmethod
    def field_names(cls) -> list[str]:
        """Names of the fields, nested configurations' fields included (the flat option namespace)."""
        names: list[str] = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            sub = nested_config(field_types(cls)[f.name])
            names.extend(sub.field_names() if sub is not None else [f.name])
        return names

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (lists, dicts, strings, numbers): what run.json holds as ``config``."""
        return {f.name: to_jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_json(cls: type[C], data: Mapping[str, Any], source: str | None = None) -> C:
        """The configuration from :meth:`to_json` output (missing keys take their defaults)."""
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            where = f" in {source}" if source else ""
            raise ParameterError(
                f"unknown option {unknown[0]!r}{where} for {cls.__name__}; valid options: {', '.join(sorted(known))}"
            )
        return cls(**dict(data))

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied (checked again). Names of nested configurations' fields are routed to
        them; an unknown name is a one-line error listing the valid ones."""
        if not changes:
            return self
        own = {f.name for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        direct = {name: value for name, value in changes.items() if name in own}
        rest = {name: value for name, value in changes.items() if name not in own}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            sub = nested_config(field_types(type(self))[f.name])
            if sub is None or not rest or f.name in direct:
                continue
            mine = {name: rest.pop(name) for name in list(rest) if name in sub.field_names()}
            if mine:
                current = getattr(self, f.name) or sub()
                direct[f.name] = current.replace(**mine)
        if rest:
            name = sorted(rest)[0]
            raise ParameterError(
                f"unknown option {name!r} for {type(self).__name__}; valid options: "
                f"{', '.join(sorted(self.field_names()))}"
            )
        return dataclasses.replace(self, **direct)  # type: ignore[type-var]


def resolve_config(cls: type[C], config: C | None, overrides: Mapping[str, Any]) -> C:
    """``config`` (default: ``cls()``) with keyword ``overrides`` applied: keyword arguments win over the config.

    Example:
        >>> from encoderscope.nave.config import NaveConfig
        >>> resolve_config(NaveConfig, NaveConfig(k=3), {"seed": 2}).k
        3
    """
    if config is None:
        config = cls()
    elif not isinstance(config, cls):
        raise ParameterError(f"config must be a {cls.__name__}, got {type(config).__name__}")
    return config.replace(**overrides)


def help_of(cls: type, name: str) -> str:
    """The help line of field ``name``."""
    return str(next(f for f in dataclasses.fields(cls) if f.name == name).metadata.get("help", ""))


def iter_fields(cls: type) -> Iterator[tuple[tuple[str, ...], dataclasses.Field[Any], Any]]:
    """``(path, field, type)`` of every leaf field, nested configurations flattened (``("nave", "k")``)."""
    hints = field_types(cls)
    for f in dataclasses.fields(cls):
        sub = nested_config(hints[f.name])
        if sub is not None:
            for path, leaf, hint in iter_fields(sub):
                yield (f.name, *path), leaf, hint
        else:
            yield (f.name,), f, hints[f.name]


@dataclasses.dataclass(frozen=True)
class RunOptions(Config):
    """How a run executes, not what it computes: these options never change results and are not replayed."""

    device: str | None = option(
        None, help="Where models run: cpu, cuda, cuda:N or mps (default: cuda when available, else cpu)."
    )
    progress: bool = option(True, help="Show progress bars.")
    trust_pickle: bool = option(
        False, help="Allow pickled objects in file: checkpoints and generator pickles (they can run code: only for "
        "files you trust)."
    )
