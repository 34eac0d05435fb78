"""Model cases generated from the registries, for coverage tests (timm's habit: tests generated from metadata).

A :class:`Case` is one model to try: a representative of every timm family (``timm_families.json``, written by
``scripts/timm_families.py``), every torchvision classification model, Hugging Face vision model types built from
tiny configs and saved with ``save_pretrained`` (loaded back through ``hf:/dir``), and open_clip image towers.
:func:`run_case` tries one and returns an :class:`Outcome`: ``maps`` (concept maps at image size for two non-square
images, default layers and depth index 0), ``error`` (an ``EncoderscopeError``: one line saying what is unsupported)
or ``traceback`` (any other exception: a bug).

Other test files import this module (``from tests.zoo.registry import ...``); ``scripts/model_coverage.py`` prints
the tally over a whole sweep.

Example:
    >>> cases = timm_cases()
    >>> len(cases) == len(timm_families()["families"]), cases[0].spec.startswith("timm:")
    (True, True)
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import json
import os
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

FAMILIES_JSON = Path(__file__).with_name("timm_families.json")
FAMILIES_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "timm_families.py"

# Two non-square images of different sizes and orientations (height, width).
IMAGE_SIZES = ((60, 90), (84, 56))
# Shorter side given to preprocessing: small inputs keep the sweep fast (fixed-size models get their native size).
SWEEP_SIZE = 96


@dataclass(frozen=True)
class Case:
    """One model to try.

    Attributes:
        id: stable test id, e.g. ``"timm/resnet/resnet"``, ``"tv/resnet18"``, ``"hf/vit"``.
        spec: the model spec (for ``hf`` cases: the spec once :attr:`build` wrote the model; see :meth:`resolve`).
        prefix: the expected prefix-token kinds of its token layout, when the test checks them.
        build: for Hugging Face cases, ``build(folder)`` writes a tiny model there with ``save_pretrained``.
        hard: a family known to be hard (fixed input size, windows, strides): always in the default sample.
        params: parameter count from the registry's metadata, when it has one.
    """

    id: str
    spec: str
    prefix: tuple[str, ...] | None = None
    build: Callable[[Path], None] | None = None
    hard: bool = False
    params: int | None = None

    def resolve(self, folder: Path) -> str:
        """The spec to load: for built cases, write the model into ``folder`` first."""
        if self.build is None:
            return self.spec
        target = folder / self.id.replace("/", "-")
        target.mkdir(parents=True, exist_ok=True)
        self.build(target)
        return f"hf:{target}"

    @property
    def random_init(self) -> bool:
        """Built (saved) models carry their weights; registry models are built with random init."""
        return self.build is None


# The user property in which each coverage test records its outcome (``tests/zoo/conftest.py`` tallies them).
OUTCOME_PROPERTY = "coverage_outcome"


class CheckFailed(AssertionError):
    """The model gave concept maps, but not the ones expected (map size, prefix tokens, skipped layers)."""


def expect(condition: bool, message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``condition``."""
    if not condition:
        raise CheckFailed(message)


@dataclass(frozen=True)
class Outcome:
    """What happened to one case: ``status`` is ``maps``, ``error``, ``traceback`` or ``failed check`` (maps, but
    not the expected ones); ``message`` is one line; ``seconds`` wall time, ``cpu_seconds`` the process's CPU time
    (all threads: on a shared machine it says more than the wall time)."""

    case: str
    status: str
    message: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0


# -- timm -------------------------------------------------------------------------------------------------------

# Families named as hard by users (fixed input size, windows, strides, token layouts): always in the default sample.
HARD_TIMM = (
    "mlp_mixer/mixer", "mlp_mixer/resmlp", "cait/cait", "coat/coat", "convit/convit", "nest/nest", "tnt/tnt",
    "visformer/visformer", "levit/levit", "pit/pit", "volo/volo", "swin_transformer/swin", "maxxvit/maxvit",
    "hiera/hiera", "hrnet/hrnet", "dla/dla", "resnet/resnetaa", "tresnet/tresnet", "byoanet/halonet",
    "byoanet/botnet", "gcvit/gcvit", "efficientformer_v2/efficientformerv", "mvitv2/mvitv", "crossvit/crossvit",
    "mobilevit/mobilevitv", "twins/twins", "deit/deit", "swin_transformer_v2/swinv",
)


def timm_families() -> dict[str, Any]:
    """The committed table: ``{"timm": version, "families": {family: {"model", "params", "models"}}}``."""
    return json.loads(FAMILIES_JSON.read_text())


