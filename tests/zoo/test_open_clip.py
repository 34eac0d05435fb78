import pytest
import torch

from encoderscope.errors import SourceError, WeightsUnavailableError
from encoderscope.zoo import load_model

pytest.importorskip("open_clip")


def test_tower_from_a_local_checkpoint(tmp_path):
    from encoderscope.zoo.open_clip import create_open_clip

    model, _ = create_open_clip("ViT-S-32", seed=5)
    path = tmp_path / "clip.pt"
    torch.save(model.state_dict(), path)
    enc = load_model(f"open_clip:ViT-S-32:{path}")
    assert torch.equal(enc.module.conv1.weight, model.visual.conv1.weight)
    assert enc.weights == "open_clip checkpoint clip.pt" and len(enc.fingerprint) == 16
    assert enc.layout.prefix_kinds == ("cls",)
    assert enc.preprocess.fixed_hw == (224, 224)  # fixed position embeddings: fed at the native size


def test_open_clip_spec_errors_are_one_line(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="names no weights"):
        load_model("open_clip:ViT-S-32")
    with pytest.raises(SourceError, match="unknown open_clip model"):
        load_model("open_clip:NoSuchArch", random_init=True)
    wrong = tmp_path / "wrong.pt"
    torch.save({"visual.conv1.weight": torch.zeros(1)}, wrong)
    with pytest.raises(SourceError, match="does not fit open_clip ViT-S-32"):
        load_model(f"open_clip:ViT-S-32:{wrong}")
