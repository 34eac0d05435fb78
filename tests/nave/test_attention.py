import torch

from encoderscope.capture import capture_outputs
from encoderscope.nave.attention import attention_module, cls_attention


def test_cls_attention_equals_the_blocks_own_softmax(make_image, tiny_vit):
    block = tiny_vit.module.blocks[1]
    name, attn = attention_module(tiny_vit, "blocks.1")
    assert name == "blocks.1.attn.qkv"
    pixels = tiny_vit.preprocess.dense(make_image(64, 96)).tensor[None]
    probabilities = {}
    hook = block.attn.attn_drop.register_forward_hook(lambda m, i, o: probabilities.setdefault("p", i[0]))
    fused = block.attn.fused_attn
    block.attn.fused_attn = False
    try:
        with torch.inference_mode(), capture_outputs(tiny_vit.module, [name]) as raw:
            tiny_vit.module(pixels)
    finally:
        block.attn.fused_attn = fused
        hook.remove()
    ours = cls_attention(raw[name], attn, cls_index=0, n_prefix=5)
    # CLS row of every head, columns of the patch tokens only (CLS and the 4 registers skipped)
    expected = probabilities["p"][:, :, 0, 5:]
    assert ours.shape == (1, 4, 8 * 12)
    assert torch.allclose(ours, expected, atol=1e-6)