@cache
def family_script() -> Any:
    """``scripts/timm_families.py`` as a module (its ``families()`` groups the installed registry)."""
    spec = importlib.util.spec_from_file_location("timm_families_script", FAMILIES_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timm_cases() -> list[Case]:
    """One case per timm family: its representative (fewest parameters), random init."""
    table = timm_families()["families"]
    return [
        Case(f"timm/{family}", f"timm:{entry['model']}", hard=family in HARD_TIMM, params=entry["params"])
        for family, entry in sorted(table.items())
    ]


# -- torchvision ----------------------------------------------------------------------------------------------------

HARD_TV = ("tv/vit_b_16", "tv/swin_t", "tv/maxvit_t", "tv/regnet_x_400mf", "tv/inception_v3", "tv/googlenet")


def torchvision_cases() -> list[Case]:
    """Every torchvision classification model (``list_models(module=torchvision.models)``), random init."""
    import torchvision

    names = torchvision.models.list_models(module=torchvision.models)
    return [
        Case(
            f"tv/{name}",
            f"tv:{name}",
            hard=f"tv/{name}" in HARD_TV,
            params=torchvision.models.get_model_weights(name).DEFAULT.meta.get("num_params"),
        )
        for name in sorted(names)
    ]


# -- Hugging Face ---------------------------------------------------------------------------------------------------

_VIT_LIKE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def _save(config_name: str, processor: tuple[str, dict[str, Any]] | None, **options: Any) -> Callable[[Path], None]:
    """A builder that writes a random tiny ``config_name`` model (and its image processor) with ``save_pretrained``."""

    def build(folder: Path) -> None:
        import torch
        import transformers

        config = getattr(transformers, config_name)(**options)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = transformers.AutoModel.from_config(config)
        model.save_pretrained(folder)
        if processor is not None:
            name, kwargs = processor
            getattr(transformers, name)(**kwargs).save_pretrained(folder)

    return build


def _square(size: int) -> dict[str, Any]:
    return {"size": {"height": size, "width": size}}


# Types users found broken (position embeddings not interpolated, prefix tokens, depth layers without a grid).
HARD_HF = ("hf/vit", "hf/deit", "hf/clip-vision", "hf/siglip-vision", "hf/convnext", "hf/swin")


def hf_cases() -> list[Case]:
    """Hugging Face vision model types from tiny configs, each with the prefix tokens it must show."""
    vit = dict(_VIT_LIKE, image_size=64, patch_size=8)
    cases = [
        Case("hf/vit", "hf", ("cls",), _save("ViTConfig", ("ViTImageProcessor", _square(64)), **vit)),
        Case("hf/deit", "hf", ("cls", "dist"), _save("DeiTConfig", ("DeiTImageProcessor", _square(64)), **vit)),
        Case("hf/beit", "hf", ("cls",), _save("BeitConfig", ("BeitImageProcessor", _square(64)), **vit)),
        Case("hf/dinov2", "hf", ("cls",), _save("Dinov2Config", None, **vit)),
        Case(
            "hf/dinov2-registers",
            "hf",
            ("cls", "reg", "reg", "reg", "reg"),
            _save("Dinov2WithRegistersConfig", None, num_register_tokens=4, **vit),
        ),
        Case(
            "hf/clip-vision", "hf", ("cls",), _save("CLIPVisionConfig", ("CLIPImageProcessor", {}), **vit)
        ),
        Case(
            "hf/siglip-vision", "hf", (), _save("SiglipVisionConfig", ("SiglipImageProcessor", _square(64)), **vit)
        ),
        Case(
            "hf/convnext",
            "hf",
            (),
            _save(
                "ConvNextConfig",
                ("ConvNextImageProcessor", {"size": {"shortest_edge": 64}}),
                hidden_sizes=[8, 16, 24, 32],
                depths=[1, 1, 1, 1],
            ),
        ),
        Case(
            "hf/swin",
            "hf",
            (),
            _save(
                "SwinConfig",
                ("ViTImageProcessor", _square(64)),
                image_size=64,
                patch_size=4,
                embed_dim=16,
                depths=[1, 1, 1],
                num_heads=[1, 2, 4],
                window_size=4,
            ),
        ),
        Case(
            "hf/resnet",
            "hf",
            (),
            _save("ResNetConfig", None, embedding_size=8, hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1]),
        ),
    ]
    return [dataclasses.replace(case, hard=case.id in HARD_HF) for case in cases]


