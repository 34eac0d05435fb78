import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from encoderscope.cluster import kmeans, kmeans_batch
from encoderscope.cluster.batched_kmeans import group_size, pad_features, seeding_draws, sums_by_product, sums_in_order
from encoderscope.errors import ActivationError, ParameterError
from tests.cluster.features import image_like


def per_image(x, k, seed, indices, **options):
    return [kmeans(x[j], k, seed=[seed, i], backend="torch", **options) for j, i in enumerate(indices)]


def test_same_partitions_and_inertia_as_the_per_image_torch_path():
    x = image_like(10, seed=0)
    fit = kmeans_batch(x, 5, [[7, i] for i in range(10)])
    for j, reference in enumerate(per_image(x, 5, 7, range(10))):
        labels = fit.labels[j].numpy()
        assert adjusted_rand_score(reference.labels, labels) >= 0.99
        # same algorithm, same draws, same order of additions on CPU: the very same labels
        assert np.array_equal(reference.labels, labels)
        assert fit.inertia[j].item() == pytest.approx(reference.inertia, rel=1e-5)
        assert fit.n_iter[j].item() == reference.n_iter
        assert np.allclose(fit.centers[j].numpy(), reference.centers, atol=1e-6)


@pytest.mark.parametrize("n_init", [1, 3])
def test_restarts_and_k_are_honoured(n_init):
    x = image_like(4, h=8, w=10, seed=1)
    fit = kmeans_batch(x, 3, [[0, i] for i in range(4)], n_init=n_init)
    for j, reference in enumerate(per_image(x, 3, 0, range(4), n_init=n_init)):
        assert np.array_equal(reference.labels, fit.labels[j].numpy())
        assert fit.labels[j].max() < 3


def test_labels_do_not_depend_on_batch_size_or_composition():
    x = torch.from_numpy(image_like(8, seed=2))
    seeds = [[5, i] for i in range(8)]
    whole = kmeans_batch(x, 4, seeds).labels
    for size in (1, 3, 8):
        parts = [kmeans_batch(x[s : s + size], 4, seeds[s : s + size]).labels for s in range(0, 8, size)]
        assert torch.equal(torch.cat(parts), whole)
    order = np.random.default_rng(0).permutation(8)
    shuffled = kmeans_batch(x[order], 4, [seeds[i] for i in order]).labels
    assert torch.equal(shuffled, whole[order])
    # the same image with another index draws other centres: the seed really is (seed, index)
    other = kmeans_batch(x[:1], 4, [[5, 99]])
    same = kmeans_batch(x[:1], 4, seeds[:1])
    assert not torch.equal(other.labels, same.labels) or other.n_iter.item() != same.n_iter.item()


def test_masked_mixed_sizes_equal_the_unpadded_per_image_result():
    x = image_like(4, h=12, w=12, seed=3)
    sizes = [144, 40, 97, 12]
    parts = [x[i, :n] for i, n in enumerate(sizes)]
    fit = kmeans_batch(parts, 4, [[1, i] for i in range(4)])
    assert fit.lengths == sizes and fit.labels.shape == (4, 144)
    for j, (n, reference) in enumerate(zip(sizes, per_image(parts, 4, 1, range(4)), strict=True)):
        assert np.array_equal(fit.labels[j, :n].numpy(), reference.labels)
        assert (fit.labels[j, n:] == -1).all()
        assert fit.inertia[j].item() == pytest.approx(reference.inertia, rel=1e-5)
    # the same through explicit lengths of a zero-padded tensor
    padded, _ = pad_features(parts)
    again = kmeans_batch(padded, 4, [[1, i] for i in range(4)], lengths=sizes)
    assert torch.equal(again.labels, fit.labels)


def test_duplicate_points_reseed_empty_clusters_like_the_per_image_path():
    x = np.zeros((2, 10, 3), dtype=np.float32)
    x[1, :5] = 1.0
    fit = kmeans_batch(x, 3, [[0, 0], [0, 1]])
    for j, reference in enumerate(per_image(x, 3, 0, range(2))):
        assert np.array_equal(fit.labels[j].numpy(), reference.labels)
        assert fit.inertia[j].item() == 0.0


def test_host_draws_follow_the_per_image_stream():
    first, uniforms = seeding_draws([[3, 4]], [50], k=5, n_init=2)
    rng = np.random.default_rng([3, 4])
    for r in range(2):
        assert first[0, r] == rng.integers(50)
        for step in range(4):
            assert np.array_equal(uniforms[0, r, step], rng.random(2 + int(np.log(5))))


