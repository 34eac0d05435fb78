"""How a capturing method runs its model passes: :class:`CaptureConfig`, the options NAVE and dissection share.

Mixed precision, decoding workers, the activation store and the engine (local or Ray) are one block of options with
one check, inherited by :class:`~encoderscope.nave.config.NaveConfig` and
:class:`~encoderscope.dissect.config.DissectConfig`. On the command line they stand in their own help panel
(:data:`CAPTURE_PANEL`), after the method's options.

Example:
    >>> CaptureConfig(cache="acts", engine="ray", ray_address=" 10.0.0.5:6379 ").ray_address
    '10.0.0.5:6379'
    >>> CaptureConfig(workers=-1)
    Traceback (most recent call last):
    ...
    encoderscope.errors.ParameterError: workers must be a number >= 0 (0 = decode in a thread of this process), got -1
"""

from __future__ import annotations

from dataclasses import dataclass

from encoderscope.capture.engine import check_engine_options
from encoderscope.capture.inputs import check_workers
from encoderscope.capture.store import cache_setting
from encoderscope.configs import HELP_AUTOCAST, Config, option

CAPTURE_PANEL = "Model passes and scale"
"""The ``--help`` panel of the capture options."""

HELP_WORKERS = (
    "Processes decoding and preprocessing images ahead of the model (default min(4, cores - 1), 0 for a CPU model "
    "on 2 cores; 0: a thread of this process); results do not depend on it."
)
HELP_CACHE = (
    "Activation store folder: activations are written there (one shard per chunk of images) and read back by "
    "the next run, which also resumes a killed run (see docs/scale.md)."
)
HELP_ENGINE = (
    "Where the model passes run: local (this process) | ray (an actor pool of encoders on a Ray cluster, the "
    "'ray' extra; same results; see docs/scale.md)."
)
HELP_RAY_ADDRESS = (
    "Ray cluster to use with --engine ray, e.g. 10.0.0.5:6379 (default: $RAY_ADDRESS, else a local cluster started "
    "and stopped by the command)."
)
HELP_RAY_ACTORS = "Encoder actors with --engine ray (default: one per GPU, else half the cluster's CPUs)."


@dataclass(frozen=True)
class CaptureConfig(Config):
    """Where and how the model passes run; none of these options changes a result beyond mixed precision's rounding.

    A subclass that overrides ``check()`` calls ``super().check()`` first.
    """

    autocast: bool = option(False, help=HELP_AUTOCAST, panel=CAPTURE_PANEL)
    workers: int | None = option(None, help=HELP_WORKERS, panel=CAPTURE_PANEL)
    cache: str | None = option(None, help=HELP_CACHE, panel=CAPTURE_PANEL)
    engine: str = option("local", help=HELP_ENGINE, panel=CAPTURE_PANEL)
    ray_address: str | None = option(None, help=HELP_RAY_ADDRESS, panel=CAPTURE_PANEL)
    ray_actors: int | None = option(None, help=HELP_RAY_ACTORS, panel=CAPTURE_PANEL)

    def check(self) -> None:
        super().check()
        if self.workers is not None:
            check_workers(self.workers)
        self._set("cache", cache_setting(self.cache))
        self._set("ray_address", check_engine_options(self.engine, self.ray_address, self.ray_actors))
