"""Model definitions: config in, tensors out. No I/O, no globals."""

from .bisenet import BiSeNetFaceParser
from .classifier import ExpressionClassifier
from .discriminator import ExpressionDiscriminator
from .editor import HierarchicalExpressionGenerator
from .face_detector import TinyFaceDetector
from .face_landmarks import FaceLandmark68Net
from .geometry import LandmarkGeometryModel
from .unet import UNetFaceParser

__all__ = [
    "BiSeNetFaceParser",
    "ExpressionClassifier",
    "ExpressionDiscriminator",
    "FaceLandmark68Net",
    "HierarchicalExpressionGenerator",
    "LandmarkGeometryModel",
    "TinyFaceDetector",
    "UNetFaceParser",
]
