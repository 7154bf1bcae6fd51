"""Test-wide settings: nothing may reach a hub, and runs are deterministic and small."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


def build_tiny_pipeline(resolution: int = 64):
    """A randomly initialised pipeline small enough for tests (its edits are arbitrary but deterministic)."""
    from hf_segan.models.editor import HierarchicalExpressionGenerator
    from hf_segan.models.unet import UNetFaceParser
    from hf_segan.pipeline import SeganPipeline

    torch.manual_seed(0)
    parser = UNetFaceParser(depth=2, base_channels=4, max_channels=16).eval()
    editor = HierarchicalExpressionGenerator(base_channels=4, num_residual_blocks=1, local_channels=8).eval()
    return SeganPipeline(parser=parser, editor=editor, resolution=resolution)


@pytest.fixture(scope="session")
def tiny_pipeline_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_pipeline")
    build_tiny_pipeline().save_pretrained(folder)
    return folder
