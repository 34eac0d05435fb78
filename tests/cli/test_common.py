"""The options every command shares: ``--out`` is spelled the same (with ``-o``) wherever a command writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

from encoderscope.cli.app import _register_commands, app
from encoderscope.cli.common import out_option


def _leaves(command: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if hasattr(command, "commands"):  # a group
        for name, sub in command.commands.items():
            yield from _leaves(sub, f"{path} {name}".strip())
    else:
        yield path, command


def _out_params() -> dict[str, Any]:
    _register_commands()
    found = {}
    for path, command in _leaves(typer.main.get_command(app)):
        for param in command.params:
            if "--out" in param.opts:
                found[path] = param
    return found


def test_every_writing_command_takes_out_and_its_short_form():
    found = _out_params()
    assert {"nave", "compare", "flow", "dissect", "corloc", "study", "demo", "explore", "scenes", "lwta train",
            "link pairs", "link fit", "link tune", "link quantify", "link counterfactual"} <= set(found)
    assert {path: param.opts for path, param in found.items() if "-o" not in param.opts} == {}


def test_out_is_required_unless_a_default_is_given():
    found = _out_params()
    assert found["nave"].required and found["link tune"].required
    assert not found["demo"].required and str(found["demo"].default) == "demo-output"
    assert out_option().help == "Output folder."


def test_every_command_that_loads_a_model_takes_trust_pickle():
    _register_commands()
    taking = {path for path, command in _leaves(typer.main.get_command(app))
              if any("--trust-pickle" in param.opts for param in command.params)}
    assert taking == {"nave", "compare", "flow", "corloc", "dissect", "layers", "link pairs", "link tune",
                      "link quantify", "link counterfactual"}
