import pytest
import torch

from encoderscope.capture.hooks import capture_outputs, run_captured
from encoderscope.errors import LayerError


def _net() -> torch.nn.Sequential:
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))


def _hook_count(net: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in net.modules())


def test_hooks_removed_after_success():
    net = _net()
    with capture_outputs(net, ["0", "2"]) as outputs:
        net(torch.ones(3, 4))
    assert set(outputs) == {"0", "2"}
    assert _hook_count(net) == 0


def test_hooks_removed_after_exception():
    net = _net()
    with pytest.raises(RuntimeError), capture_outputs(net, ["0"]):
        net(torch.ones(3, 7))  # wrong width: the forward pass raises
    assert _hook_count(net) == 0


def test_stop_early_skips_later_modules():
    net = _net()
    calls = []
    net[2].register_forward_hook(lambda *args: calls.append("late"))
    outputs = run_captured(net, torch.ones(1, 4), ["0"], stop_early=True)
    assert outputs["0"].shape == (1, 5)
    assert calls == []


def test_unknown_layer_is_an_error():
    with pytest.raises(LayerError), capture_outputs(_net(), ["9"]):
        pass


def test_a_crash_inside_the_model_is_one_line_naming_model_and_input():
    from encoderscope.errors import UnsupportedModelError

    with pytest.raises(UnsupportedModelError) as info:
        run_captured(_net(), torch.ones(3, 7), ["0"], label="timm:tiny")
    message = str(info.value)
    assert message.startswith("timm:tiny failed in its forward pass on a 3x7 input: RuntimeError: ")
    assert "\n" not in message


class _InnerOuter(torch.nn.Module):
    """Returns per-patch inner tokens first, then the per-image tokens (as TNT's blocks do)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x.reshape(-1, 2, x.shape[-1]), x


def test_a_tuple_output_is_read_by_its_tensor_with_the_input_batch():
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), _InnerOuter())
    with capture_outputs(net, ["1"]) as outputs:
        net(torch.ones(3, 6, 4))
    assert tuple(outputs["1"].shape) == (3, 6, 4)
    assert _hook_count(net) == 0
