"""DISCOVER's stochastic LWTA layers: the layer, model conversion (and its plan), sparsity, training, evaluation.

Example:
    >>> import timm
    >>> from encoderscope import lwta
    >>> vit = timm.models.VisionTransformer(img_size=32, patch_size=4, embed_dim=32, depth=2, num_heads=2)
    >>> sparse = lwta.convert(vit, U=4)
    >>> sorted(lwta.lwta_layers(sparse))
    ['blocks.0.mlp.act', 'blocks.1.mlp.act']
    >>> lwta.plan(vit)[0]
    Site(name='blocks.0.mlp.act', mode='dense', axis=-1, widths=(128,))
"""

from encoderscope.lwta.convert import convert, lwta_layers, set_deterministic, set_generator
from encoderscope.lwta.layer import LWTA, kl_loss
from encoderscope.lwta.placement import Site, plan
from encoderscope.lwta.sparsity import SparsityMeter

__all__ = [
    "LWTA",
    "Site",
    "SparsityMeter",
    "convert",
    "kl_loss",
    "lwta_layers",
    "plan",
    "set_deterministic",
    "set_generator",
]
