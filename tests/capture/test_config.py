"""The capture options: one block of fields and one check, shared by NAVE and dissection, in their own help panel."""

from __future__ import annotations

import dataclasses

import pytest
import typer

from encoderscope.capture.config import CAPTURE_PANEL, CaptureConfig
from encoderscope.cli.app import _register_commands, app
from encoderscope.dissect.config import DissectConfig
from encoderscope.errors import ParameterError
from encoderscope.nave.config import FlowConfig, NaveConfig

CAPTURE_FIELDS = [f.name for f in dataclasses.fields(CaptureConfig)]


def test_the_capture_block_is_the_six_options() -> None:
    assert CAPTURE_FIELDS == ["autocast", "workers", "cache", "engine", "ray_address", "ray_actors"]
    assert all(f.metadata["panel"] == CAPTURE_PANEL for f in dataclasses.fields(CaptureConfig))


@pytest.mark.parametrize("config_cls", [NaveConfig, DissectConfig])
def test_nave_and_dissect_inherit_the_block_and_its_check(config_cls: type[CaptureConfig]) -> None:
    assert issubclass(config_cls, CaptureConfig)
    config = config_cls(cache="acts", engine="ray", ray_address=" 10.0.0.5:6379 ", ray_actors=2, workers=0)
    assert (config.cache, config.ray_address, config.ray_actors, config.workers) == ("acts", "10.0.0.5:6379", 2, 0)
    assert config_cls().cache is None
    with pytest.raises(ParameterError, match="workers"):
        config_cls(workers=-1)
    with pytest.raises(ParameterError, match="engine"):
        config_cls(engine="spark")
    with pytest.raises(ParameterError, match="ray_actors"):
        config_cls(engine="ray", ray_actors=0)


def test_a_method_check_still_runs_after_the_capture_check() -> None:
    with pytest.raises(ParameterError, match="scope"):
        NaveConfig(scope="world", workers=0)
    with pytest.raises(ParameterError, match="pool"):
        DissectConfig(pool="median")


def test_a_record_written_before_the_block_existed_replays() -> None:
    """run.json keys are matched by name, so the fields' new order reads an older record the same."""
    old = {"model": "zoo:dinov2_s", "k": 4, "autocast": True, "cache": "acts", "engine": "local"}
    config = NaveConfig.from_json(old)
    assert (config.model, config.k, config.autocast, config.cache) == ("zoo:dinov2_s", 4, True, "acts")
    assert NaveConfig.from_json(config.to_json()) == config
    assert FlowConfig().nave.engine == "local"


@pytest.mark.parametrize("path", [("nave",), ("dissect",)])
def test_help_lists_the_method_options_first_and_the_capture_block_in_its_panel(path: tuple[str, ...]) -> None:
    _register_commands()
    command = typer.main.get_command(app)
    for part in path:
        command = command.commands[part]
    names = [param.name for param in command.params]
    capture = [names.index(name) for name in CAPTURE_FIELDS]
    assert capture == sorted(capture) and min(capture) > names.index("seed")
    panels = {param.name: getattr(param, "rich_help_panel", None) for param in command.params}
    assert {panels[name] for name in CAPTURE_FIELDS} == {CAPTURE_PANEL}
    assert panels["seed"] is None
