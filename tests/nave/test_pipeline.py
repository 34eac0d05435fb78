import numpy as np
import pytest
import torch

import encoderscope
from encoderscope.capture import extract
from encoderscope.cluster import fit_clusters_batch
from encoderscope.errors import LayerError, ParameterError
from encoderscope.nave import cluster_positions, combine_depths, nave, prepare_encoder


@pytest.fixture
def images(make_image):
    """Three images of different sizes."""
    return [make_image(64, 96, seed=0), make_image(80, 80, seed=1), make_image(70, 50, seed=2)]


def test_image_scope_maps_at_each_images_own_resolution(images, tiny_vit):
    result = nave(tiny_vit, images, k=3, progress=False)
    assert result.keys == ["image-000", "image-001", "image-002"]
    assert [r.index for r in result.records] == [0, 1, 2]
    for record, image in zip(result.records, images, strict=True):
        labels = result.label_map(record.key)
        assert labels.shape == (image.height, image.width)
        assert labels.min() >= 0 and labels.max() < 3
    # default layers: the last block; grid = patch grid of the padded input (112x168 -> 8x12)
    assert result.config["layers"] == ["blocks.2"]
    assert result.records[0].labels.shape == (8, 12)


def test_pipeline_is_exactly_capture_combine_cluster(make_image, tiny_vit):
    image = [make_image(64, 96, seed=5), make_image(64, 96, seed=6)]
    layers = ["blocks.0", "blocks.2"]
    acts = extract(tiny_vit, image, layers=layers, progress=False)
    features = combine_depths([acts["blocks.0"].grid, acts["blocks.2"].grid])
    flat = features.reshape(2, -1, features.shape[-1])
    # per-image faiss: the results of earlier versions, bit for bit
    result = nave(tiny_vit, image, layers=layers, k=4, seed=3, backend="faiss", progress=False)
    for j in range(2):
        assert np.array_equal(result.records[j].labels.ravel(), cluster_positions(flat[j], 4, seed=3))
    assert result.config["backend"] == "faiss" and "backend_requested" not in result.config
    # the default: the whole batch at once, image j seeded with [seed, j]
    batched = nave(tiny_vit, image, layers=layers, k=4, seed=3, progress=False)
    expected = fit_clusters_batch(flat, 4, seed=3, indices=[0, 1])
    for j in range(2):
        assert np.array_equal(batched.records[j].labels.ravel(), expected.fits[j].labels)
    assert batched.config["backend"] == "torch-batched" and batched.config["backend_requested"] == "auto"


def test_batched_labels_do_not_depend_on_the_batch_size(make_image, tiny_vit):
    pictures = [make_image(64, 96, seed=s) for s in range(5)]
    one = nave(tiny_vit, pictures, k=3, batch_size=1, progress=False)
    three = nave(tiny_vit, pictures, k=3, batch_size=3, progress=False)
    assert all(np.array_equal(a.labels, b.labels) for a, b in zip(one.records, three.records, strict=True))
    pca = nave(tiny_vit, pictures[:2], k=3, method="pca", progress=False)
    assert pca.config["backend"] == "torch-batched" and pca.records[0].labels.max() < 3


def test_dataset_scope_on_the_device_assigns_as_the_host_path(make_image, tiny_vit):
    pictures = [make_image(64, 96, seed=7), make_image(80, 80, seed=8)]
    auto = nave(tiny_vit, pictures, k=4, scope="dataset", progress=False)
    host = nave(tiny_vit, pictures, k=4, scope="dataset", backend="torch", progress=False)
    assert auto.config["backend"] == "torch" and auto.config["backend_requested"] == "auto"
    assert all(np.array_equal(a.labels, b.labels) for a, b in zip(auto.records, host.records, strict=True))


def test_cnn_depths_of_different_resolutions_use_the_first_grid(images, tiny_resnet):
    result = nave(tiny_resnet, images[:1], layers="layer2,layer3", k=3, progress=False)
    # 64x96 -> 128x192; layer2 has stride 8
    assert result.records[0].labels.shape == (16, 24)
    assert result.label_map(0).shape == (64, 96)


def test_bilinear_input_departure_clusters_pixels(images, tiny_resnet):
    small = prepare_encoder(tiny_resnet, size=32)
    result = nave(small, images[:1], layers="layer3", k=3, resample="bilinear-input", progress=False)
    assert result.records[0].labels.shape == (32, 48)
    assert result.config["resample"] == "bilinear-input"


