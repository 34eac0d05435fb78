"""Forward hooks as a context manager: the model is unchanged afterwards, also when an exception is raised.

Example:
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    >>> with capture_outputs(net, ["0"]) as outputs:
    ...     _ = net(torch.zeros(2, 4))
    >>> tuple(outputs["0"].shape), len(net[0]._forward_hooks)
    ((2, 3), 0)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from encoderscope.errors import EncoderscopeError, LayerError, UnsupportedModelError, first_line


class StopForward(Exception):
    """Raised inside a hook once every requested output is captured, to skip the rest of the network."""


def _tensors(output: Any) -> Iterator[torch.Tensor]:
    """The tensors in a module output, in order (tensors, tuples/lists, dicts, HF-style model outputs)."""
    if isinstance(output, torch.Tensor):
        yield output
    elif isinstance(output, dict) or (hasattr(output, "values") and callable(output.values)):
        for value in output.values():
            yield from _tensors(value)
    elif isinstance(output, list | tuple):
        for value in output:
            yield from _tensors(value)


def first_tensor(output: Any, batch: int | None = None) -> torch.Tensor | None:
    """The first tensor in a module output (tensors, tuples/lists, dicts, HF-style model outputs).

    With ``batch``, the first one with that many rows comes first: a block returning ``(inner, outer)`` tokens whose
    inner ones are per patch (TNT: ``(B * N, P, C)``) is read by its per-image tensor.

    Example:
        >>> import torch
        >>> tuple(first_tensor((torch.zeros(8, 4, 3), torch.zeros(2, 5, 3)), batch=2).shape)
        (2, 5, 3)
    """
    tensors = list(_tensors(output))
    if batch is not None:
        tensors.sort(key=lambda tensor: tensor.ndim == 0 or tensor.shape[0] != batch)  # stable: order kept
    return tensors[0] if tensors else None


@contextlib.contextmanager
def capture_outputs(
    module: nn.Module, names: Sequence[str], stop_early: bool = False, detach: bool = True
) -> Iterator[dict[str, torch.Tensor]]:
    """Record the output tensor of each named submodule during forward passes inside the block.

    Args:
        module: the network.
        names: dotted ``named_modules()`` names (exact; resolve globs first with
            :func:`encoderscope.capture.layers.resolve_layers`).
        stop_early: raise :class:`StopForward` once all names were captured (catch it around the forward call;
            :func:`run_captured` does).
        detach: detach captured tensors from the graph.

    Yields:
        a dict filled in place: name -> the first tensor of that module's output (first call only per forward; of
        a tuple, list or dict output, the first tensor with the batch size of ``module``'s input).
    """
    modules = dict(module.named_modules())
    missing = [name for name in names if name not in modules]
    if missing:
        raise LayerError(f"unknown layer(s) {missing}")
    outputs: dict[str, torch.Tensor] = {}
    pending = set(names)
    batch: list[int] = []  # the batch size of the current forward pass of ``module``

    def record_batch(_module: nn.Module, inputs: tuple[Any, ...]) -> None:
        batch[:] = [int(inputs[0].shape[0])] if inputs and isinstance(inputs[0], torch.Tensor) else []

    def make_hook(name: str):
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            if name in outputs:
                return
            tensor = first_tensor(output, batch[0] if batch else None)
            if tensor is None:
                raise LayerError(f"layer {name!r} returned no tensor")
            outputs[name] = tensor.detach() if detach else tensor
            pending.discard(name)
            if stop_early and not pending:
                raise StopForward

        return hook

    handles = [module.register_forward_pre_hook(record_batch)]
    try:
        for name in dict.fromkeys(names):
            handles.append(modules[name].register_forward_hook(make_hook(name)))
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def guarded_forward(module: nn.Module, inputs: torch.Tensor, label: str | None = None) -> Any:
    """``module(inputs)``, with a crash inside the model turned into one :class:`UnsupportedModelError` line.

    The line names the model (``label``, default its class), the input size and the first line of the cause.
    :class:`StopForward` and encoderscope's own errors pass through unchanged.
    """
    try:
        return module(inputs)
    except (StopForward, EncoderscopeError):
        raise
    except Exception as err:
        name = label or type(module).__name__
        size = "x".join(str(n) for n in inputs.shape)
        raise UnsupportedModelError(
            f"{name} failed in its forward pass on a {size} input: {first_line(err)}"
        ) from err


def run_captured(
    module: nn.Module,
    inputs: torch.Tensor,
    names: Sequence[str],
    stop_early: bool = True,
    label: str | None = None,
) -> dict[str, torch.Tensor]:
    """One forward pass returning the outputs of ``names`` (stopping after the last one when possible).

    A crash inside the model becomes one :class:`~encoderscope.errors.UnsupportedModelError` line (see
    :func:`guarded_forward`); ``label`` names the model in it.
    """
    with capture_outputs(module, names, stop_early=stop_early) as outputs, contextlib.suppress(StopForward):
        guarded_forward(module, inputs, label)
    missing = [name for name in names if name not in outputs]
    if missing:
        raise LayerError(
            f"layer(s) {missing} were not called in the forward pass (a container whose children run one by one? "
            "name a child, e.g. the last block inside it)"
        )
    return dict(outputs)
