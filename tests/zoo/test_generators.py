"""Generator protocol: seeded sampling, class-centred truncation, adapters and the pickle guard."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from encoderscope._io import file_sha256
from encoderscope.errors import ParameterError, SourceError
from encoderscope.zoo.generators import (
    Generator,
    generator_record,
    generator_spec,
    linear_generator,
    load_generator,
    load_stylegan_pickle,
    wrap_generator,
)
from tests.linking.fake_stylegan import write_pickle


def test_sampling_is_seeded_and_distinct_per_seed() -> None:
    gen = linear_generator()
    assert np.array_equal(gen.sample(4, seed=3), gen.sample(4, seed=3))
    assert not np.allclose(gen.sample(4, seed=3), gen.sample(4, seed=4))


def test_truncation_is_class_centred_hand_case() -> None:
    gen = linear_generator(latent_dim=3, n_classes=2)
    raw = gen.sample(5, seed=1, truncation=None, cls=1)
    trunc = gen.sample(5, seed=1, truncation=0.5, cls=1)
    mean = gen.class_means[1]
    np.testing.assert_allclose(trunc, mean + 0.5 * (raw - mean), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gen.sample(2, seed=1, truncation=0.0, cls=0), np.tile(gen.class_means[0], (2, 1)),
                               atol=1e-6)


def test_bad_class_and_truncation() -> None:
    gen = linear_generator()
    with pytest.raises(ParameterError, match="unknown class"):
        gen.sample(2, 0, cls="nope")
    with pytest.raises(ParameterError, match="truncation"):
        gen.sample(2, 0, truncation=1.5)


def test_wrap_callable_and_protocol() -> None:
    gen = wrap_generator(lambda w: torch.tanh(w[:, :3, None, None]).expand(-1, 3, 4, 4), 5, output_range="tanh")
    images = gen.synthesize(gen.sample(3, seed=0))
    assert isinstance(gen, Generator)
    assert images.shape == (3, 3, 4, 4) and float(images.min()) >= 0.0 and float(images.max()) <= 1.0


def test_conditional_latent_carries_one_hot() -> None:
    gen = linear_generator()
    calls = []

    def fn(w: torch.Tensor, cls: torch.Tensor | None) -> torch.Tensor:
        calls.append(cls)
        return w[:, :3, None, None].expand(-1, 3, 2, 2)

    wrapped = wrap_generator(fn, 6, class_names=["a", "b"])
    wrapped.synthesize(gen.sample(2, 0), cls="b")
    assert calls[0].tolist() == [1, 1]


def test_stylegan_pickle_needs_trust(tmp_path) -> None:
    path = tmp_path / "net.pkl"
    path.write_bytes(b"not really")
    with pytest.raises(SourceError, match="trust_pickle"):
        load_stylegan_pickle(path)
    with pytest.raises(SourceError, match="unknown generator"):
        load_generator("zoo:nope")


def test_a_stylegan_pickle_is_recorded_by_resolved_path_and_sha256(tmp_path, monkeypatch) -> None:
    path = write_pickle(tmp_path / "net.pkl")
    monkeypatch.chdir(tmp_path)
    gen = load_generator("stylegan:net.pkl", trust_pickle=True)
    assert gen.name == f"stylegan:{path.resolve()}" == generator_spec("stylegan:net.pkl")
    assert generator_record(gen) == {"generator": gen.name, "generator_sha256": file_sha256(path)}
    assert generator_record(linear_generator()) == {"generator": "synthetic:linear"}
    assert gen.synthesize(gen.sample(2, seed=0, truncation=0.7)).shape == (2, 3, 16, 16)
    again = load_generator(gen.name, trust_pickle=True, sha256=file_sha256(path))
    assert np.allclose(again.sample(2, seed=0), gen.sample(2, seed=0))


def test_a_changed_pickle_is_refused_before_it_is_unpickled(tmp_path) -> None:
    path = write_pickle(tmp_path / "net.pkl")
    recorded = file_sha256(path)
    path.write_bytes(b"not a pickle any more")  # unpickling it would fail differently
    with pytest.raises(SourceError, match="changed since it was recorded"):
        load_stylegan_pickle(path, trust_pickle=True, sha256=recorded)


@pytest.mark.zoo
def test_eyes_generator_real_weights() -> None:
    gen = load_generator("zoo:eyes-cdcgan")
    latents = gen.sample(2, seed=0, truncation=0.7, cls="blue")
    assert latents.shape == (2, 108) and latents[:, 100:].argmax(1).tolist() == [1, 1]
    images = gen.synthesize(latents)
    assert images.shape == (2, 3, 128, 128) and 0.0 <= float(images.min()) <= float(images.max()) <= 1.0


@pytest.mark.zoo
def test_faces_generator_real_weights() -> None:
    gen = load_generator("zoo:dcgan-faces")
    images = gen.synthesize(gen.sample(2, seed=0, truncation=0.7))
    assert images.shape == (2, 3, 64, 64) and float(images.std()) > 0.05


def test_a_pickle_without_a_generator_is_one_line(tmp_path) -> None:
    import pickle

    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"D": [1, 2]}))
    with pytest.raises(SourceError, match="holds no StyleGAN generator"):
        load_stylegan_pickle(path, trust_pickle=True)
