"""The run record: created with versions and the command, written atomically, read back with one-line errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import encoderscope
from encoderscope.cli import main
from encoderscope.errors import ParameterError
from encoderscope.runs import (
    KINDS,
    RECORD_KEYS,
    SCHEMA,
    RunRecord,
    Stopwatch,
    cli_command,
    current_cli_command,
    python_call,
)


def test_create_write_read_round_trip(tmp_path: Path) -> None:
    record = RunRecord.create(
        "nave", {"k": 5, "layers": ("a", "b")}, command="encoderscope.nave(config=...)", seed=3,
        skipped=[("bad.png", "cannot read"), {"key": "x", "reason": "too small"}], seconds=1.23456,
        stages={"fit": 0.5}, details={"n": np.int64(2), "shape": np.arange(2)},
    )
    assert record.schema == SCHEMA and record.encoderscope == encoderscope.__version__
    assert record.config == {"k": 5, "layers": ["a", "b"]}  # stored as it reads back
    assert record.skipped == [{"key": "bad.png", "reason": "cannot read"}, {"key": "x", "reason": "too small"}]
    assert record.details == {"n": 2, "shape": [0, 1]} and record.seconds == 1.235
    path = record.write(tmp_path)
    assert path == tmp_path / "run.json" and next(iter(json.loads(path.read_text()))) == "schema"
    assert RunRecord.read(tmp_path) == record == RunRecord.read(path)


def test_run_json_keys_are_every_field_schema_first(tmp_path: Path) -> None:
    assert set(RECORD_KEYS) == {f.name for f in dataclasses.fields(RunRecord)}
    record = RunRecord.create("nave", {"k": 3}, seed=1)
    assert list(json.loads(record.write(tmp_path).read_text())) == list(RECORD_KEYS)
    assert RECORD_KEYS[0] == "schema"


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ParameterError, match="unknown run kind 'paint'"):
        RunRecord.create("paint")
    assert "nave" in KINDS and "study" in KINDS


def test_replace_merges_details() -> None:
    record = RunRecord.create("nave", details={"a": 1})
    assert record.replace(details={"b": 2}).details == {"a": 1, "b": 2}


def test_bad_files_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(ParameterError, match="is not valid JSON"):
        RunRecord.read(tmp_path)
    with pytest.raises(ParameterError, match=r"no run\.json"):
        RunRecord.read(tmp_path / "missing")


def test_the_command_line_is_recorded_once_by_main(capsys, tmp_path: Path) -> None:
    assert current_cli_command() is None
    with cli_command(["encoderscope", "x"]):
        assert current_cli_command() == ["encoderscope", "x"]
        assert RunRecord.create("nave", command="python call").command == ["encoderscope", "x"]
    assert RunRecord.create("nave", command="python call").command == "python call"
    with pytest.raises(SystemExit):
        main(["scenes", "--n", "1", "--kinds", "shape", "--out", str(tmp_path / "s")])
    assert RunRecord.read(tmp_path / "s").command == ["encoderscope", "scenes", "--n", "1", "--kinds", "shape",
                                                      "--out", str(tmp_path / "s")]


def test_python_runs_record_the_call() -> None:
    from encoderscope.linking import as_classifier, load_generator, make_pairs

    pairs = make_pairs(load_generator("synthetic:linear"), as_classifier("synthetic:linear"), 2, progress=False)
    assert pairs.run.command.startswith("encoderscope.make_pairs(config=LinkPairsConfig(")
    assert python_call("encoderscope.fit_link", {"a": 1}) == "encoderscope.fit_link(config={'a': 1})"


def test_stopwatch_stages_add_up() -> None:
    watch = Stopwatch()
    with watch.stage("a"):
        pass
    watch.lap("b")
    with watch.stage("a"):
        pass
    assert list(watch.stages) == ["a", "b"] and all(v >= 0 for v in watch.stages.values())
    assert watch.seconds() >= sum(watch.stages.values()) - 1e-6
