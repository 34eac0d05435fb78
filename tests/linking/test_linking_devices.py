"""Linking on a GPU: the classifier, the generator and the counterfactual optimisation run where the models are."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from encoderscope.linking.classifier import as_classifier, synthetic_classifier
from encoderscope.linking.counterfactual import counterfactuals
from encoderscope.linking.network import fit_link
from encoderscope.linking.pairs import make_pairs
from encoderscope.linking.parts import FeatureSource, fit_part_model
from encoderscope.linking.quantify import quantify_sweep
from encoderscope.linking.tune import sweep_units
from encoderscope.zoo.generators import linear_generator, load_generator, stylegan_generator, wrap_generator
from tests.fake_cuda import fake_cuda


class _Decoder(nn.Module):
    """A tiny DCGAN-style generator (``main``: transposed convolutions): 6-d latent -> (3, 8, 8) in [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.main = nn.Sequential(nn.ConvTranspose2d(6, 4, 4), nn.ReLU(), nn.ConvTranspose2d(4, 3, 2, stride=2),
                                  nn.Tanh())

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return self.main(w[:, :, None, None])


def _classifier():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 3))
    return as_classifier(net, feature_layer="3")


def test_counterfactuals_on_the_gpu_match_the_cpu(monkeypatch) -> None:
    gen, clf = linear_generator(), synthetic_classifier()
    pairs = make_pairs(gen, clf, 6, progress=False)
    link = fit_link(pairs.features, pairs.latents).network
    rows = np.flatnonzero(pairs.labels == 0)[:2]
    on_cpu = counterfactuals(pairs.features[rows], [0, 0], [1, 2], link, clf, gen, max_steps=50, progress=False)
    with fake_cuda(monkeypatch) as gpu:
        clf_gpu = as_classifier(synthetic_classifier(), device="cuda")
        assert clf_gpu.device == torch.device("cuda", 0)
        result = counterfactuals(pairs.features[rows], [0, 0], [1, 2], link, clf_gpu, gen, max_steps=50,
                                 progress=False)
    assert {"cosine_similarity", "linear", "relu"} <= gpu.gpu_ops  # the paper's loss ran on the GPU
    np.testing.assert_array_equal(result.steps, on_cpu.steps)
    np.testing.assert_allclose(result.shift, on_cpu.shift, rtol=1e-5, atol=1e-6)


def test_a_generator_network_runs_on_the_gpu(monkeypatch) -> None:
    gen = wrap_generator(_Decoder(), latent_dim=6, output_range="tanh", name="decoder")
    clf = _classifier()
    with fake_cuda(monkeypatch) as gpu:
        load_generator(gen, device="cuda", autocast=True)
        clf.to("cuda")
        assert gen.device == torch.device("cuda", 0)
        images = gen.synthesize(gen.sample(5, seed=0))
        assert gpu.on_gpu(images) and images.dtype == torch.float32
        pairs = make_pairs(gen, clf, 8, progress=False)
        link = fit_link(pairs.features, pairs.latents, method="ridge").network
        sweep = sweep_units(link, gen, clf, pairs.features[:2], units=[0, 1], progress=False)
        source = FeatureSource("generator", size=8, generator=gen)
        parts = fit_part_model(sweep.images.reshape(-1, 8, 8, 3), k=2, source=source,
                               latents=sweep.latents.reshape(-1, 6), seed=0)
        quant = quantify_sweep(sweep, parts, min_area=1, progress=False)
        by_classifier = FeatureSource("classifier", size=8, classifier=clf, layer="1")
        assert by_classifier(sweep.images[0, 0]).shape == (3, 8, 8, 4)
    assert {"conv_transpose2d", "conv2d"} <= gpu.gpu_ops
    assert np.isfinite(sweep.pixel_change).all() and len(quant.rows) > 0


def test_classifier_autocast_and_spec_devices(monkeypatch) -> None:
    with fake_cuda(monkeypatch):
        clf = as_classifier("synthetic:linear", device="cuda", autocast=True)
        gen = load_generator("synthetic:linear", device="cuda")  # no network: it stays a CPU function
        feats, logits = clf.run(gen.synthesize(gen.sample(4, seed=0, cls=1)))
    assert clf.autocast and feats.shape == (4, 12) and logits is not None and logits.dtype == np.float32


class _Mapping(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.register_buffer("w_avg", torch.zeros(6))

    def forward(self, z: torch.Tensor, c: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
        return self.fc(z)[:, None, :].repeat(1, 2, 1)


class _StyleGan(nn.Module):
    z_dim, c_dim, w_dim, num_ws = 4, 0, 6, 2

    def __init__(self) -> None:
        super().__init__()
        self.mapping = _Mapping()
        self.decoder = _Decoder()

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "none", force_fp32: bool = True) -> torch.Tensor:
        return self.decoder(ws[:, 0])


def test_stylegan_sampling_and_synthesis_on_the_gpu(monkeypatch) -> None:
    gen = stylegan_generator(_StyleGan())
    expected = gen.sample(3, seed=5, truncation=0.7)
    with fake_cuda(monkeypatch) as gpu:
        gen.to("cuda")
        w = gen.sample(3, seed=5, truncation=0.7)
        images = gen.synthesize(w)
    assert isinstance(w, np.ndarray) and gpu.on_gpu(images)
    np.testing.assert_allclose(w, expected, rtol=1e-6)


def test_unavailable_device_for_a_generator() -> None:
    from encoderscope.errors import DeviceError

    with pytest.raises(DeviceError, match="unknown device"):
        load_generator("synthetic:linear", device="gpu")
