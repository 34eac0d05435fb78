"""A NAVE run killed with SIGKILL half-way, then run again, gives the outputs of an uninterrupted run, bit for bit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from encoderscope.zoo import load_model
from tests.images import make_image

N_IMAGES = 40
BATCH = 2  # chunks of 8 images: 5 shards


def build_encoder():
    """The same small random-init ViT in this process and in the killed one (4 blocks, width 48, 56 px)."""
    return load_model(
        "timm:vit_small_patch14_reg4_dinov2", random_init=True, seed=3, img_size=56, depth=4, embed_dim=48,
        num_heads=4,
    )


def write_images(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(N_IMAGES):
        make_image(48 + 8 * (i % 3), 64, seed=i).save(folder / f"{i:02d}.png")
    (folder / "broken.png").write_bytes(b"not a png")  # skipped, and listed, in every run
    return folder


def run_nave(images: Path, store: Path, out: Path, scope: str, slow: bool = False) -> None:
    from encoderscope.nave import nave

    encoder = build_encoder()
    if slow:  # give the test time to kill the run between two shards; hooks do not change activations
        encoder.module.blocks[0].register_forward_hook(lambda *_: time.sleep(0.15))
    result = nave(encoder, images, k=3, scope=scope, seed=5, batch_size=BATCH, progress=False, cache=store,
                  workers=1, fit_positions=300)
    result.save(out, report=False)


def _outputs(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in ("labels.npz", "coverage.csv")}


@pytest.mark.slow
@pytest.mark.parametrize("scope", ["image", "dataset"])
def test_killed_run_resumes_bit_identically(tmp_path, scope):
    images = write_images(tmp_path / "images")
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    code = (
        "import sys; from pathlib import Path; from tests.nave.test_pipeline_resume import run_nave; "
        "run_nave(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], slow=True)"
    )
    killed = subprocess.Popen(
        [sys.executable, "-c", code, str(images), str(store), str(tmp_path / "killed"), scope], env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    deadline = time.monotonic() + 240
    shards: list[Path] = []
    while time.monotonic() < deadline and killed.poll() is None:
        shards = list(store.glob("*/shards/chunk-*.safetensors"))
        if shards:
            break
        time.sleep(0.02)
    assert killed.poll() is None, "the run finished (or failed) before it could be killed"
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    after_kill = list(store.glob("*/shards/chunk-*.safetensors"))
    assert 1 <= len(after_kill) < 5 and not (tmp_path / "killed").exists()

    run_nave(images, store, tmp_path / "resumed", scope)
    run_nave(images, tmp_path / "fresh-store", tmp_path / "uninterrupted", scope)
    assert _outputs(tmp_path / "resumed") == _outputs(tmp_path / "uninterrupted")
    # the resumed run completed the store: every readable image is there once per chunk
    from encoderscope.capture.store import ActivationStore

    (model,) = [p.name for p in store.iterdir() if p.is_dir()]
    assert len(ActivationStore(store, model)) == N_IMAGES
