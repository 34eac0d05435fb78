"""encoderscope: see what a vision encoder has learned.

Flat public API (details in each subpackage):

    >>> import encoderscope as es
    >>> enc = es.load_model("timm:vit_tiny_patch16_224", random_init=True)   # doctest: +SKIP
    >>> es.list_layers(enc)                                                 # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"
