"""encoderscope.data: image sources read as RGB, annotated VOC/COCO datasets, generated scenes, watermarks.

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
    to_rgb_image,
)
from encoderscope.data.scenes import Scene, SceneConfig, SceneGenerator, generate_scenes, write_scenes
from encoderscope.data.voc import AnnotatedDataset, VocAnnotation, VocObject, open_coco, open_voc
from encoderscope.data.watermark import Watermark, stamp, stamp_array
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
    "AnnotatedDataset",
    "ImageItem",
    "ImageSet",
    "Scene",
    "SceneConfig",
    "SceneGenerator",
    "SkippedInput",
    "VocAnnotation",
    "VocObject",
    "Watermark",
    "array_to_image",
    "fashion_mnist",
    "generate_scenes",
    "image_size",
    "load_image",
    "mnist5k",
    "open_coco",
    "open_images",
    "open_voc",
    "photo_names",
    "stamp",
    "stamp_array",
    "texture_names",
    "to_rgb_image",
    "write_scenes",
]
