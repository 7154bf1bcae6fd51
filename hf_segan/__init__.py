"""hf_segan: face parsing + hierarchical GANs for facial expression editing, Hugging Face style."""

from .constants import DEFAULT_REGION_GROUPS, EXPRESSIONS, FACE_PARSING_CLASSES, PARSING_PALETTE
from .expressions import expression_condition
from .models.bisenet import BiSeNetFaceParser
from .models.classifier import ExpressionClassifier, ExpressionClassifierOutput
from .models.discriminator import DiscriminatorOutput, ExpressionDiscriminator
from .models.editor import ExpressionEditOutput, HierarchicalExpressionGenerator
from .models.face_detector import TinyFaceDetector
from .models.face_landmarks import FaceLandmark68Net
from .models.parsing import FaceParserOutput
from .models.unet import UNetFaceParser
from .pipeline import PhotoEditResult, SeganPipeline, SeganPipelineOutput, default_model_path

__version__ = "0.1.0"

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
    "PhotoEditResult",
    "SeganPipeline",
    "SeganPipelineOutput",
    "TinyFaceDetector",
    "UNetFaceParser",
    "__version__",
    "default_model_path",
    "expression_condition",
]
