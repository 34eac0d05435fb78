"""encoderscope.data: image sources (files, folders, lists, the offline zoo) read as RGB.

Example:
    >>> from encoderscope.data import open_images
    >>> images = open_images("zoo:photos/chelsea")
    >>> images.keys
    ['photos/chelsea']
"""

from encoderscope.data.images import (
    IMAGE_EXTENSIONS,
    ImageItem,
    ImageSet,
    SkippedInput,
    array_to_image,
    image_size,
    load_image,
    open_images,
    to_rgb,
)
from encoderscope.data.zoo_images import (
    FASHION_MNIST_CLASSES,
    fashion_mnist,
    mnist5k,
    photo_names,
    texture_names,
)

__all__ = [
    "FASHION_MNIST_CLASSES",
    "IMAGE_EXTENSIONS",
    "ImageItem",
    "ImageSet",
    "SkippedInput",
    "array_to_image",
    "fashion_mnist",
    "image_size",
    "load_image",
    "mnist5k",
    "open_images",
    "photo_names",
    "texture_names",
    "to_rgb",
]
