"""The Ray engine on a local cluster of 2 fractional actors gives the local engine's results, bit for bit.

One cluster for the module (started by :func:`ray_session`, as the commands start theirs); its teardown checks that
the cluster is gone. The command-line path, which starts and stops its own cluster, is in test_ray_engine_cli.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from encoderscope.capture.ray_engine import actor_plan, check_reachable, ray_session, worker_error
from encoderscope.data.images import open_images
from encoderscope.errors import DeviceError, EngineError, MissingExtraError, ParameterError
from encoderscope.zoo import load_model
from tests.images import make_image
from tests.ray_cluster import MARK, left_behind, marked_processes, new_mark

pytest.importorskip("ray.data", reason="the Ray engine needs the 'ray' extra")

pytestmark = pytest.mark.slow  # a Ray cluster and its actors take seconds to start; runs in the default suite

RAY = {"engine": "ray", "ray_actors": 2}
N_IMAGES = 12


@pytest.fixture(scope="module")
def cluster():
    import ray

    assert not ray.is_initialized()
    mark = new_mark()
    os.environ[MARK] = mark  # inherited by every process of the cluster
    try:
        with ray_session():
            assert ray.is_initialized() and ray.cluster_resources()["CPU"] >= 1
            assert [p for p in marked_processes(mark) if "raylet" in p.name()]
            yield ray
    finally:
        del os.environ[MARK]
    assert not ray.is_initialized()
    assert left_behind(mark) == []


@pytest.fixture(scope="module")
def encoder():
    return load_model(
        "timm:vit_small_patch14_reg4_dinov2", random_init=True, seed=1, img_size=56, depth=2, embed_dim=32,
        num_heads=2,
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """12 PNGs of two sizes (so batches group by size) and one unreadable file."""
    root = tmp_path_factory.mktemp("images")
    for i in range(N_IMAGES):
        make_image(48 + 8 * (i % 2), 64, seed=i).save(root / f"{i:02d}.png")
    (root / "05b-broken.png").write_bytes(b"not a png")
    return root


def _same_maps(a, b) -> None:
    assert [r.key for r in a.records] == [r.key for r in b.records]
    for x, y in zip(a.records, b.records, strict=True):
        assert np.array_equal(x.labels, y.labels) and x.labels.dtype == y.labels.dtype
        assert (x.k, x.original_hw, x.padded_hw) == (y.k, y.original_hw, y.padded_hw)
    assert a.skipped == b.skipped and a.gallery == b.gallery and a.config == b.config


@pytest.mark.parametrize("scope", ["image", "dataset"])
def test_nave_labels_equal_the_local_engine(cluster, encoder, folder, scope):
    from encoderscope.nave import nave

    options = {"k": 3, "scope": scope, "seed": 4, "batch_size": 2, "fit_positions": 200, "progress": False}
    local = nave(encoder, folder, workers=0, **options)
    remote = nave(encoder, folder, **RAY, **options)
    _same_maps(local, remote)
    assert [s["key"] for s in remote.skipped] == ["05b-broken.png"]
    assert remote.run.config["engine"] == "ray" and local.run.config["engine"] == "local"


def test_the_store_gets_the_local_engines_shards(cluster, encoder, folder, tmp_path):
    from encoderscope.nave import nave

    options = {"k": 3, "batch_size": 2, "progress": False}
    local = nave(encoder, folder, workers=0, cache=tmp_path / "local", **options)
    remote = nave(encoder, folder, cache=tmp_path / "ray", **RAY, **options)
    _same_maps(local, remote)

    def shards(root: Path) -> list[str]:
        return sorted(p.name for p in root.glob("*/shards/*.safetensors"))

    assert shards(tmp_path / "local") == shards(tmp_path / "ray") and len(shards(tmp_path / "ray")) == 2
    weight = encoder.module.blocks[0].attn.qkv.weight.data
    saved = weight.clone()
    weight.fill_(float("nan"))  # a warm store runs no model
    try:
        warm = nave(encoder, folder, workers=0, cache=tmp_path / "ray", **options)
    finally:
        weight.copy_(saved)
    _same_maps(local, warm)


def test_corloc_scores_equal_the_local_engine(cluster, tmp_path):
    from encoderscope.data.scenes import write_scenes
    from encoderscope.nave.evaluate import evaluate_corloc

    root = tmp_path / "scenes"
    write_scenes(root, n=6, seed=3, progress=False)
    options = {"k": 3, "random_init": True, "layers": "layer3", "batch_size": 2, "size": 96, "progress": False}
    local = evaluate_corloc("timm:resnet18", root, workers=0, **options)
    remote = evaluate_corloc("timm:resnet18", root, **RAY, **options)
    assert remote.summary() == local.summary() and remote.corloc.n_images == 6
    assert remote.corloc.to_csv() == local.corloc.to_csv()


def test_dissect_activations_equal_the_local_engine_with_stochastic_units(cluster):
    from encoderscope.dissect import neuron_activations
    from encoderscope.lwta import LWTA

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), LWTA(2, mode="conv", generator=None))
    images = open_images([make_image(32, 32 + 8 * (i % 2), seed=i) for i in range(7)])
    local = neuron_activations(net, images, "1", batch_size=2, seed=4, progress=False, workers=0)
    remote = neuron_activations(net, images, "1", batch_size=2, seed=4, progress=False, **RAY)
    assert torch.equal(local.values, remote.values)  # the LWTA noise is reseeded per chunk on the actors too
    assert remote.keys == local.keys and remote.pool == local.pool == "mean"


def _failing_grid(name, output):
    raise ValueError("grid transform broke\nsecond line")


def _refusing_grid(name, output):
    raise ParameterError("this layer is not allowed here")


def test_a_failing_worker_is_one_line(cluster, encoder, folder):
    from encoderscope.nave import nave_layer_sets

    with pytest.raises(EngineError) as failed:
        nave_layer_sets(encoder, folder, k=3, batch_size=2, progress=False, transform=_failing_grid, **RAY)
    assert str(failed.value) == "a Ray worker failed: ValueError: grid transform broke"
    with pytest.raises(ParameterError) as refused:  # the worker's own encoderscope error comes back as it is
        nave_layer_sets(encoder, folder, k=3, batch_size=2, progress=False, transform=_refusing_grid, **RAY)
    assert str(refused.value) == "this layer is not allowed here"


def test_unreachable_addresses_and_a_missing_ray_are_one_line(monkeypatch):
    with pytest.raises(EngineError, match=r"^cannot reach the Ray cluster at 127\.0\.0\.1:1 \(connection refused\)"):
        check_reachable("127.0.0.1:1")
    with pytest.raises(EngineError, match="unknown host"):
        check_reachable("no-such-host.invalid:6379")
    with pytest.raises(EngineError, match="is not host:port"):
        check_reachable("10.0.0.5:http")
    check_reachable("auto")  # left to Ray, which finds the cluster started on this machine
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'encoderscope\[ray\]'"), ray_session():
        pass


def test_worker_errors_unwrap_rays_exceptions():
    class RayTaskError(Exception):  # what Ray raises: the worker's exception as ``cause``
        def __init__(self, cause):
            super().__init__("ray::MapWorker() (pid=1)\nTraceback ...")
            self.cause = cause

    assert str(worker_error(RayTaskError(ParameterError("K must be at least 2")))) == "K must be at least 2"
    assert isinstance(worker_error(RayTaskError(ParameterError("x"))), ParameterError)
    died = worker_error(RuntimeError("The actor died unexpectedly\nmore"))
    assert isinstance(died, EngineError)
    assert str(died) == "a Ray worker failed: RuntimeError: The actor died unexpectedly"
    trace = "The actor died because of an error raised in its creation task\n  File ...\n{}\n"
    ours = worker_error(RuntimeError(trace.format("encoderscope.errors.DeviceError: device 'cuda' is not available")))
    assert isinstance(ours, DeviceError) and str(ours) == "device 'cuda' is not available"
    other = worker_error(RuntimeError(trace.format("ModuleNotFoundError: No module named 'encoderscope'")))
    assert str(other) == "a Ray worker failed: ModuleNotFoundError: No module named 'encoderscope'"


def test_actor_plans_never_take_every_cpu():
    for cpus in (1.0, 2.0, 3.0, 8.0):
        for actors in (None, 1, 2, 5):
            plan = actor_plan({"CPU": cpus}, actors)
            assert plan.size * plan.num_cpus <= cpus - 0.5 + 1e-9
            assert plan.num_gpus == 0.0 and plan.threads >= 1
    assert actor_plan({"CPU": 4.0, "GPU": 2.0}, actors=4).num_gpus == 0.5
    assert actor_plan({"CPU": 4.0}, actors=8, chunks=3).size == 3
