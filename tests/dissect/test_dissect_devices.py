"""Dissection runs on the encoder's device: the forward passes, LWTA noise, the scorers' models and the similarity."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from encoderscope.data.images import open_images
from encoderscope.dissect import AnnotationScorer, ClipScorer, LabelspaceScorer, dissect, neuron_activations
from encoderscope.lwta import LWTA
from encoderscope.zoo import load_model
from tests.fake_cuda import fake_cuda


@pytest.fixture
def probe(make_image):
    return open_images([make_image(32, 32, seed=i) for i in range(4)])


def _lwta_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), LWTA(2, mode="conv"))


def test_dissect_runs_the_similarity_on_the_gpu(monkeypatch, probe) -> None:
    net = _lwta_net()
    scorer = AnnotationScorer(torch.eye(4)[:, :2] + 0.1, ["stripes", "dots"])
    on_cpu = dissect(net, probe, "1", ["stripes", "dots"], scorer, top_k=2, progress=False)
    with fake_cuda(monkeypatch) as gpu:
        result = dissect(net, probe, "1", ["stripes", "dots"], scorer, top_k=2, progress=False, device="cuda")
    assert {"conv2d", "logsumexp", "topk"} <= gpu.gpu_ops  # forward and soft_wpmi on the GPU
    assert gpu.generator_devices == [torch.device("cuda", 0)]  # the LWTA noise is drawn there
    assert not gpu.on_gpu(result.best) and not gpu.on_gpu(result.activations.values)
    assert result.config["device"] == "cuda:0 (Fake GPU)"
    assert [r["concept"] for r in result.descriptions()] == [r["concept"] for r in on_cpu.descriptions()]


def test_lwta_noise_from_a_cpu_generator_reaches_a_gpu_model(monkeypatch, probe) -> None:
    net = _lwta_net()
    net[1].generator = torch.Generator().manual_seed(3)  # e.g. given by the user before moving the model
    with fake_cuda(monkeypatch) as gpu:
        net.to("cuda")
        out = net(torch.ones(1, 3, 8, 8).cuda())
        assert gpu.on_gpu(out) and ((out != 0).sum(1) == 4).all()


def test_neuron_activations_with_autocast(monkeypatch, probe) -> None:
    with fake_cuda(monkeypatch):
        acts = neuron_activations(_lwta_net().to("cuda"), probe, "1", progress=False, autocast=True)
    assert acts.values.shape == (4, 8) and acts.values.dtype == torch.float32


class _Classifier(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.fc(pixels.mean(dim=(2, 3)))


def _toy_embed(texts) -> torch.Tensor:
    vocab = {"cat": [1.0, 0.0, 0.2], "car": [0.0, 1.0, 0.3], "kitten": [0.9, 0.1, 0.2], "wheel": [0.1, 0.8, 0.3]}
    return F.normalize(torch.tensor([vocab[t] for t in texts]), dim=-1)  # on the CPU: the scorer moves it


def test_labelspace_scorer_on_the_gpu(monkeypatch, probe) -> None:
    net = _Classifier()
    encoder = load_model(net)
    encoder.classifier, encoder.class_names = net, ["cat", "car"]
    with fake_cuda(monkeypatch) as gpu:
        scorer = LabelspaceScorer(encoder, embed=_toy_embed, device="cuda")
        P = scorer.scores(probe.items, ["kitten", "wheel"])
        assert gpu.on_gpu(P) and P.shape == (4, 2)
    assert any(m.pinned for m in gpu.moves)


class _Clip(torch.nn.Module):
    """Just what ClipScorer uses: encode_image and encode_text."""

    def __init__(self) -> None:
        super().__init__()
        self.image = torch.nn.Linear(3, 4)
        self.text = torch.nn.Embedding(10, 4)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.image(pixels.mean(dim=(2, 3)))

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.text(tokens).mean(1)


def test_clip_scorer_on_the_gpu(monkeypatch, probe) -> None:
    def tokenizer(texts):
        return torch.tensor([[len(t) % 10, 1] for t in texts])  # CPU tokens, as open_clip's tokenizers give

    def preprocess(image):
        return torch.from_numpy(__import__("numpy").asarray(image.resize((8, 8)), "float32")).permute(2, 0, 1)

    with fake_cuda(monkeypatch) as gpu:
        scorer = ClipScorer(_Clip().to("cuda"), preprocess, tokenizer)
        P = scorer.scores(probe.items, ["dog", "striped shirt"])
        assert gpu.on_gpu(P) and P.shape == (4, 2)
    assert {"embedding", "linear", "normalize"} & gpu.gpu_ops == {"embedding", "linear", "normalize"}
