"""Generators for Linking in Style: a latent vector in, an image out.

The protocol (:class:`Generator`) is small: ``latent_dim``, optional ``class_names``, ``sample(n, seed,
truncation=None, cls=None) -> latents`` and ``synthesize(latents, cls=None) -> images``. Images are float tensors
``(B, 3, H, W)``, nominally in [0, 1].

Truncation is class-centred as in the paper (docs/methods/linking.md): ``w = mean_c + psi * (w - mean_c)``; ``mean_c``
is the class mean of the latent (StyleGAN's ``w_avg[c]``; the prior mean, zero, for plain z-space GANs).

For a class-conditional GAN whose condition enters as an input vector (``zoo:eyes-cdcgan``), the latent is the full
conditioned input ``z ⊕ one_hot(c)``: the linking network then predicts the condition too, as StyleGAN's w carries
the class. ``synthesize`` needs no ``cls`` for such latents.

A generator with a torch network runs where the network is (``load_generator(spec, device=...)``, or
``LatentGenerator.to``); ``synthesize`` returns the images on that device. Latents are always sampled on the CPU
with numpy, so the same seed gives the same latents on every device.

Example:
    >>> gen = load_generator("synthetic:linear")
    >>> w = gen.sample(4, seed=0, truncation=0.7, cls=1)
    >>> tuple(gen.synthesize(w).shape)
    (4, 3, 16, 16)
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from encoderscope import devices
from encoderscope._io import file_sha256
from encoderscope.errors import ParameterError, SourceError, WeightsUnavailableError, first_line
from encoderscope.zoo.locate import package_file
from encoderscope.zoo.trust import pickles_trusted

ClassArg = int | str | Sequence[int] | np.ndarray | None

EYE_COLOURS = ("amber", "blue", "brown", "gray", "grayscale", "green", "hazel", "red")


@runtime_checkable
class Generator(Protocol):
    """What the linking pipeline needs from a generator."""

    name: str
    latent_dim: int
    class_names: tuple[str, ...] | None

    def sample(
        self, n: int, seed: int, truncation: float | None = None, cls: ClassArg = None
    ) -> np.ndarray:  # pragma: no cover - protocol
        """``(n, latent_dim)`` float32 latents."""
        ...

    def synthesize(self, latents: np.ndarray | torch.Tensor, cls: ClassArg = None) -> torch.Tensor:  # pragma: no cover
        """``(n, 3, H, W)`` float images in [0, 1]."""
        ...


def class_indices(cls: ClassArg, n: int, class_names: Sequence[str] | None) -> np.ndarray | None:
    """Normalise a class argument (index, name, or one per sample) to ``(n,)`` int indices, or ``None``."""
    if cls is None:
        return None
    if class_names is None:
        raise ParameterError("this generator has no classes; do not pass a class")
    items = [cls] if isinstance(cls, int | str | np.integer) else list(cls)
    out = []
    for item in items:
        if isinstance(item, str):
            if item not in class_names:
                raise ParameterError(f"unknown class {item!r}; classes: {', '.join(class_names)}")
            out.append(class_names.index(item))
        else:
            index = int(item)
            if not 0 <= index < len(class_names):
                raise ParameterError(f"class index {index} outside 0..{len(class_names) - 1}")
            out.append(index)
    array = np.asarray(out, dtype=np.int64)
    if array.size == 1:
        return np.full(n, array[0], dtype=np.int64)
    if array.size != n:
        raise ParameterError(f"got {array.size} classes for {n} latents")
    return array


def batch_seed(seed: int, cls: int, batch: int) -> int:
    """The seed of one sampling batch: distinct for every (seed, class, batch), so the RNG stream advances.

    Example:
        >>> batch_seed(0, 1, 0) != batch_seed(0, 1, 1)
        True
    """
    return int(np.random.SeedSequence([seed, cls + 1, batch]).generate_state(1)[0])


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """Map generator output in [-1, 1] (tanh) to [0, 1]."""
    return (images.float() + 1.0) / 2.0


def images_to_uint8(images: torch.Tensor) -> np.ndarray:
    """``(B, 3, H, W)`` float [0, 1] -> ``(B, H, W, 3)`` uint8 (clipped)."""
    array = images.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    return np.round(array * 255.0).astype(np.uint8)


@dataclass
class LatentGenerator:
    """A generator from a function on latent batches, with seeded sampling and class-centred truncation.

    Attributes:
        name: a spec-like name recorded in results.
        latent_dim: size of the latent.
        synth_fn: ``(latents (B, L) float tensor, classes (B,) long tensor or None) -> images (B, 3, H, W)``.
        class_names: class names for conditional generators.
        class_means: ``(n_classes, L)`` centres for truncation (default: zero); ``prior_means`` shifts the samples.
        prior_means: add ``class_means[c]`` to the raw normal sample (a synthetic class-structured prior).
        condition_slice: for ``z ⊕ one_hot`` latents, the slice holding the condition (filled with the one-hot).
        output_range: ``"tanh"`` for [-1, 1] outputs (converted to [0, 1]) or ``"unit"``.
        batch_size: synthesis batch size.
        module: the underlying network, when there is one (used for generator feature maps and its device).
        autocast: synthesise in mixed precision (:func:`~encoderscope.devices.autocast_dtype`).
    """

    name: str
    latent_dim: int
    synth_fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
    class_names: tuple[str, ...] | None = None
    class_means: np.ndarray | None = None
    prior_means: bool = False
    condition_slice: slice | None = None
    output_range: str = "unit"
    batch_size: int = 64
    module: nn.Module | None = None
    info: dict[str, Any] = field(default_factory=dict)
    autocast: bool = False

    @property
    def device(self) -> torch.device:
        """Where the network is (the CPU for generators without one)."""
        return devices.module_device(self.module)

    def to(self, device: devices.DeviceSpec) -> LatentGenerator:
        """Move the network (when there is one) to ``device``; returns ``self``."""
        target = devices.resolve_device(device)
        if self.module is not None:
            self.module.to(target)
        return self

    @property
    def noise_dim(self) -> int:
        """Size of the random part of the latent."""
        return self.condition_slice.start if self.condition_slice is not None else self.latent_dim

    def _centre(self, classes: np.ndarray | None, n: int) -> np.ndarray:
        centre = np.zeros((n, self.latent_dim), dtype=np.float64)
        if self.class_means is not None and classes is not None:
            centre = self.class_means[classes].astype(np.float64)
        if self.condition_slice is not None and classes is not None:
            centre[:, self.condition_slice] = np.eye(len(self.class_names or ()))[classes]
        return centre

    def sample(self, n: int, seed: int, truncation: float | None = None, cls: ClassArg = None) -> np.ndarray:
        """Draw ``n`` latents from the prior with ``numpy.random.default_rng(seed)``, truncated about the class mean.

        Example:
            >>> gen = load_generator("synthetic:linear")
            >>> bool(np.allclose(gen.sample(2, 0), gen.sample(2, 0)))
            True
        """
        if n < 0:
            raise ParameterError(f"n must be >= 0, got {n}")
        classes = class_indices(cls, n, self.class_names)
        if self.class_names is not None and classes is None and self.condition_slice is not None:
            raise ParameterError(f"{self.name} is class-conditional: pass cls (one of {', '.join(self.class_names)})")
        rng = np.random.default_rng(seed)
        raw = np.zeros((n, self.latent_dim), dtype=np.float64)
        raw[:, : self.noise_dim] = rng.standard_normal((n, self.noise_dim))
        centre = self._centre(classes, n)
        if self.prior_means or self.condition_slice is not None:
            raw = raw + centre
        if truncation is not None:
            if not 0.0 <= truncation <= 1.0:
                raise ParameterError(f"truncation psi must be in [0, 1], got {truncation}")
            raw = centre + truncation * (raw - centre)
        return raw.astype(np.float32)

    def synthesize(self, latents: np.ndarray | torch.Tensor, cls: ClassArg = None) -> torch.Tensor:
        """Images ``(n, 3, H, W)`` float in [0, 1] for ``latents`` ``(n, latent_dim)``, batched, without gradients,
        on the generator's device.

        For ``z ⊕ one_hot`` latents, ``cls`` (when given) replaces the condition part.
        """
        device = self.device
        latents_t = torch.as_tensor(np.asarray(latents, dtype=np.float32) if not torch.is_tensor(latents) else latents)
        latents_t = devices.to_device(latents_t.detach().float().reshape(-1, self.latent_dim), device)
        n = latents_t.shape[0]
        classes = class_indices(cls, n, self.class_names) if cls is not None else None
        if classes is not None and self.condition_slice is not None:
            latents_t = latents_t.clone()
            latents_t[:, self.condition_slice] = torch.eye(len(self.class_names or ()), device=device)[classes]
        outputs = []
        with torch.inference_mode(), devices.autocast(device, self.autocast):
            for start in range(0, n, self.batch_size):
                batch = latents_t[start : start + self.batch_size]
                cls_t = None
                if classes is not None:
                    cls_t = torch.as_tensor(classes[start : start + self.batch_size], device=device)
                out = self.synth_fn(batch, cls_t)
                outputs.append(to_unit_range(out) if self.output_range == "tanh" else out.float())
        if not outputs:
            return torch.zeros(0, 3, 1, 1, device=device)
        return torch.cat(outputs).clone()


# -- the offline zoo ------------------------------------------------------------------------------------------------


def _load_state(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def _freeze(module: nn.Module) -> nn.Module:
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


def load_dcgan_faces(batch_size: int = 64) -> LatentGenerator:
    """``zoo:dcgan-faces``: the DCGAN of ``gan-face-generate`` (z ~ N(0, I), 100-d -> 64x64 faces)."""
    weights = package_file("gan_face_generate", "weights.tar", no_deps=True)
    from gan_face_generate.models import Generator as FaceGenerator  # the package's __init__ is empty

    module = FaceGenerator(0, 3, 100, 64)
    module.load_state_dict(_load_state(weights)["netG_state_dict"])
    _freeze(module)

    def synth(latents: torch.Tensor, _cls: torch.Tensor | None) -> torch.Tensor:
        return module(latents[:, :, None, None])

    return LatentGenerator(
        name="zoo:dcgan-faces", latent_dim=100, synth_fn=synth, output_range="tanh", batch_size=batch_size,
        module=module, info={"weights": "gan-face-generate weights.tar (DigiFace-1M DCGAN)"},
    )


def eyes_cdcgan_files() -> tuple[Path, Path]:
    """``(generator.py, generator_model_state.pth)`` of ``omniart-eye-generator`` (``WeightsUnavailableError`` when
    the package is missing), found without importing it."""
    return (package_file("omniart_eye_generator", "generator.py", no_deps=True),
            package_file("omniart_eye_generator", "generator_model_state.pth", no_deps=True))


def load_eyes_cdcgan(batch_size: int = 64) -> LatentGenerator:
    """``zoo:eyes-cdcgan``: the conditional DCGAN of ``omniart-eye-generator``; latent ``z (100) ⊕ one_hot (8)``.

    The package is never imported (its ``__init__`` loads CUDA tensors); ``generator.py`` is loaded by file path.
    """
    code_path, weights = eyes_cdcgan_files()
    spec = importlib.util.spec_from_file_location("_encoderscope_eye_generator", code_path)
    if spec is None or spec.loader is None:
        raise WeightsUnavailableError(f"cannot load {code_path}")
    code = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(code)
    module = code.Generator()
    module.load_state_dict(_load_state(weights))
    _freeze(module)
    n_classes = len(EYE_COLOURS)

    def synth(latents: torch.Tensor, _cls: torch.Tensor | None) -> torch.Tensor:
        return module.main(latents[:, :, None, None])  # the package's forward concatenates z and labels the same way

    return LatentGenerator(
        name="zoo:eyes-cdcgan", latent_dim=100 + n_classes, synth_fn=synth, class_names=EYE_COLOURS,
        condition_slice=slice(100, 100 + n_classes), output_range="tanh", batch_size=batch_size, module=module,
        info={"weights": "omniart-eye-generator generator_model_state.pth", "latent": "z (100) + one-hot (8)"},
    )


def linear_generator(
    latent_dim: int = 6, size: int = 16, n_classes: int = 3, seed: int = 0, class_spread: float = 2.0
) -> LatentGenerator:
    """A synthetic generator whose image is a linear function of the latent (for tests and demos).

    ``image = 0.5 + A w`` (not clipped, so the latent-to-image map is exactly linear); classes are latent
    clusters with means ``class_spread * N(0, I)``.
    """
    rng = np.random.default_rng(seed)
    weights = torch.as_tensor(rng.standard_normal((3 * size * size, latent_dim)) * 0.05, dtype=torch.float32)
    means = rng.standard_normal((n_classes, latent_dim)) * class_spread if n_classes else None
    names = tuple(f"class{i}" for i in range(n_classes)) if n_classes else None

    def synth(latents: torch.Tensor, _cls: torch.Tensor | None) -> torch.Tensor:
        return (0.5 + latents @ weights.T).reshape(-1, 3, size, size)

    return LatentGenerator(
        name="synthetic:linear", latent_dim=latent_dim, synth_fn=synth, class_names=names, class_means=means,
        prior_means=True, info={"mixing": weights.numpy(), "size": size, "seed": seed},
    )


def wrap_generator(
    fn: Callable[..., torch.Tensor],
    latent_dim: int,
    class_names: Sequence[str] | None = None,
    output_range: str = "unit",
    name: str = "callable",
    batch_size: int = 64,
) -> LatentGenerator:
    """Wrap a user callable ``fn(latents (B, L)[, classes (B,)]) -> images (B, 3, H, W)`` as a generator.

    Example:
        >>> gen = wrap_generator(lambda w: w[:, :3, None, None].expand(-1, 3, 8, 8).sigmoid(), latent_dim=5)
        >>> tuple(gen.synthesize(gen.sample(2, seed=1)).shape)
        (2, 3, 8, 8)
    """
    if output_range not in ("unit", "tanh"):
        raise ParameterError("output_range must be 'unit' ([0, 1]) or 'tanh' ([-1, 1])")
    if class_names:

        def synth(latents: torch.Tensor, cls: torch.Tensor | None) -> torch.Tensor:
            return torch.as_tensor(fn(latents, cls))

    else:

        def synth(latents: torch.Tensor, cls: torch.Tensor | None) -> torch.Tensor:
            return torch.as_tensor(fn(latents))

    module = fn if isinstance(fn, nn.Module) else None
    return LatentGenerator(
        name=name, latent_dim=latent_dim, synth_fn=synth, class_names=tuple(class_names) if class_names else None,
        output_range=output_range, batch_size=batch_size, module=module,
    )


def load_stylegan_pickle(
    path: str | Path, trust_pickle: bool | None = None, batch_size: int = 8, sha256: str | None = None
) -> LatentGenerator:
    """A StyleGAN2/3/XL network pickle (``G_ema``); needs ``trust_pickle=True`` (or a
    :func:`~encoderscope.zoo.trust.trusting_pickles` block) and the user's StyleGAN code on ``sys.path``
    (``dnnlib``, ``torch_utils``; nothing is vendored here).

    The latent is one w (``w_dim``); it is tiled ``num_ws`` times for synthesis (``noise_mode='none'``) as the
    reference code does. Truncation is centred on ``G.mapping.w_avg`` (per class when it has one row per class).

    The generator is named ``stylegan:<resolved path>`` and its ``info`` holds the path and the file's SHA-256, so
    results record where it is and what it was (:func:`generator_record`). ``sha256``: the hash a previous step
    recorded; a file that no longer has it is refused before it is unpickled.
    """
    path = Path(path).expanduser().resolve()
    if not pickles_trusted(trust_pickle):
        raise SourceError(
            f"{path} is a pickle, which can run arbitrary code; pass trust_pickle=True (--trust-pickle) only for "
            "files you trust"
        )
    if not path.is_file():
        raise WeightsUnavailableError(f"StyleGAN pickle not found: {path}")
    digest = file_sha256(path)  # every time (not remembered by mtime): the check guards the unpickling
    if sha256 is not None and digest != sha256:
        raise SourceError(
            f"{path} changed since it was recorded (sha256 {sha256[:12]}..., now {digest[:12]}...); restore it, or "
            "make the pairs again with the file as it is now"
        )
    import pickle

    try:
        with open(path, "rb") as handle:
            data = pickle.load(handle)  # explicit trust_pickle=True
    except ModuleNotFoundError as err:
        raise SourceError(
            f"unpickling {path} needs the StyleGAN code ({err.name}); put the generator's repository on sys.path"
        ) from err
    except Exception as err:  # truncated or foreign bytes: UnpicklingError, EOFError, ValueError, ...
        raise SourceError(f"cannot read StyleGAN pickle {path}: {first_line(err)}") from None
    network = data.get("G_ema") if isinstance(data, dict) else data
    if not all(hasattr(network, name) for name in ("z_dim", "mapping", "synthesis")):
        raise SourceError(f"{path} holds no StyleGAN generator (a G_ema with z_dim, mapping and synthesis)")
    _freeze(network)
    gen = stylegan_generator(network, name=f"stylegan:{path}", batch_size=batch_size)
    gen.info.update({"path": str(path), "sha256": digest})
    return gen


def stylegan_generator(network: Any, name: str = "stylegan", batch_size: int = 8) -> LatentGenerator:
    """Adapt a StyleGAN-family ``G`` object (``z_dim``, ``c_dim``, ``mapping``, ``synthesis``, ``num_ws``)."""
    c_dim = int(getattr(network, "c_dim", 0))
    w_avg = getattr(network.mapping, "w_avg", None)
    means = None if w_avg is None else np.asarray(torch.as_tensor(w_avg).detach().cpu(), dtype=np.float64)
    class_names = tuple(str(i) for i in range(c_dim)) if c_dim else None
    if means is not None and means.ndim == 1:
        means = np.tile(means, (max(c_dim, 1), 1))

    def synth(w: torch.Tensor, _cls: torch.Tensor | None) -> torch.Tensor:
        ws = w[:, None, :].repeat(1, int(network.num_ws), 1)
        return network.synthesis(ws, noise_mode="none", force_fp32=True)

    gen = LatentGenerator(
        name=name, latent_dim=int(network.w_dim), synth_fn=synth, class_names=class_names, class_means=means,
        output_range="tanh", batch_size=batch_size, module=network,
    )

    def sample(n: int, seed: int, truncation: float | None = None, cls: ClassArg = None) -> np.ndarray:
        classes = class_indices(cls, n, class_names)
        z = torch.as_tensor(np.random.RandomState(seed).randn(n, int(network.z_dim)), dtype=torch.float32)
        c = torch.zeros(n, c_dim)
        if classes is not None:
            c[torch.arange(n), torch.as_tensor(classes)] = 1.0
        device = gen.device
        with torch.inference_mode():
            mapped = network.mapping(devices.to_device(z, device), devices.to_device(c, device), truncation_psi=1.0)
            w = mapped[:, 0, :].double().cpu().numpy()
        if truncation is not None and means is not None:
            centre = means[classes] if classes is not None else means.mean(axis=0, keepdims=True)
            w = centre + truncation * (w - centre)
        return w.astype(np.float32)

    gen.sample = sample  # type: ignore[method-assign]
    return gen


_ZOO: dict[str, Callable[[], LatentGenerator]] = {
    "zoo:dcgan-faces": load_dcgan_faces,
    "zoo:eyes-cdcgan": load_eyes_cdcgan,
    "synthetic:linear": linear_generator,
}


def generator_spec(spec: str) -> str:
    """A spec as results record it: a StyleGAN pickle's path resolved (``stylegan:/abs/net.pkl``), others as given.

    Example:
        >>> generator_spec("zoo:eyes-cdcgan")
        'zoo:eyes-cdcgan'
    """
    if spec.startswith("stylegan:"):
        return f"stylegan:{Path(spec.removeprefix('stylegan:')).expanduser().resolve()}"
    return spec


def generator_record(generator: Generator) -> dict[str, str]:
    """What a result records so that a later step loads the same generator again: ``generator`` (its spec) and,
    for a file, ``generator_sha256``.

    Example:
        >>> generator_record(load_generator("synthetic:linear"))
        {'generator': 'synthetic:linear'}
    """
    record = {"generator": generator.name}
    digest = getattr(generator, "info", {}).get("sha256")
    if digest:
        record["generator_sha256"] = str(digest)
    return record


def generator_specs() -> list[str]:
    """The generator specs :func:`load_generator` accepts by name."""
    return [*_ZOO, "stylegan:PATH.pkl (with trust_pickle=True)"]


def load_generator(
    spec: str | Generator,
    trust_pickle: bool | None = None,
    device: devices.DeviceSpec = None,
    autocast: bool = False,
    sha256: str | None = None,
) -> Generator:
    """Resolve a generator spec (``zoo:dcgan-faces``, ``zoo:eyes-cdcgan``, ``synthetic:linear``,
    ``stylegan:PATH.pkl``) or pass a :class:`Generator` through.

    ``device``: where its network runs (default: a spec goes to :func:`~encoderscope.devices.resolve_device`'s
    default, a given generator stays where it is). ``autocast``: synthesise in mixed precision. ``sha256``: the hash
    a StyleGAN pickle must still have (see :func:`load_stylegan_pickle`).

    Example:
        >>> load_generator("synthetic:linear").latent_dim
        6
    """
    if not isinstance(spec, str):
        if not isinstance(spec, Generator):
            raise SourceError(f"not a generator: {type(spec).__name__}")
        gen = spec
        if isinstance(gen, LatentGenerator) and device is not None:
            gen.to(device)
    elif spec in _ZOO:
        gen = _ZOO[spec]().to(device)
    elif spec.startswith("stylegan:"):
        gen = load_stylegan_pickle(spec.removeprefix("stylegan:"), trust_pickle=trust_pickle, sha256=sha256)
        gen.to(device)
    else:
        raise SourceError(f"unknown generator {spec!r}; known: {', '.join(generator_specs())}")
    if isinstance(gen, LatentGenerator):
        gen.autocast = gen.autocast or autocast
    return gen
