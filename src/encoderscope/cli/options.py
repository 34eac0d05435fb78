"""Command-line options built from configuration fields, and ``--config FILE`` replay.

:func:`config_command` registers a command whose options are the fields of a configuration class
(:mod:`encoderscope.configs`): each option takes its help line from the field and shows the field's default, so
no default or help text is repeated here. Nested configurations are flattened (``corloc`` takes every NAVE option
beside its own). The command function receives the built configuration first, then its own parameters (output
folder, device, ...). A command that loads models or generators (``loads_models=True``) also takes
``--trust-pickle``, which runs it inside :func:`~encoderscope.zoo.trust.trusting_pickles` (never recorded, so a
replay must ask again).

``--config FILE`` reads a JSON or YAML file of options, or a previous ``run.json`` (its ``config``; also a run
folder), and options given on the command line override it (found with click's ``get_parameter_source``).

Example:
    >>> from encoderscope.nave.config import NaveConfig
    >>> [p.name for p in config_parameters(NaveConfig, arguments=("model", "images"))][:3]
    ['model', 'images', 'layers']
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import json
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

import typer

from encoderscope.configs import Config, RunOptions, iter_fields
from encoderscope.errors import ParameterError, first_line
from encoderscope.runs import RUN_FILE, RunRecord

CONFIG_FILE = "config_file"
_TRUST = "trust_pickle"
_CONTEXT = "_typer_context"
_NONE = type(None)


def _members(hint: Any) -> list[Any]:
    """The non-None members of a union (or the type itself)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return [arg for arg in typing.get_args(hint) if arg is not _NONE]
    return [hint]


def _sequence_item(hint: Any) -> Any | None:
    for member in _members(hint):
        if typing.get_origin(member) in (tuple, list):
            args = [a for a in typing.get_args(member) if a is not Ellipsis]
            return args[0] if args else str
    return None


def _cli_type(hint: Any, field: dataclasses.Field[Any]) -> Any:
    """The type Typer parses the option as (a string for unions and mappings, parsed by the config's check)."""
    item = _sequence_item(hint)
    if item is not None:
        return Optional[str] if field.metadata.get("sep") else Optional[list[str]]  # noqa: UP045 (Typer)
    members = _members(hint)
    if members == [bool]:
        return Optional[bool] if field.default is None else bool  # noqa: UP045
    if len(members) == 1 and members[0] in (int, float, str):
        return Optional[members[0]]  # noqa: UP045
    return Optional[str]  # noqa: UP045


def _shown_default(value: Any, cli_type: Any) -> Any:
    """The field's default as the option shows it in ``--help`` (the value itself is not used: an option left at
    its default takes the configuration's, or the ``--config`` file's, value)."""
    if value is None or value == () or value is dataclasses.MISSING or isinstance(value, dict):
        return None
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) if cli_type is Optional[str] else list(value)  # noqa: UP045
    if cli_type is Optional[str]:  # noqa: UP045
        return str(value)
    return value


def _flags(field: dataclasses.Field[Any]) -> tuple[str, ...]:
    return tuple(field.metadata.get("flags") or (f"--{field.name.replace('_', '-')}",))


def config_parameters(
    config_cls: type[Config], arguments: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[inspect.Parameter]:
    """The Typer parameters of a configuration's fields (``arguments`` positional, in that order, first)."""
    positional, options = [], []
    seen: set[str] = set()
    for _path, field, hint in iter_fields(config_cls):
        if field.name in exclude or not field.metadata.get("cli", True):
            continue
        if field.name in seen:
            raise TypeError(f"{config_cls.__name__}: option {field.name!r} appears twice")
        seen.add(field.name)
        help_text = str(field.metadata.get("help", ""))
        cli_type = _cli_type(hint, field)
        if field.name in arguments:
            info: Any = typer.Argument(None, help=help_text, show_default=False, metavar=field.name.upper())
            positional.append((arguments.index(field.name), field.name, info, cli_type))
            continue
        panel = field.metadata.get("panel")
        info = typer.Option(
            _shown_default(field.default, cli_type), *_flags(field), help=help_text, rich_help_panel=panel
        )
        options.append((panel is not None, field.name, info, cli_type))
    options.sort(key=lambda item: item[0])  # stable: the main options first, then the paneled ones in field order
    params = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=kind)
        for _, name, info, kind in sorted(positional)
    ]
    params += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=kind)
        for _, name, info, kind in options
    ]
    return params


