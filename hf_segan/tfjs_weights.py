"""Read TensorFlow.js weights (``*-weights_manifest.json`` + ``.bin`` shards) into numpy arrays, without TensorFlow.

A TFJS manifest is a JSON list of weight groups; each group names its binary shards (concatenated in order) and
lists its tensors (name, shape, dtype, optional quantization) in the order their bytes follow each other. Quantized
tensors are stored as uint8/uint16 (``value = q * scale + min``) or float16 and are dequantized to float32 exactly
as tfjs-core's ``decodeWeights`` does. Only JSON and raw little-endian numbers are read: nothing is unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

#: Bytes per stored element and the numpy dtype it is read as, for the storage dtypes TFJS writes.
_STORED_DTYPES = {
    "float32": np.dtype("<f4"),
    "int32": np.dtype("<i4"),
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
    "float16": np.dtype("<f2"),
}


def _stored_dtype(spec: dict, manifest: Path) -> np.dtype:
    quantization = spec.get("quantization")
    name = quantization["dtype"] if quantization else spec["dtype"]
    if name not in _STORED_DTYPES:
        raise ValueError(
            f"{manifest.name}: weight {spec['name']!r} is stored as {name!r}; supported: {sorted(_STORED_DTYPES)}."
        )
    return _STORED_DTYPES[name]


def _decode(raw: np.ndarray, spec: dict) -> np.ndarray:
    """Stored numbers -> the tensor's values (float32 for float weights), as tfjs-core dequantizes them."""
    quantization = spec.get("quantization")
    if quantization and quantization["dtype"] in ("uint8", "uint16"):
        values = raw.astype(np.float64) * float(quantization["scale"]) + float(quantization["min"])
        return values.astype(np.float32)
    return raw.astype(np.float32) if spec["dtype"] == "float32" else raw.copy()


def read_tfjs_weights(manifest_path: str | Path) -> dict[str, np.ndarray]:
    """All tensors of one TFJS weights manifest, by name, with their manifest shapes.

    Raises a ValueError or FileNotFoundError naming the file when the manifest is missing or malformed, a shard
    is missing, or the shards hold fewer or more bytes than the manifest describes.
    """
    manifest = Path(manifest_path)
    if not manifest.is_file():
        raise FileNotFoundError(f"No TFJS weights manifest at {str(manifest)!r}.")
    try:
        groups = json.loads(manifest.read_text(encoding="utf-8"))
        specs_by_group = [(list(group["paths"]), list(group["weights"])) for group in groups]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise ValueError(
            f"{str(manifest)!r} is not a TFJS weights manifest (a JSON list of groups with 'paths' and 'weights'): "
            f"{error}"
        ) from error
    tensors: dict[str, np.ndarray] = {}
    for paths, specs in specs_by_group:
        shards = [manifest.parent / path for path in paths]
        missing = [str(shard) for shard in shards if not shard.is_file()]
        if missing:
            raise FileNotFoundError(f"{manifest.name} names weight files that are missing: {', '.join(missing)}.")
        data = b"".join(shard.read_bytes() for shard in shards)
        offset = 0
        for spec in specs:
            try:
                name, shape = spec["name"], [int(side) for side in spec["shape"]]
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError(f"{manifest.name}: malformed weight entry {spec!r}.") from error
            dtype = _stored_dtype(spec, manifest)
            count = int(np.prod(shape, dtype=np.int64))
            size = count * dtype.itemsize
            if offset + size > len(data):
                raise ValueError(
                    f"{manifest.name}: the weight files ({', '.join(paths)}) hold {len(data)} bytes, too few for "
                    f"{name!r} and the weights before it ({offset + size} bytes)."
                )
            raw = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)
            tensors[name] = _decode(raw, spec)
            offset += size
        if offset != len(data):
            raise ValueError(
                f"{manifest.name}: the weight files ({', '.join(paths)}) hold {len(data)} bytes but the manifest "
                f"describes {offset}."
            )
    return tensors
