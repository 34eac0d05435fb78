"""--device / --autocast: generated from the Typer app, every command whose code loads a model has both; errors are
one line; the options reach the model (checked on a pretend GPU); --version.

Whether a command "loads a model" is found by walking its code: the command function, the encoderscope functions
and classes it calls or names (module globals and imports inside functions), and theirs, until one of the model
factories below is reached. ``study`` dispatches through the study registry, so ``get_study`` stands for every
registered study function.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import typer

import encoderscope
from encoderscope.cli import main
from encoderscope.cli.app import _register_commands, app
from tests.fake_cuda import fake_cuda


def _factories() -> set[Any]:
    from encoderscope.lwta.models import build_model, load_checkpoint
    from encoderscope.zoo import load_model
    from encoderscope.zoo.generators import load_generator

    return {load_model, load_generator, load_checkpoint, build_model}


def _commands() -> Iterator[tuple[str, Callable[..., Any], set[str]]]:
    """``(command path, function, option names)`` of every command of the app, sub-apps included."""
    _register_commands()
    root = typer.main.get_command(app)

    def walk(typer_app: typer.Typer, group: Any, prefix: str) -> Iterator[tuple[str, Callable[..., Any], set[str]]]:
        for info in typer_app.registered_commands:
            name = info.name or info.callback.__name__.replace("_", "-")
            options = {opt for param in group.commands[name].params for opt in param.opts}
            yield f"{prefix}{name}", inspect.unwrap(info.callback), options  # the command, not its options wrapper
        for sub in typer_app.registered_groups:
            yield from walk(sub.typer_instance, group.commands[sub.name], f"{prefix}{sub.name} ")

    yield from walk(app, root, "")


def _is_ours(obj: Any) -> bool:
    return (inspect.isfunction(obj) or inspect.isclass(obj)) and (obj.__module__ or "").startswith("encoderscope")


def _resolve(node: ast.AST, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, names)
        return getattr(base, node.attr, None) if base is not None else None
    return None


def _referenced(obj: Any) -> list[Any]:
    """The encoderscope functions and classes that ``obj`` (a function or a class) calls or names."""
    if inspect.isclass(obj):
        members = [vars(obj)[name] for name in vars(obj)]
        funcs = [getattr(m, "__func__", getattr(m, "fget", m)) for m in members]
        return [f for f in funcs if inspect.isfunction(f)]
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    except (OSError, TypeError, SyntaxError):
        return []
    names = dict(obj.__globals__)
    names.update(inspect.getclosurevars(obj).nonlocals)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("encoderscope"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(module, alias.name, None)
                if value is None:
                    value = importlib.import_module(f"{node.module}.{alias.name}")
                names[alias.asname or alias.name] = value
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("encoderscope"):
                    names[alias.asname or alias.name.split(".")[0]] = importlib.import_module(
                        alias.name if alias.asname else alias.name.split(".")[0]
                    )
    found = [_resolve(node, names) for node in ast.walk(tree) if isinstance(node, ast.Name | ast.Attribute)]
    found = [f for f in found if _is_ours(f) and f is not obj]
    from encoderscope.studies import STUDIES, get_study

    if get_study in found:  # the registry: every study it can return
        found += [get_study(name) for name in STUDIES]
    return found


def _loads_a_model(function: Callable[..., Any]) -> bool:
    factories, seen, todo = _factories(), set(), [function]
    while todo:
        current = todo.pop()
        if current in factories:
            return True
        if current in seen:
            continue
        seen.add(current)
        todo.extend(_referenced(current))
    return False


COMMANDS = list(_commands())


def test_the_walk_finds_every_command_of_the_app() -> None:
    def leaves(group: Any, prefix: str = "") -> set[str]:
        found = set()
        for name, command in group.commands.items():
            found |= leaves(command, f"{prefix}{name} ") if hasattr(command, "commands") else {f"{prefix}{name}"}
        return found

    assert {path for path, _, _ in COMMANDS} == leaves(typer.main.get_command(app))


@pytest.mark.parametrize(("path", "function", "options"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_commands_that_load_a_model_have_device_and_autocast(path, function, options) -> None:
    loads = _loads_a_model(function)
    assert ("--device" in options) == loads, f"{path}: loads a model: {loads}, options: {sorted(options)}"
    assert ("--autocast" in options) == loads, f"{path}: loads a model: {loads}, options: {sorted(options)}"


def test_the_commands_of_the_issue_load_models() -> None:
    """A check of the walk itself: the commands that obviously run a model are found to load one."""
    loading = {path for path, function, _ in COMMANDS if _loads_a_model(function)}
    expected = {"layers", "nave", "compare", "corloc", "dissect", "demo", "study", "link pairs", "link tune",
                "link quantify", "link counterfactual", "lwta train", "lwta eval"}
    assert expected <= loading
    assert "scenes" not in loading and "link fit" not in loading


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


@pytest.mark.parametrize(
    "args",
    [
        ["layers", "timm:resnet18", "--random-init"],
        ["nave", "timm:resnet18", "zoo:photos", "--out", "{tmp}"],
        ["dissect", "timm:resnet18", "--layer", "layer4", "--probe", "zoo:photos", "--out", "{tmp}"],
        ["demo", "--out", "{tmp}"],
        ["study", "baselines", "--out", "{tmp}", "--quick"],
        ["link", "pairs", "-g", "synthetic:linear", "-c", "synthetic:linear", "--out", "{tmp}"],
        ["lwta", "train", "--out", "{tmp}"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("gpu", "error: unknown device 'gpu'; use cpu, cuda, cuda:N or mps"),
        ("cuda:1", "error: device 'cuda:1' is not available: this machine has no CUDA device"),
    ],
)
def test_a_bad_device_is_one_line(capsys, tmp_path, monkeypatch, args, device, message) -> None:
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    code, _, err = _run(capsys, *[a.replace("{tmp}", str(tmp_path / "out")) for a in args], "--device", device)
    assert code == 2 and err.strip() == message
    assert not (tmp_path / "out").exists()  # refused before any work


def test_layers_on_the_gpu(capsys, monkeypatch) -> None:
    with fake_cuda(monkeypatch) as gpu:
        code, out, err = _run(capsys, "layers", "timm:resnet18", "--random-init", "--device", "cuda", "--autocast",
                              "--filter", "layer4")
    assert code == 0, err
    assert "device: cuda:0 (Fake GPU)" in out and "conv2d" in gpu.gpu_ops


def test_nave_on_the_gpu_records_the_device(make_image, capsys, monkeypatch, tmp_path) -> None:
    make_image(48, 64).save(tmp_path / "a.png")
    with fake_cuda(monkeypatch) as gpu:
        code, _, err = _run(capsys, "nave", "timm:resnet18", str(tmp_path / "a.png"), "--random-init", "--k", "2",
                            "--size", "64", "--no-report", "--device", "cuda", "--autocast", "--out",
                            str(tmp_path / "out"))
    assert code == 0, err
    config = json.loads((tmp_path / "out" / "run.json").read_text())
    found = json.dumps(config)
    assert '"cuda:0 (Fake GPU)"' in found and '"autocast": true' in found
    assert any(m.pinned and m.non_blocking for m in gpu.moves)


def test_lwta_eval_on_the_gpu(capsys, monkeypatch, tmp_path) -> None:
    import torch

    from encoderscope.lwta.models import ModelConfig, build_model, save_checkpoint

    config = ModelConfig(arch="resnet", U=2, channels=(4, 4, 4, 4))
    save_checkpoint(build_model(config), config, tmp_path)
    monkeypatch.setattr(
        "encoderscope.lwta.train.fashion_tensors",
        lambda split, cfg, limit, seed: (torch.rand(6, 3, 32, 32), torch.randint(0, 10, (6,))),
    )
    with fake_cuda(monkeypatch) as gpu:
        code, out, err = _run(capsys, "lwta", "eval", str(tmp_path), "--passes", "1", "--device", "cuda",
                              "--autocast")
    assert code == 0, err
    assert "accuracy" in out and "conv2d" in gpu.gpu_ops


def test_version(capsys) -> None:
    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.strip() == f"encoderscope {encoderscope.__version__}"
