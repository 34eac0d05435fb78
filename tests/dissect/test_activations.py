"""Unit activations through the capture core: pooling choices and matrices given directly."""

from __future__ import annotations

import pytest
import torch

from encoderscope.data.images import open_images
from encoderscope.dissect import activations_from_tensor, neuron_activations
from encoderscope.errors import ParameterError
from encoderscope.lwta import LWTA
from encoderscope.zoo import load_model


def test_conv_layers_are_mean_pooled_by_default_and_max_on_request(make_image) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), LWTA(2, mode="conv", generator=None))
    images = open_images([make_image(32, 32, seed=i) for i in range(3)])
    mean = neuron_activations(net, images, "1", progress=False)
    top = neuron_activations(net, images, "1", pool="max", progress=False)
    assert mean.pool == "mean" and mean.values.shape == (3, 8)
    assert (top.values >= mean.values - 1e-6).all()
    assert mean.keys == ["image-000", "image-001", "image-002"]


def test_one_layer_at_a_time_and_given_matrices(make_image) -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3))
    with pytest.raises(ParameterError, match="one layer"):
        neuron_activations(net, [make_image(32, 32)], "*", progress=False)
    acts = activations_from_tensor(torch.ones(2, 3), "fc", keys=["a", "b"])
    assert acts.keys == ["a", "b"]
    with pytest.raises(ParameterError):
        acts.items[0].load()
    with pytest.raises(ParameterError, match="N, U"):
        activations_from_tensor(torch.ones(3), "fc")


def test_stochastic_units_are_the_same_for_any_workers_and_from_the_store(make_image, tmp_path) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), LWTA(2, mode="conv", generator=None))
    images = open_images([make_image(32, 32 + 8 * (i % 2), seed=i) for i in range(7)])
    base = neuron_activations(net, images, "1", batch_size=2, seed=4, progress=False, workers=0)
    again = neuron_activations(net, images, "1", batch_size=2, seed=4, progress=False, workers=2)
    assert torch.equal(base.values, again.values)  # the LWTA noise is a function of (seed, chunk) only
    assert not torch.equal(base.values, neuron_activations(net, images, "1", batch_size=2, seed=5,
                                                           progress=False, workers=0).values)
    encoder = load_model(net)  # one weights fingerprint for both runs
    cold = neuron_activations(encoder, images, "1", batch_size=2, seed=4, progress=False, cache=tmp_path)
    net[0].weight.data.fill_(float("nan"))  # a warm store does not run the model
    warm = neuron_activations(encoder, images, "1", batch_size=2, seed=4, progress=False, cache=tmp_path)
    assert torch.equal(cold.values, base.values) and torch.equal(warm.values, base.values)