def _given(ctx: Any, name: str) -> bool:
    """Whether option ``name`` was given (on the command line or in the environment), not left at its default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _to_config_value(value: Any, hint: Any, field: dataclasses.Field[Any]) -> Any:
    """A command-line value as the configuration takes it (lists split on ``sep``, integer items converted)."""
    item = _sequence_item(hint)
    if item is None or value is None:
        return value
    parts = [p.strip() for p in value.split(field.metadata["sep"])] if isinstance(value, str) else list(value)
    parts = [p for p in parts if p != ""]
    if item is int:
        try:
            return [int(p) for p in parts]
        except ValueError:
            raise ParameterError(f"{_flags(field)[0]} takes integers, got {value!r}") from None
    return parts


def read_config_file(path: Path, kind: str) -> dict[str, Any]:
    """Options from ``--config FILE``: JSON, YAML (with PyYAML) or a run record (file or run folder) of ``kind``."""
    path = Path(path)
    if path.is_dir():
        path = path / RUN_FILE
    if not path.is_file():
        raise ParameterError(f"--config {path}: no such file")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        from encoderscope._optional import require

        yaml = require("yaml", "yaml")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ParameterError(f"--config {path} is not valid YAML: {first_line(err)}") from None
    else:
        try:
            data = json.loads(text)
        except ValueError as err:
            raise ParameterError(f"--config {path} is not valid JSON ({err})") from None
    if isinstance(data, dict) and "kind" in data and "schema" in data:
        record = RunRecord.from_dict(data, source=str(path))
        if record.kind != kind:
            raise ParameterError(f"--config {path} records a {record.kind!r} run, not {kind!r}")
        data = record.config
    if not isinstance(data, dict):
        raise ParameterError(f"--config {path} must hold a mapping of options, got {type(data).__name__}")
    return data


def build_config(
    config_cls: type[Config], kind: str, ctx: Any, values: dict[str, Any], file: Path | None
) -> Config:
    """The configuration of one invocation: the ``--config`` file's options, then the options given here."""
    merged: dict[str, Any] = copy.deepcopy(read_config_file(file, kind)) if file is not None else {}
    for path, field, hint in iter_fields(config_cls):
        if field.name not in values:
            continue
        value = values.pop(field.name)
        if not _given(ctx, field.name):
            continue
        target = merged
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = _to_config_value(value, hint, field)
    return config_cls.from_json(merged, source=f"--config {file}" if file is not None else None)


def config_command(
    group: typer.Typer,
    name: str,
    config_cls: type[Config],
    kind: str,
    arguments: Sequence[str] = (),
    exclude: Sequence[str] = (),
    loads_models: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``func(config, **own_options)`` as command ``name`` with the configuration's options and
    ``--config FILE`` (see the module docstring). ``kind`` is the run kind a replayed run.json must have;
    ``loads_models`` adds ``--trust-pickle``."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        own = list(inspect.signature(func).parameters.values())
        if not own or own[0].name != "config":
            raise TypeError(f"{func.__name__} must take the configuration as its first parameter 'config'")
        own_params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own[1:]]
        field_params = config_parameters(config_cls, arguments, exclude)
        clash = {p.name for p in own_params} & {p.name for p in field_params}
        if clash:
            raise TypeError(f"{func.__name__}: options {sorted(clash)} are both own and configuration options")
        hints = typing.get_type_hints(func)
        own_params = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in own_params]
        config_param = inspect.Parameter(
            CONFIG_FILE,
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(
                None, "--config", help="Replay a run: a JSON or YAML file of options, or a previous run.json "
                "(or its folder); options given on the command line override it.",
            ),
            annotation=Optional[Path],  # noqa: UP045
        )
        context_param = inspect.Parameter(_CONTEXT, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        trust_params = [inspect.Parameter(_TRUST, inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                                          default=field_option(RunOptions, _TRUST))] if loads_models else []
        params = [context_param, *field_params[: len(arguments)], *own_params, *trust_params,
                  *field_params[len(arguments) :], config_param]
        positional = [p for p in params if isinstance(p.default, typer.models.ArgumentInfo)]
        params = positional + [p for p in params if p not in positional]

        @functools.wraps(func)
        def command(**values: Any) -> Any:
            from encoderscope.zoo.trust import trusting_pickles

            ctx = values.pop(_CONTEXT)
            trust = values.pop(_TRUST, False)
            config = build_config(config_cls, kind, ctx, values, values.pop(CONFIG_FILE))
            with trusting_pickles(trust):
                return func(config, **values)

        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        group.command(name)(command)
        return func

    return decorate


def require_inputs(config: Config, *names: str) -> None:
    """One line when a positional input is neither on the command line nor in ``--config``."""
    for name in names:
        value = getattr(config, name)
        if value is None or value == ():
            raise ParameterError(f"missing {name.upper()}: give it on the command line or in --config FILE")


def field_option(config_cls: type[Config], name: str, *flags: str) -> Any:
    """A plain ``typer.Option`` from one field (for commands without a configuration, e.g. ``layers``)."""
    field = next(f for f in dataclasses.fields(config_cls) if f.name == name)  # type: ignore[arg-type]
    return typer.Option(field.default, *(flags or _flags(field)), help=str(field.metadata.get("help", "")))