def test_dataset_scope_assigns_consistently(make_image, tiny_vit):
    picture = make_image(64, 96, seed=7)
    result = nave(tiny_vit, [picture, make_image(80, 80, seed=8), picture], k=4, scope="dataset", progress=False)
    first, _, third = result.records
    assert np.array_equal(first.labels, third.labels)  # the same image gets the same concepts
    assert result.config["scope"] == "dataset" and result.config["k_fitted"] == 4
    assert set(result.gallery) == {0, 1, 2, 3}
    for concept, entries in result.gallery.items():
        fractions = [f for _, f in entries]
        assert fractions == sorted(fractions, reverse=True)
        assert all(0 < f <= 1 for f in fractions)
        assert concept < 4
    again = nave(tiny_vit, [picture, make_image(80, 80, seed=8), picture], k=4, scope="dataset", progress=False)
    assert all(np.array_equal(a.labels, b.labels) for a, b in zip(result.records, again.records, strict=True))


def test_dataset_scope_fits_on_a_bounded_sample(make_image, tiny_vit, monkeypatch):
    import encoderscope.nave.pipeline as pipeline

    seen = []
    real = pipeline.fit_clusters

    def spy(features, *args, **kwargs):
        seen.append(features.shape)
        return real(features, *args, **kwargs)

    monkeypatch.setattr(pipeline, "fit_clusters", spy)
    many = [make_image(64, 96, seed=s) for s in range(6)]
    nave(tiny_vit, many, k=3, scope="dataset", fit_positions=30, progress=False)
    # quota ceil(30 / 6) = 5 positions per image, one fit
    assert seen == [(30, 48)]


def test_auto_k_is_recorded_per_image(images, tiny_vit):
    result = nave(tiny_vit, images[:1], k="auto", progress=False)
    choice = result.records[0].k_choice
    assert choice["rule"] == "inertia-drop (reference)" and choice["ks"] == list(range(3, 11))
    assert result.records[0].k == choice["k"]


def test_errors_are_one_line(images, tiny_vit, tmp_path):
    with pytest.raises(ParameterError, match="larger than the number of positions"):
        nave(tiny_vit, images[:1], k=500, progress=False)
    with pytest.raises(ParameterError, match="unknown method"):
        nave(tiny_vit, images[:1], method="dbscan", progress=False)
    with pytest.raises(ParameterError, match="unknown k-means back-end 'cuml'"):
        nave(tiny_vit, images[:1], backend="cuml", progress=False)
    with pytest.raises(ParameterError, match="unknown scope"):
        nave(tiny_vit, images[:1], scope="world", progress=False)
    with pytest.raises(ParameterError, match="at least 2"):
        nave(tiny_vit, images[:1], k=1, progress=False)
    with pytest.raises(LayerError, match="no spatial grid"):
        nave(tiny_vit, images[:1], layers="head", progress=False)


