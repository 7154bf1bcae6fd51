"""Model definitions: config in, tensors out. No I/O, no globals."""

from .bisenet import BiSeNetFaceParser
from .classifier import ExpressionClassifier
from .discriminator import ExpressionDiscriminator
from .editor import HierarchicalExpressionGenerator
from .unet import UNetFaceParser

__all__ = [
    "BiSeNetFaceParser",
    "ExpressionClassifier",
    "ExpressionDiscriminator",
    "HierarchicalExpressionGenerator",
    "UNetFaceParser",
]
