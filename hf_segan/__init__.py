"""hf_segan: face parsing + hierarchical GANs for facial expression editing, Hugging Face style.

The public names below are imported on first use (PEP 562), not with the package: the models pull in torch and
diffusers, which take seconds to import, and ``hf-segan --help`` or an argument error must not wait for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

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
