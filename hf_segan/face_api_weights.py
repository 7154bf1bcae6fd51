"""Map face-api's TFJS weights onto the PyTorch ports (:class:`TinyFaceDetector`, :class:`FaceLandmark68Net`).

face-api names its tensors after its TypeScript parameter objects (``conv3/depthwise_filter``,
``dense2/conv1/pointwise_filter``, ``fc/weights``) and stores them in TensorFlow layouts (HWIO filters, (in, out)
dense weights). Every tensor of a manifest must land on exactly one parameter of the port with the right shape,
and every parameter of the port must be filled: anything else is an error that names the tensor.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from .models.face_detector import TinyFaceDetector
from .models.face_landmarks import FaceLandmark68Net
from .tfjs_weights import read_tfjs_weights

DETECTOR_MANIFEST = "tiny_face_detector_model-weights_manifest.json"
LANDMARKS_MANIFEST = "face_landmark_68_model-weights_manifest.json"

#: TFJS tensor name patterns -> port parameter names, per network (first match wins).
_DETECTOR_NAMES = (
    (r"conv0/filters", "conv0.weight"),
    (r"conv0/bias", "conv0.bias"),
    (r"conv([1-5])/depthwise_filter", lambda m: f"separable.{int(m[1]) - 1}.depthwise.weight"),
    (r"conv([1-5])/pointwise_filter", lambda m: f"separable.{int(m[1]) - 1}.pointwise.weight"),
    (r"conv([1-5])/bias", lambda m: f"separable.{int(m[1]) - 1}.pointwise.bias"),
    (r"conv8/filters", "head.weight"),
    (r"conv8/bias", "head.bias"),
)
_LANDMARK_NAMES = (
    (r"dense0/conv0/filters", "blocks.0.conv0.weight"),
    (r"dense0/conv0/bias", "blocks.0.conv0.bias"),
    (r"dense(\d)/conv0/depthwise_filter", lambda m: f"blocks.{m[1]}.conv0.depthwise.weight"),
    (r"dense(\d)/conv0/pointwise_filter", lambda m: f"blocks.{m[1]}.conv0.pointwise.weight"),
    (r"dense(\d)/conv0/bias", lambda m: f"blocks.{m[1]}.conv0.pointwise.bias"),
    (r"dense(\d)/conv([1-3])/depthwise_filter", lambda m: f"blocks.{m[1]}.convs.{int(m[2]) - 1}.depthwise.weight"),
    (r"dense(\d)/conv([1-3])/pointwise_filter", lambda m: f"blocks.{m[1]}.convs.{int(m[2]) - 1}.pointwise.weight"),
    (r"dense(\d)/conv([1-3])/bias", lambda m: f"blocks.{m[1]}.convs.{int(m[2]) - 1}.pointwise.bias"),
    (r"fc/weights", "fc.weight"),
    (r"fc/bias", "fc.bias"),
)


def _to_torch_layout(name: str, value: np.ndarray) -> np.ndarray:
    """TensorFlow layouts -> PyTorch: HWIO filters -> OIHW, depthwise HWC1 -> C1HW, dense (in, out) -> (out, in)."""
    if name.endswith("depthwise_filter") and value.ndim == 4:
        return value.transpose(2, 3, 0, 1)
    if value.ndim == 4:
        return value.transpose(3, 2, 0, 1)
    if value.ndim == 2:
        return value.T
    return value


def _state_dict(weights: dict[str, np.ndarray], names: tuple, model: torch.nn.Module, source: str) -> dict:
    expected = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    for name, value in weights.items():
        key = None
        for pattern, target in names:
            match = re.fullmatch(pattern, name)
            if match:
                key = target if isinstance(target, str) else target(match)
                break
        if key is None or key not in expected:
            raise ValueError(
                f"{source}: unexpected tensor {name!r} (shape {list(value.shape)}) for {type(model).__name__}."
            )
        tensor = torch.from_numpy(np.ascontiguousarray(_to_torch_layout(name, value)))
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise ValueError(
                f"{source}: tensor {name!r} has shape {list(value.shape)}, which does not fit {type(model).__name__}"
                f".{key} (PyTorch shape {list(expected[key].shape)})."
            )
        state[key] = tensor.to(expected[key].dtype)
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ValueError(f"{source}: no tensor for {type(model).__name__} parameters {', '.join(missing)}.")
    return state


def detector_from_tfjs(weights: dict[str, np.ndarray], source: str = DETECTOR_MANIFEST) -> TinyFaceDetector:
    """A :class:`TinyFaceDetector` holding face-api's ``tiny_face_detector_model`` tensors."""
    model = TinyFaceDetector()
    model.load_state_dict(_state_dict(weights, _DETECTOR_NAMES, model, source))
    return model.eval()


def landmarks_from_tfjs(weights: dict[str, np.ndarray], source: str = LANDMARKS_MANIFEST) -> FaceLandmark68Net:
    """A :class:`FaceLandmark68Net` holding face-api's ``face_landmark_68_model`` tensors."""
    model = FaceLandmark68Net()
    model.load_state_dict(_state_dict(weights, _LANDMARK_NAMES, model, source))
    return model.eval()


def load_face_api(model_dir: str | Path) -> tuple[TinyFaceDetector, FaceLandmark68Net]:
    """Both ports from face-api's ``model/`` folder (only the detector and the 68-point landmark manifests are read)."""
    folder = Path(model_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"{str(folder)!r} is not a folder; pass face-api's model/ folder.")
    missing = [name for name in (DETECTOR_MANIFEST, LANDMARKS_MANIFEST) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{str(folder)!r} has no {' or '.join(missing)}; pass the model/ folder of the npm package "
            "@vladmandic/face-api."
        )
    detector = detector_from_tfjs(read_tfjs_weights(folder / DETECTOR_MANIFEST), DETECTOR_MANIFEST)
    landmarks = landmarks_from_tfjs(read_tfjs_weights(folder / LANDMARKS_MANIFEST), LANDMARKS_MANIFEST)
    return detector, landmarks
