"""hf_segan: face parsing + hierarchical GANs for facial expression editing, Hugging Face style."""

from .constants import DEFAULT_REGION_GROUPS, EXPRESSIONS, FACE_PARSING_CLASSES, PARSING_PALETTE

__version__ = "0.1.0"

__all__ = ["DEFAULT_REGION_GROUPS", "EXPRESSIONS", "FACE_PARSING_CLASSES", "PARSING_PALETTE", "__version__"]
