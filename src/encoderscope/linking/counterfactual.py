"""Counterfactuals through the linking network (docs/methods/linking.md, step 6: the paper's loss exactly).

For features r of origin class o and a target class t, optimise a shift s (``torch.rand`` init, U[0, 1), seeded):

    L(s) = - head(r - s)[t] + 0.6 * head(r - s)[o] - 10 * cos(W r + b, W (r - s) + b)

with plain gradient descent ``s <- s - 0.5 * dL/ds``. After every step the image is synthesised from
``W ReLU(r - s) + b`` and re-classified by the full classifier; the run stops when the prediction is t, and gives up
after 2000 steps. ``head`` maps the feature layer to the logits (ResNet's ``fc`` in the paper; any classifier here,
see :mod:`encoderscope.linking.classifier` for how it is found). Several counterfactuals run as one batch: each
shift's gradient depends only on its own loss, so the result equals separate runs (finished ones are frozen).

The optimisation runs on the head's device (the classifier's), the synthesis on the generator's; the initial shift
is drawn on the CPU, so a seed gives the same start on every device.

Example:
    >>> from encoderscope.zoo.generators import load_generator
    >>> from encoderscope.linking.classifier import synthetic_classifier
    >>> from encoderscope.linking.pairs import make_pairs
    >>> from encoderscope.linking.network import fit_link
    >>> gen, clf = load_generator("synthetic:linear"), synthetic_classifier()
    >>> pairs = make_pairs(gen, clf, 20, progress=False)
    >>> link = fit_link(pairs.features, pairs.latents).network
    >>> cf = counterfactuals(pairs.features[:1], [0], [1], link, clf, gen, progress=False)
    >>> bool(cf.success[0]), int(cf.final_prediction[0])
    (True, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from encoderscope import devices
from encoderscope._io import read_npz, write_csv, write_json, write_npz
from encoderscope._progress import progress_bar
from encoderscope.errors import ParameterError
from encoderscope.lazy import drawn_by
from encoderscope.linking.classifier import LinkClassifier
from encoderscope.linking.config import LAMBDA_COS, LAMBDA_ORIGIN, LR, MAX_STEPS
from encoderscope.linking.network import LinkingNetwork
from encoderscope.runs import Recorded, RunRecord, Stopwatch, python_call
from encoderscope.zoo.generators import Generator, images_to_uint8

ARRAYS = ("origins", "targets", "success", "steps", "final_prediction", "latent_before", "latent_after", "features",
          "shift", "features_cycled", "image_before", "image_after")
CSV_COLUMNS = ("index", "origin", "target", "success", "steps", "final_prediction", "latent_distance")



def counterfactual_loss(
    features: torch.Tensor,
    shift: torch.Tensor,
    origin: torch.Tensor,
    target: torch.Tensor,
    head: Callable[[torch.Tensor], torch.Tensor],
    link: LinkingNetwork,
    lambda_origin: float = LAMBDA_ORIGIN,
    lambda_cos: float = LAMBDA_COS,
) -> torch.Tensor:
    """Per-sample loss ``-logit_t(r - s) + 0.6 logit_o(r - s) - 10 cos(W r + b, W (r - s) + b)``, shape ``(N,)``."""
    shifted = features - shift
    logits = head(shifted)
    rows = torch.arange(features.shape[0], device=features.device)
    cosine = F.cosine_similarity(link.torch_map(features), link.torch_map(shifted), dim=1)
    return -logits[rows, target] + lambda_origin * logits[rows, origin] - lambda_cos * cosine


@dataclass
class CounterfactualResult(Recorded):
    """Counterfactuals of N samples: success, steps, latent distances, images and feature shifts."""

    origins: np.ndarray
    targets: np.ndarray
    success: np.ndarray
    steps: np.ndarray
    final_prediction: np.ndarray
    latent_before: np.ndarray
    latent_after: np.ndarray
    features: np.ndarray
    shift: np.ndarray
    features_cycled: np.ndarray
    image_before: np.ndarray
    image_after: np.ndarray
    class_names: list[str] | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.summary()
        return f"CounterfactualResult({s['n']} counterfactuals, success {s['success_rate']:.2f})"

    @property
    def latent_distance(self) -> np.ndarray:
        """``(N,)`` L2 distance between the linked latents before and after."""
        return np.linalg.norm(self.latent_after - self.latent_before, axis=1)

    def summary(self) -> dict[str, Any]:
        """Success rate, mean steps and latent distance of the successful runs."""
        ok = self.success.astype(bool)
        return {
            "n": len(ok), "success_rate": float(ok.mean()) if len(ok) else float("nan"),
            "mean_steps_success": float(self.steps[ok].mean()) if ok.any() else float("nan"),
            "median_steps_success": float(np.median(self.steps[ok])) if ok.any() else float("nan"),
            "mean_latent_distance_success": float(self.latent_distance[ok].mean()) if ok.any() else float("nan"),
        }

    def _name(self, index: int) -> str:
        return self.class_names[index] if self.class_names else str(index)

    def save(self, out_dir: str | Path) -> Path:
        """Write ``counterfactuals.csv``, ``summary.json``, ``counterfactuals.npz``, ``before_after.png``, run.json."""
        from encoderscope.report.encoding import save_png
        from encoderscope.report.linking import before_after_picture

        out = Path(out_dir)
        distance = self.latent_distance
        rows = [{"index": i, "origin": self._name(int(o)), "target": self._name(int(t)), "success": bool(s),
                 "steps": int(n), "final_prediction": self._name(int(p)), "latent_distance": float(d)}
                for i, (o, t, s, n, p, d) in enumerate(zip(self.origins, self.targets, self.success, self.steps,
                                                          self.final_prediction, distance, strict=True))]
        write_csv(out / "counterfactuals.csv", CSV_COLUMNS, rows)
        write_json(out / "summary.json", self.summary())
        write_npz(out / "counterfactuals.npz", {name: getattr(self, name) for name in ARRAYS})
        if len(self.origins):
            save_png(out / "before_after.png", before_after_picture(self))
        self.run_record().write(out)
        return out

    def run_record(self) -> RunRecord:
        """The run record (``details``: the resolved configuration and the classifier's class names)."""
        run = self.run or RunRecord.create("link-counterfactual", {}, seed=self.config.get("seed"))
        return run.replace(details={"resolved": self.config, "class_names": self.class_names})

    @classmethod
    def load(cls, out_dir: str | Path) -> CounterfactualResult:
        """Counterfactuals written by :meth:`save`."""
        folder = Path(out_dir)
        run = RunRecord.read(folder, "link-counterfactual", "counterfactuals")
        arrays = read_npz(folder / "counterfactuals.npz")
        return cls(**{name: arrays[name] for name in ARRAYS}, class_names=run.details["class_names"],
                   config=dict(run.details["resolved"]), run=run)

    def figure(self, max_rows: int = 16) -> Any:
        """A matplotlib figure: before (left) and after (right) images, one row per counterfactual."""
        from encoderscope.report.linking import counterfactual_figure

        return counterfactual_figure(self, max_rows)

    _repr_html_ = drawn_by("encoderscope.report.linking:counterfactual_html", "The notebook view (HTML).")


def counterfactuals(
    features: np.ndarray,
    origins: Sequence[int],
    targets: Sequence[int],
    link: LinkingNetwork,
    classifier: LinkClassifier,
    generator: Generator,
    head: Callable[[torch.Tensor], torch.Tensor] | None = None,
    lr: float = LR,
    lambda_origin: float = LAMBDA_ORIGIN,
    lambda_cos: float = LAMBDA_COS,
    max_steps: int = MAX_STEPS,
    seed: int = 0,
    progress: bool = True,
    config: Any = None,
) -> CounterfactualResult:
    """Run the counterfactual optimisation for each row of ``features`` (see the module docstring).

    Args:
        features: ``(N, D)`` classifier features r.
        origins: classifier logit index of the origin class, per row.
        targets: classifier logit index of the target class, per row.
        head: features -> logits (default: found and verified by ``classifier.resolve_head``).
        config: the :class:`~encoderscope.linking.config.LinkCounterfactualConfig` of the run, recorded (the loss
            options are the arguments given here).
    """
    watch = Stopwatch()
    if not link.linear:
        raise ParameterError("counterfactuals need a linear linking network (ols, ridge or elasticnet)")
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or features.shape[1] != link.in_dim:
        raise ParameterError(f"features must be (N, {link.in_dim}), got {tuple(features.shape)}")
    origin = torch.as_tensor(np.asarray(origins, dtype=np.int64))
    target = torch.as_tensor(np.asarray(targets, dtype=np.int64))
    if len(origin) != len(features) or len(target) != len(features):
        raise ParameterError("origins and targets need one entry per feature row")
    latent_before = link.predict(features)
    before_images = generator.synthesize(latent_before)
    _, before_logits = classifier.run(before_images)
    if head is None:
        feats_check, logits_check = classifier.run(before_images[:8])
        head = classifier.resolve_head(feats_check, logits_check)
    if before_logits is not None and (target >= before_logits.shape[1]).any():
        raise ParameterError(f"target class outside 0..{before_logits.shape[1] - 1}")
    # the optimisation's tensors live with the head; the bookkeeping (active, steps, predictions) on the CPU
    device = devices.module_device(head) if isinstance(head, torch.nn.Module) else classifier.device
    r = devices.to_device(torch.as_tensor(features), device)
    origin_d, target_d = devices.to_device(origin, device), devices.to_device(target, device)
    shift = devices.to_device(torch.rand(r.shape, generator=torch.Generator().manual_seed(seed)), device)
    active = torch.ones(len(r), dtype=torch.bool)
    steps = torch.zeros(len(r), dtype=torch.int64)
    prediction = torch.full((len(r),), -1, dtype=torch.int64)
    after_images = before_images.clone()
    with progress_bar("counterfactual steps", total=max_steps, enabled=progress) as advance:
        for step in range(1, max_steps + 1):
            idx = torch.nonzero(active).flatten()
            if idx.numel() == 0:
                break
            idx_d = devices.to_device(idx, device)
            s = shift[idx_d].clone().requires_grad_(True)
            loss = counterfactual_loss(
                r[idx_d], s, origin_d[idx_d], target_d[idx_d], head, link, lambda_origin, lambda_cos
            )
            (grad,) = torch.autograd.grad(loss.sum(), s)
            shift[idx_d] = (s - lr * grad).detach()
            with torch.no_grad():
                latent = link.torch_map(torch.relu(r[idx_d] - shift[idx_d]))
            images = generator.synthesize(latent)
            _, logits = classifier.run(images)
            pred = torch.as_tensor(logits.argmax(1))
            prediction[idx], steps[idx] = pred, step
            after_images[devices.to_device(idx, after_images.device)] = images.to(after_images.device)
            done = pred == target[idx]
            active[idx[done]] = False
            advance(1)
    latent_after = link.predict(torch.relu(r - shift).cpu().numpy())
    cycled, _ = classifier.run(after_images)
    success = (prediction == target).numpy()
    resolved = {"lr": lr, "lambda_origin": lambda_origin, "lambda_cos": lambda_cos, "max_steps": max_steps,
              "seed": seed, "shift_init": "U[0,1) torch.rand", "head": classifier.head_name,
              "classifier": classifier.describe(), "generator": generator.name, "n": len(r)}
    run = RunRecord.create("link-counterfactual", config or {}, seed=seed, seconds=watch.seconds(),
                           command=python_call("encoderscope.counterfactuals", config))
    return CounterfactualResult(
        origins=origin.numpy(), targets=target.numpy(), success=success, steps=steps.numpy(),
        final_prediction=prediction.numpy(), latent_before=latent_before, latent_after=latent_after,
        features=features, shift=shift.cpu().numpy(), features_cycled=cycled,
        image_before=images_to_uint8(before_images), image_after=images_to_uint8(after_images),
        class_names=list(classifier.class_names) if classifier.class_names else None, config=resolved, run=run,
    )
