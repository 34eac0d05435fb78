"""Typed configurations: one help line per field, JSON round trips, the one place that checks arguments, and the
Python functions taking ``config=`` beside keyword arguments (keywords win; unknown names are one line)."""

from __future__ import annotations

import dataclasses

import pytest

import encoderscope as es
from encoderscope.configs import Config, RunOptions, iter_fields, resolve_config
from encoderscope.data.scenes import SceneConfig, ScenesConfig
from encoderscope.errors import ParameterError

CONFIGS = [
    es.NaveConfig, es.CompareConfig, es.CorLocConfig, es.DissectConfig, es.LinkPairsConfig, es.LinkFitConfig,
    es.LinkTuneConfig, es.LinkQuantifyConfig, es.LinkCounterfactualConfig, es.LwtaTrainConfig, ScenesConfig,
    SceneConfig, RunOptions,
]


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_fields_have_one_help_line_and_round_trip(cls: type[Config]) -> None:
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    for _, field, _ in iter_fields(cls):
        help_text = field.metadata.get("help", "")
        assert help_text and "\n" not in help_text and help_text.endswith((".", ")")), (cls.__name__, field.name)
    config = cls()
    assert cls.from_json(config.to_json()) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1  # type: ignore[misc]


def test_keywords_override_the_config_and_unknown_names_are_one_line() -> None:
    base = es.NaveConfig(k=3, seed=1)
    assert resolve_config(es.NaveConfig, base, {"seed": 2}) == es.NaveConfig(k=3, seed=2)
    with pytest.raises(ParameterError, match=r"unknown option 'K' for NaveConfig; valid options: .*\bk\b"):
        resolve_config(es.NaveConfig, base, {"K": 4})
    with pytest.raises(ParameterError, match="config must be a NaveConfig, got LinkFitConfig"):
        resolve_config(es.NaveConfig, es.LinkFitConfig(), {})


def test_nested_options_are_routed() -> None:
    config = es.CompareConfig(models=("a", "b")).replace(k=3, baselines=("slic",))
    assert config.nave.k == 3 and config.baselines == ("slic",)
    assert es.CorLocConfig.from_json({"nave": {"k": 4}, "relative": True}).nave.k == 4
    assert es.CorLocConfig(relative=True).thresholds() == es.CorLocThresholds.relative_default()
    assert es.CorLocConfig(min_area=10, border=2).thresholds().pixel_thresholds((100, 100)) == (10.0, 2)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: es.NaveConfig(k=1), "K must be at least 2"),
        (lambda: es.NaveConfig(k="many"), "K must be an integer"),
        (lambda: es.NaveConfig(method="dbscan"), "unknown method 'dbscan'"),
        (lambda: es.NaveConfig(backend="gpu"), "unknown k-means back-end 'gpu'"),
        (lambda: es.NaveConfig(size="big"), "--size must be a number of pixels"),
        (lambda: es.NaveConfig(fit_positions=1), "fit_positions must be at least 2"),
        (lambda: es.CompareConfig(baselines=("sam",)), "unknown baseline 'sam'"),
        (lambda: es.CorLocConfig(border=-1), "border must be >= 0"),
        (lambda: es.DissectConfig(pool="median"), "unknown pool 'median'"),
        (lambda: es.DissectConfig(similarity_params={"alpha": 1}), "unknown option 'alpha' for similarity"),
        (lambda: es.LinkPairsConfig(class_map="0-1"), "is not like '0:151,1:254'"),
        (lambda: es.LinkPairsConfig(truncation=0), "truncation must be in"),
        (lambda: es.LinkTuneConfig(units="some"), "use '0,2', 'all' or 'top:K'"),
        (lambda: es.LinkQuantifyConfig(parts="masks"), "--parts masks needs --masks"),
        (lambda: es.LinkQuantifyConfig(source="audio"), "unknown part-feature source 'audio'"),
        (lambda: es.LinkCounterfactualConfig(lr=0), "lr must be positive"),
        (lambda: es.LwtaTrainConfig(arch="mlp"), "unknown architecture 'mlp'"),
        (lambda: es.LwtaTrainConfig(optimizer="lion"), "unknown optimizer 'lion'"),
        (lambda: ScenesConfig(n=0), "at least 1"),
        (lambda: SceneConfig(kinds=("cat",)), "object kinds must be among"),
    ],
)
def test_bad_values_are_one_line_errors(make, message: str) -> None:
    with pytest.raises(ParameterError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


def test_normalised_values() -> None:
    config = es.NaveConfig(k="auto", layers="layer2, layer3", size="native", max_side="none", heads=["1", 3])
    assert (config.k, config.layers, config.size, config.max_side, config.heads) == (
        "auto", ("layer2", "layer3"), None, None, (1, 3))
    assert es.NaveConfig(layers=-1).layers == (-1,)
    pairs = es.LinkPairsConfig(classes=("0", "blue"), class_map={"0": "151"}, truncation=1.0)
    assert pairs.classes == (0, "blue") and pairs.class_map == {0: 151} and pairs.truncation is None


def test_python_functions_take_config_and_keywords(tiny_resnet, make_image) -> None:
    images = [make_image(40, 48)]
    config = es.NaveConfig(k=3, layers=("layer3",), size=48)
    result = es.nave(tiny_resnet, images, config=config, k=2, progress=False)
    assert result.k == 2 and result.run.config["k"] == 2 and result.run.config["layers"] == ["layer3"]
    assert result.run.command.startswith("encoderscope.nave(config=NaveConfig(")
    with pytest.raises(ParameterError, match="unknown option 'kk' for NaveConfig"):
        es.nave(tiny_resnet, images, kk=3, progress=False)
    spec = es.NaveConfig(model="timm:resnet18", images=("zoo:does-not-matter",), random_init=True)
    assert spec.model == "timm:resnet18"


def test_fit_link_takes_a_config() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    r = rng.normal(size=(40, 3))
    w = r @ rng.normal(size=(3, 2))
    fit = es.fit_link(r, w, config=es.LinkFitConfig(method="ridge", alpha=0.5), test_fraction=0.25)
    assert fit.network.method == "ridge" and fit.config["alpha"] == 0.5 and fit.n_test == 10
    assert fit.run.config["test_fraction"] == 0.25
