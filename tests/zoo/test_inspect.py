import torch
from torch import nn

from encoderscope.zoo.inspect import infer_layout


class _PatchEmbed(nn.Module):
    def __init__(self, patch: int) -> None:
        super().__init__()
        self.patch_size = (patch, patch)


class _Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.patch_embed = _PatchEmbed(14)
        self.blocks = nn.Sequential(nn.Identity())


class _WrappedClassifier(nn.Module):
    """The shape of timm's DeepseekVitClassifier: the prefix count on the classifier, the patch embedding inside
    ``encoder``."""

    num_prefix_tokens = 0

    def __init__(self) -> None:
        super().__init__()
        self.encoder = _Encoder()
        self.head = nn.Linear(4, 2)


class _Vit(nn.Module):
    num_prefix_tokens = 5
    num_reg_tokens = 4

    def __init__(self) -> None:
        super().__init__()
        self.patch_embed = _PatchEmbed(16)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 4))


def test_a_classifier_around_a_timm_encoder_has_the_encoders_patch_size():
    layout = infer_layout(_WrappedClassifier())
    assert layout.prefix_kinds == () and layout.patch_size == (14, 14)


def test_timm_vits_keep_their_class_token_and_registers():
    layout = infer_layout(_Vit())
    assert layout.prefix_kinds == ("cls", "reg", "reg", "reg", "reg") and layout.patch_size == (16, 16)


def test_a_plain_module_is_a_convolutional_layout():
    assert infer_layout(nn.Conv2d(3, 4, 3)).patch_size is None
