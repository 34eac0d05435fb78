"""zoo:eyes-colour-cnn: the entry (random init), the trained-once cache (a stand-in generator, so no weights and
fast), and the real entry on the real eye generator (``zoo``, ``slow``: the first run trains it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from encoderscope.linking.classifier import as_classifier
from encoderscope.zoo import eyes_classifier, load_model
from encoderscope.zoo.eyes_classifier import EyeRecipe, cached_eye_net, load_eye_classifier
from encoderscope.zoo.generators import EYE_COLOURS, LatentGenerator, load_generator

TINY = EyeRecipe(train_per_class=2, test_per_class=1, epochs=1, batch_size=8)


def test_random_init_entry_is_a_linkable_eye_colour_classifier() -> None:
    enc = load_model("zoo:eyes-colour-cnn", random_init=True, device="cpu")
    assert enc.spec == "zoo:eyes-colour-cnn" and enc.random_init and enc.fingerprint == "random-init-eyenet-seed0"
    assert tuple(enc.class_names) == EYE_COLOURS and enc.feature_layer == "pool"
    assert set(enc.depth_layers) <= set(dict(enc.module.named_modules()))
    assert not enc.module.training and not any(p.requires_grad for p in enc.module.parameters())
    other = load_eye_classifier(random_init=True, seed=1)
    assert not torch.equal(other.module.fc.weight, enc.module.fc.weight)
    clf = as_classifier(enc)
    features, logits = clf.run(torch.rand(3, 3, 128, 128))
    assert features.shape == (3, 128) and logits.shape == (3, 8)
    assert clf.resolve_head(features, logits) is enc.module.fc and clf.interpolation == "bilinear"


def _stand_in_generator() -> LatentGenerator:
    """An 8-class generator whose 32 px images are flat colours (one per class) with a little latent noise."""
    palette = torch.rand(8, 3, generator=torch.Generator().manual_seed(0))

    def synth(latents: torch.Tensor, _cls: torch.Tensor | None) -> torch.Tensor:
        colour = latents[:, 4:] @ palette + 0.05 * latents[:, :3]
        return colour[:, :, None, None].expand(-1, 3, 32, 32).clamp(0, 1)

    return LatentGenerator(name="test:eyes", latent_dim=12, synth_fn=synth, class_names=EYE_COLOURS,
                           condition_slice=slice(4, 12))


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, int]:
    """Cache in tmp_path, the stand-in generator and a fake weight file; counts the trainings."""
    monkeypatch.setenv("ENCODERSCOPE_CACHE", str(tmp_path / "cache"))
    weights = tmp_path / "generator_model_state.pth"
    weights.write_bytes(b"weights v1")
    monkeypatch.setattr(eyes_classifier, "eyes_cdcgan_files", lambda: (tmp_path / "generator.py", weights))
    monkeypatch.setattr(eyes_classifier, "load_eyes_cdcgan", _stand_in_generator)
    calls = {"trained": 0}
    real_train = eyes_classifier.train_eye_net

    def counting_train(gen: LatentGenerator, recipe: EyeRecipe) -> torch.nn.Module:
        calls["trained"] += 1
        return real_train(gen, recipe)

    monkeypatch.setattr(eyes_classifier, "train_eye_net", counting_train)
    return calls


def test_trained_once_then_read_from_the_cache(stand_in: dict[str, int], tmp_path: Path, capsys) -> None:
    net, meta = cached_eye_net(TINY)
    assert stand_in["trained"] == 1 and "training once" in capsys.readouterr().err
    assert 0.0 <= float(meta["test_accuracy"]) <= 1.0 and meta["key"] == TINY.key(meta["generator_sha256"])
    files = list((tmp_path / "cache" / "zoo").glob("eyes-colour-cnn-*.safetensors"))
    assert [f.name for f in files] == [f"eyes-colour-cnn-{meta['key']}.safetensors"]
    again, meta_again = cached_eye_net(TINY)
    assert stand_in["trained"] == 1 and meta_again["test_accuracy"] == meta["test_accuracy"]
    torch.testing.assert_close(again.state_dict(), net.state_dict(), rtol=0, atol=0)
    assert not list((tmp_path / "cache" / "zoo").glob(".*.tmp")), "no temporary files are left behind"


def test_training_is_seeded_and_the_key_follows_the_recipe_and_the_generator(
    stand_in: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, meta = cached_eye_net(TINY)
    monkeypatch.setenv("ENCODERSCOPE_CACHE", str(tmp_path / "other-cache"))
    second, _ = cached_eye_net(TINY)
    assert stand_in["trained"] == 2
    torch.testing.assert_close(second.state_dict(), first.state_dict(), rtol=0, atol=0)  # same recipe, same net
    sha = meta["generator_sha256"]
    keys = {TINY.key(sha), EyeRecipe(**{**TINY.__dict__, "seed": 1}).key(sha), TINY.key("0" * 64),
            EyeRecipe().key(sha)}
    assert len(keys) == 4 and TINY.key(sha) == meta["key"]


def test_a_damaged_cache_is_trained_again_with_one_warning(stand_in: dict[str, int], tmp_path: Path, capsys) -> None:
    _, meta = cached_eye_net(TINY)
    path = tmp_path / "cache" / "zoo" / f"eyes-colour-cnn-{meta['key']}.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    capsys.readouterr()
    cached_eye_net(TINY)
    assert stand_in["trained"] == 2 and capsys.readouterr().err.count("warning:") == 1


@pytest.mark.zoo
@pytest.mark.slow
def test_the_real_entry_knows_eye_colours() -> None:
    """On the real generator (trained on the first run, a few CPU minutes; then cached): most held-out eyes of
    each colour are classified as that colour."""
    enc = load_model("zoo:eyes-colour-cnn", device="cpu")
    assert not enc.random_init and "held-out accuracy" in enc.weights
    clf, gen = as_classifier(enc), load_generator("zoo:eyes-cdcgan", device="cpu")
    right = []
    for colour in range(8):
        _, logits = clf.run(gen.synthesize(gen.sample(12, seed=500 + colour, truncation=0.7, cls=colour)))
        right.append(float(np.mean(logits.argmax(1) == colour)))
    assert np.mean(right) > 0.7, right