def test_one_hot_sums_of_other_devices_equal_the_ordered_sums():
    x = torch.from_numpy(image_like(3, h=6, w=6, seed=4))
    labels = torch.randint(0, 4, (3, 2, 36), generator=torch.Generator().manual_seed(0))
    mask = torch.arange(36)[None] < torch.tensor([36, 20, 7])[:, None]
    sums, counts = sums_in_order(x, labels, mask, 4)
    product_sums, product_counts = sums_by_product(x, labels, mask, 4)
    assert torch.equal(counts, product_counts)
    assert torch.allclose(sums, product_sums, atol=1e-5)
    assert counts[2].sum(-1).tolist() == [7, 7]


def test_the_gpu_arithmetic_gives_the_same_partitions(monkeypatch):
    import encoderscope.cluster.batched_kmeans as batched

    # other devices sum by a one-hot product and cluster the whole batch as one group: run that path on CPU
    monkeypatch.setattr(batched, "sums_in_order", sums_by_product)
    monkeypatch.setattr(batched, "group_size", lambda x: x.shape[0])
    x = image_like(6, seed=5)
    fit = kmeans_batch(x, 5, [[3, i] for i in range(6)])
    for j, reference in enumerate(per_image(x, 5, 3, range(6))):
        assert adjusted_rand_score(reference.labels, fit.labels[j].numpy()) >= 0.99
        assert fit.inertia[j].item() == pytest.approx(reference.inertia, rel=1e-5)


def test_inertia_in_chunks_of_one_image_is_the_same(monkeypatch):
    import encoderscope.cluster.batched_kmeans as batched

    x = image_like(3, seed=6)
    whole = kmeans_batch(x, 4, [[0, i] for i in range(3)])
    monkeypatch.setattr(batched, "CHUNK_ELEMENTS", 1)
    chunked = kmeans_batch(x, 4, [[0, i] for i in range(3)])
    assert torch.equal(whole.inertia, chunked.inertia) and torch.equal(whole.labels, chunked.labels)


def test_groups_are_cache_sized_on_cpu_and_whole_batches_elsewhere():
    assert group_size(torch.zeros(32, 256, 384)) == 16
    assert group_size(torch.zeros(3, 256, 384)) == 3
    assert group_size(torch.zeros(32, 50176, 384)) == 1
    assert group_size(torch.empty(32, 256, 384, device="meta")) == 32


@pytest.mark.parametrize(("shape", "n_init", "threads"), [
    ((16, 256, 384), 4, 2), ((16, 256, 384), 1, 2), ((2, 256, 384), 1, 1), ((2, 12, 3), 4, 1),
])
def test_a_group_large_enough_runs_on_all_threads_a_small_one_on_one(monkeypatch, shape, n_init, threads):
    import encoderscope.cluster.batched_kmeans as batched

    seen = []
    real_lloyd = batched._lloyd

    def watching_lloyd(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_lloyd(*args, **kwargs)

    monkeypatch.setattr(batched, "_lloyd", watching_lloyd)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        features = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        fit = kmeans_batch(features, 5, [[0, i] for i in range(shape[0])], n_init=n_init)
        assert seen and set(seen) == {threads}
        assert torch.get_num_threads() == 2
        monkeypatch.setattr(batched, "SMALL_GROUP_WORK", 0 if threads == 1 else float("inf"))  # the other count
        other = kmeans_batch(features, 5, [[0, i] for i in range(shape[0])], n_init=n_init)
        assert set(seen[len(seen) // 2 :]) == {3 - threads}
        assert torch.equal(fit.labels, other.labels) and torch.equal(fit.n_iter, other.n_iter)
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize(("k", "error"), [(1, r"in \[2, 12\]"), (13, r"in \[2, 12\]"), (2.5, "integer")])
def test_bad_k_is_one_clear_error(k, error):
    with pytest.raises(ParameterError, match=error):
        kmeans_batch(np.ones((2, 12, 3), dtype=np.float32), k, [0, 1])


def test_bad_inputs_are_one_clear_error():
    with pytest.raises(ParameterError, match="one seed per image"):
        kmeans_batch(np.ones((2, 12, 3), dtype=np.float32), 2, [0])
    with pytest.raises(ActivationError, match="images, positions, channels"):
        kmeans_batch(np.ones((12, 3), dtype=np.float32), 2, [0])
    with pytest.raises(ActivationError, match="one channel count"):
        kmeans_batch([np.ones((12, 3)), np.ones((12, 4))], 2, [0, 1])
    with pytest.raises(ParameterError, match="n_init"):
        kmeans_batch(np.ones((1, 12, 3), dtype=np.float32), 2, [0], n_init=0)