# -- open_clip ------------------------------------------------------------------------------------------------------


def open_clip_cases() -> list[Case]:
    """open_clip image towers (random init): its own ViT and ModifiedResNet, and timm-backed towers."""
    return [
        Case("open_clip/ViT-S-32", "open_clip:ViT-S-32", ("cls",), hard=True),
        Case("open_clip/RN50", "open_clip:RN50", (), hard=True),
        Case("open_clip/convnext_tiny", "open_clip:convnext_tiny", ()),
        Case("open_clip/ViT-B-16-SigLIP", "open_clip:ViT-B-16-SigLIP", ()),
    ]


def all_cases() -> list[Case]:
    """Every case of the full sweep."""
    return timm_cases() + torchvision_cases() + hf_cases() + open_clip_cases()


SAMPLE_MAX_PARAMS = 30_000_000


def default_sample(cases: list[Case], every: int = 16) -> list[Case]:
    """The fixed sample run by default: every hard case, plus each case of at most ``SAMPLE_MAX_PARAMS`` parameters
    (by the registry's metadata; unknown counts pass) whose id hashes to 0 modulo ``every``.

    The hash is CRC-32 of the id, so the sample is deterministic, spread over the registry and not chosen by
    outcome; the size cap keeps the default run's time and memory small.
    """
    return [
        case
        for case in cases
        if case.hard
        or ((case.params or 0) <= SAMPLE_MAX_PARAMS and zlib.crc32(case.id.encode()) % every == 0)
    ]


# -- running one case -----------------------------------------------------------------------------------------------


def sweep_images() -> list[Any]:
    """The two non-square test images."""
    from tests.images import make_image

    return [make_image(h, w, seed=i) for i, (h, w) in enumerate(IMAGE_SIZES)]


def check_case(case: Case, folder: Path) -> None:
    """Load the case, run NAVE (image scope, K=2) on default layers and on depth index 0; check the maps' sizes.

    Raises :class:`CheckFailed` on wrong results, an ``EncoderscopeError`` when the model is unsupported, or whatever
    else went wrong.
    """
    from encoderscope.capture.layers import list_layers
    from encoderscope.nave.pipeline import nave_layer_sets
    from encoderscope.zoo import load_model

    spec = case.resolve(folder)
    encoder = load_model(spec, random_init=case.random_init)
    if case.prefix is not None:
        expect(encoder.layout.prefix_kinds == case.prefix, f"prefix tokens {encoder.layout.prefix_kinds}")
    images = sweep_images()
    results = nave_layer_sets(encoder, images, [None, 0], k=2, size=SWEEP_SIZE, progress=False, n_init=1)
    for result in results:  # default layers, then depth index 0, from one forward pass per batch
        expect(not result.skipped, f"skipped {result.skipped}")
        for image, (key, labels) in zip(images, result.label_maps(), strict=True):
            expect(labels.shape == (image.height, image.width), f"{key}: map {labels.shape}")
    if case.prefix:
        deepest = encoder.default_layers[-1]
        info = next(iter(list_layers(encoder, pattern=deepest)))
        expect(info.kind == "tokens" and bool(info.prefix), f"{deepest}: {info.kind} prefix {info.prefix!r}")


def run_case(case: Case, folder: Path) -> Outcome:
    """:func:`check_case` with the outcome recorded instead of raised (memory freed afterwards)."""
    from encoderscope.errors import EncoderscopeError

    start, cpu = time.perf_counter(), time.process_time()
    try:
        check_case(case, folder)
        outcome = Outcome(case.id, "maps")
    except EncoderscopeError as err:
        outcome = Outcome(case.id, "error", f"{type(err).__name__}: {err}")
    except CheckFailed as err:
        outcome = Outcome(case.id, "failed check", str(err)[:300])
    except Exception as err:  # every other exception is the bug being counted
        first = (str(err).strip().splitlines() or [""])[0]
        outcome = Outcome(case.id, "traceback", f"{type(err).__name__}: {first[:300]}")
    gc.collect()
    return Outcome(
        outcome.case, outcome.status, outcome.message, time.perf_counter() - start, time.process_time() - cpu
    )


def full_sweep_asked(config: Any) -> bool:
    """Whether the whole registry sweep was asked for (``-m slow`` or ``ENCODERSCOPE_FULL_SWEEP=1``); without it
    the registry tests run their fixed default sample only and skip the other cases."""
    return os.environ.get("ENCODERSCOPE_FULL_SWEEP") == "1" or "slow" in (config.getoption("markexpr") or "")