def test_unreadable_inputs_are_skipped_and_reported(make_image, tiny_vit, tmp_path):
    make_image(64, 96).save(tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    result = nave(tiny_vit, tmp_path, k=3, progress=False)
    assert result.keys == ["good.png"]
    assert [s["key"] for s in result.skipped] == ["broken.png"]


def test_attention_method_labels_patches_by_head(images, tiny_vit):
    result = nave(tiny_vit, images[:1], method="attention", progress=False)
    record = result.records[0]
    assert record.k == 4 and record.labels.shape == (16, 24)  # 2x the 8x12 patch grid
    assert record.labels.min() >= 0 and record.labels.max() < 4
    heads = nave(tiny_vit, images[:1], method="attention", heads=[1, 3], progress=False)
    assert heads.records[0].k == 2


def test_flat_api_callable_subpackage(images, tiny_vit):
    a = encoderscope.nave(tiny_vit, images[:1], k=3, progress=False)
    b = encoderscope.nave_maps(tiny_vit, images[:1], k=3, progress=False)
    c = encoderscope.nave.run(tiny_vit, images[:1], k=3, progress=False)
    assert np.array_equal(a.records[0].labels, b.records[0].labels)
    assert np.array_equal(a.records[0].labels, c.records[0].labels)
    assert callable(encoderscope.nave.combine_depths)
    assert torch.is_tensor(encoderscope.nave.combine_depths([torch.rand(1, 2, 2, 2)]))


def test_several_k_share_one_forward_pass_and_equal_single_runs(images, tiny_vit, monkeypatch):
    from encoderscope.nave import pipeline

    passes = []
    real = pipeline.map_batches
    monkeypatch.setattr(pipeline, "map_batches", lambda *a, **kw: passes.append(1) or real(*a, **kw))
    results = pipeline.nave_layer_sets(tiny_vit, images, [["blocks.0"], ["blocks.2"]], ks=[2, 4], progress=False)
    assert len(passes) == 1
    assert [(r.config["layers"], r.k, r.run.config["k"]) for r in results] == [
        (["blocks.0"], 2, 2), (["blocks.0"], 4, 4), (["blocks.2"], 2, 2), (["blocks.2"], 4, 4)
    ]
    for result, (layers, k) in zip(results, [("blocks.0", 2), ("blocks.0", 4), ("blocks.2", 2), ("blocks.2", 4)],
                                   strict=True):
        single = nave(tiny_vit, images, layers=layers, k=k, progress=False)
        assert all(np.array_equal(a.labels, b.labels) for a, b in zip(result.records, single.records, strict=True))


def test_a_k_larger_than_the_grid_skips_the_image_for_that_k_only(make_image, tiny_vit):
    from encoderscope.nave.pipeline import nave_layer_sets

    tiny = prepare_encoder(tiny_vit, size=32)  # 3 x 4 and 3 x 3 patches of 14 px (padded)
    small, large = nave_layer_sets(tiny, [make_image(32, 48, seed=0), make_image(32, 32, seed=1)], ks=[3, 10],
                                   progress=False)
    assert small.keys == ["image-000", "image-001"] and not small.skipped
    assert large.keys == ["image-000"] and [s["key"] for s in large.skipped] == ["image-001"]
    with pytest.raises(ParameterError, match="no concept map could be computed"):
        nave_layer_sets(tiny, [make_image(32, 32, seed=1)], ks=[3, 10], progress=False)


def test_a_grid_transform_replaces_the_captured_grid(images, tiny_vit):
    from encoderscope.nave.pipeline import nave_layer_sets

    def constant(name, output):
        return torch.ones_like(output.grid)

    (result,) = nave_layer_sets(tiny_vit, images[:1], [["blocks.2"]], transform=constant, k=2, progress=False)
    assert any("constant" in note for note in result.notes)
    plain = nave(tiny_vit, images[:1], layers="blocks.2", k=2, progress=False)
    assert not np.array_equal(result.records[0].labels, plain.records[0].labels)


def _folder_of_images(make_image, folder):
    folder.mkdir()
    for i in range(5):
        make_image(56 + 8 * (i % 2), 64, seed=i).save(folder / f"{i}.png")
    (folder / "broken.png").write_bytes(b"not an image")
    return folder


@pytest.mark.parametrize("scope", ["image", "dataset"])
def test_workers_do_not_change_the_maps(make_image, tiny_vit, tmp_path, scope):
    folder = _folder_of_images(make_image, tmp_path / "images")
    runs = [nave(tiny_vit, folder, k=3, scope=scope, batch_size=2, workers=n, progress=False) for n in (0, 1, 2)]
    for result in runs[1:]:
        assert result.keys == runs[0].keys and result.skipped == runs[0].skipped
        assert all(np.array_equal(a.labels, b.labels) for a, b in zip(result.records, runs[0].records, strict=True))
    (skipped,) = runs[0].skipped
    assert skipped["key"].endswith("broken.png") and len(runs[0].records) == 5


def test_a_warm_store_gives_the_same_maps_without_the_model(make_image, tiny_vit, tmp_path):
    folder = _folder_of_images(make_image, tmp_path / "images")
    first = nave(tiny_vit, folder, k=3, scope="dataset", batch_size=2, cache=tmp_path / "store", progress=False)
    calls = []
    hook = tiny_vit.module.blocks[0].register_forward_hook(lambda *_: calls.append(1))
    try:
        again = nave(tiny_vit, folder, k=3, scope="dataset", batch_size=2, cache=tmp_path / "store", progress=False)
    finally:
        hook.remove()
    assert calls == [] and again.keys == first.keys
    assert all(np.array_equal(a.labels, b.labels) for a, b in zip(again.records, first.records, strict=True))
    assert again.run.config["cache"] == str(tmp_path / "store")
