"""hf_segan: face parsing + hierarchical GANs for facial expression editing, Hugging Face style.

The public names below are imported on first use (PEP 562), not with the package: the models pull in torch and
diffusers, which take seconds to import, and ``hf-segan --help`` or an argument error must not wait for them.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: OpenMP threads (torch's intra-op threads, MKL, oneDNN) that finish their share of an operation sleep instead of
#: spinning for the next one. A spinning thread burns the CPU time its sibling needs to finish the same operation
#: wherever the cores are shared (a Space, a CI runner, a laptop doing other work): there two threads made the
#: small face networks much slower than one (``docs/performance.md``). Read when torch loads OpenMP, so it
#: holds where ``hf_segan`` is imported before torch (the CLI, the Space, scripts that import it first); a value
#: already set in the environment is kept (``OMP_WAIT_POLICY=ACTIVE`` restores spinning).
OPENMP_WAIT_POLICY = "PASSIVE"
os.environ.setdefault("OMP_WAIT_POLICY", OPENMP_WAIT_POLICY)

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "DEFAULT_REGION_GROUPS": "constants",
    "EXPRESSIONS": "constants",
    "FACE_PARSING_CLASSES": "constants",
    "PARSING_PALETTE": "constants",
    "expression_condition": "expressions",
    "BiSeNetFaceParser": "models.bisenet",
    "ExpressionClassifier": "models.classifier",
    "ExpressionClassifierOutput": "models.classifier",
    "DiscriminatorOutput": "models.discriminator",
    "ExpressionDiscriminator": "models.discriminator",
    "ExpressionEditOutput": "models.editor",
    "HierarchicalExpressionGenerator": "models.editor",
    "TinyFaceDetector": "models.face_detector",
    "FaceLandmark68Net": "models.face_landmarks",
    "LandmarkGeometryModel": "models.geometry",
    "FaceParserOutput": "models.parsing",
    "UNetFaceParser": "models.unet",
    "PhotoEditResult": "pipeline",
    "SeganPipeline": "pipeline",
    "SeganPipelineOutput": "pipeline",
    "default_model_path": "pipeline",
}

__all__ = [
    "DEFAULT_REGION_GROUPS",
    "EXPRESSIONS",
    "FACE_PARSING_CLASSES",
    "PARSING_PALETTE",
    "BiSeNetFaceParser",
    "DiscriminatorOutput",
    "ExpressionClassifier",
    "ExpressionClassifierOutput",
    "ExpressionDiscriminator",
    "ExpressionEditOutput",
    "FaceLandmark68Net",
    "FaceParserOutput",
    "HierarchicalExpressionGenerator",
    "LandmarkGeometryModel",
    "PhotoEditResult",
    "SeganPipeline",
    "SeganPipelineOutput",
    "TinyFaceDetector",
    "UNetFaceParser",
    "__version__",
    "default_model_path",
    "expression_condition",
]

if TYPE_CHECKING:
    from .constants import DEFAULT_REGION_GROUPS, EXPRESSIONS, FACE_PARSING_CLASSES, PARSING_PALETTE
    from .expressions import expression_condition
    from .models.bisenet import BiSeNetFaceParser
    from .models.classifier import ExpressionClassifier, ExpressionClassifierOutput
    from .models.discriminator import DiscriminatorOutput, ExpressionDiscriminator
    from .models.editor import ExpressionEditOutput, HierarchicalExpressionGenerator
    from .models.face_detector import TinyFaceDetector
    from .models.face_landmarks import FaceLandmark68Net
    from .models.geometry import LandmarkGeometryModel
    from .models.parsing import FaceParserOutput
    from .models.unet import UNetFaceParser
    from .pipeline import PhotoEditResult, SeganPipeline, SeganPipelineOutput, default_model_path


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hf_segan' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
