"""Test-wide settings: nothing may reach a hub, and runs are deterministic and small."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# One intra-op thread per test process, and for the scripts it starts: the models here are tiny, so a second
# thread adds more synchronisation than work (worse on a busy machine), and the suite runs in parallel across
# processes instead (`pytest -n 2`, pytest-xdist).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


def randomize_zero_initialised_layers(editor) -> None:
    """Give an editor's flow heads and FiLM projections random weights, as after training (fresh ones are zero:
    no warp, no modulation)."""
    with torch.no_grad():
        for name, parameter in editor.named_parameters():
            if "flow_head" in name:
                parameter.normal_(0.0, 0.5)
            elif ".film." in name:
                parameter.normal_(0.0, 0.1)


def build_tiny_pipeline(resolution: int = 64, warp: bool = False, local_windows: dict | None = None):
    """A randomly initialised pipeline small enough for tests (its edits are arbitrary but deterministic).

    ``warp`` gives the editor warping and FiLM conditioning, as in the SynthFaces default recipe, with random flow
    heads and FiLM projections (:func:`randomize_zero_initialised_layers`); ``local_windows`` is the editor's.
    """
    from hf_segan.models.editor import HierarchicalExpressionGenerator
    from hf_segan.models.unet import UNetFaceParser
    from hf_segan.pipeline import SeganPipeline

    torch.manual_seed(0)
    parser = UNetFaceParser(depth=2, base_channels=4, max_channels=16).eval()
    editor = HierarchicalExpressionGenerator(
        base_channels=4,
        num_residual_blocks=1,
        local_channels=8,
        max_displacement=0.05 if warp else 0.0,
        film_conditioning=warp,
        local_windows=local_windows,
    ).eval()
    randomize_zero_initialised_layers(editor)
    return SeganPipeline(parser=parser, editor=editor, resolution=resolution)


@pytest.fixture(scope="session")
def tiny_pipeline_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_pipeline")
    build_tiny_pipeline().save_pretrained(folder)
    return folder
