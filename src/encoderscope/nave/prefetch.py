"""Decode images in a background thread while the encoder runs.

:class:`PrefetchedImages` is an :class:`~encoderscope.data.ImageSet` whose ``iter_loaded`` decodes the next few
images in one worker thread (PIL releases the GIL while decoding), in order, with the same skip semantics: an
unreadable image is recorded in ``skipped`` (shared with the wrapped set) and left out.

Example:
    >>> from PIL import Image
    >>> from encoderscope.data import open_images
    >>> images = PrefetchedImages.wrap(open_images([Image.new("RGB", (4, 4))]))
    >>> [index for index, _, _ in images.iter_loaded()]
    [0]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image

from encoderscope.data.images import ImageItem, ImageSet

AHEAD = 4


@dataclass
class PrefetchedImages(ImageSet):
    """An image set that decodes ahead in a worker thread (see the module docstring)."""

    @classmethod
    def wrap(cls, images: ImageSet) -> PrefetchedImages:
        """The same items, sharing the ``skipped`` list with ``images``."""
        return cls(items=images.items, skipped=images.skipped, sources=images.sources)

    def iter_loaded(self, warn_skipped: bool = True) -> Iterator[tuple[int, ImageItem, Image.Image]]:
        """Yield ``(index, item, rgb_image)`` in order, decoding up to four images ahead."""
        pending: deque[tuple[int, ImageItem, Future[Image.Image]]] = deque()
        items = iter(enumerate(self.items))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoderscope-decode") as pool:

            def submit() -> None:
                for index, item in items:
                    pending.append((index, item, pool.submit(item.load)))
                    return

            def in_order() -> Iterator[tuple[int, ImageItem, Callable[[], Image.Image]]]:
                for _ in range(AHEAD):
                    submit()
                while pending:
                    index, item, future = pending.popleft()
                    submit()
                    yield index, item, future.result

            yield from self.load_each(in_order(), warn_skipped)
