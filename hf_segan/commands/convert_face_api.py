"""``hf-segan convert-face-api``: face-api's TFJS detector + 68-point landmark weights -> two safetensors folders."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

#: What the converter writes beside the two model folders: the source files' names and sha256, for the card.
SOURCE_RECORD = "face_api_source.json"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert-face-api",
        help="Convert face-api's tiny face detector and 68-point landmark net (TFJS) to safetensors model folders.",
        description=(
            "Reads tiny_face_detector_model and face_landmark_68_model (manifest JSON + .bin) from the model/ folder "
            "of the npm package @vladmandic/face-api and writes OUT/face_detector and OUT/face_landmarks "
            "(TinyFaceDetector / FaceLandmark68Net, from_pretrained-ready). No other face-api network is read."
        ),
    )
    parser.add_argument("model_dir", help="face-api's model/ folder (node_modules/@vladmandic/face-api/model)")
    parser.add_argument("out_dir", help="folder to write face_detector/, face_landmarks/ and face_api_source.json to")
    parser.add_argument("--overwrite", action="store_true", help="replace the model folders in OUT_DIR if they exist")
    parser.set_defaults(func=run)


def _source_record(model_dir: Path) -> dict:
    """Which files were converted (name, sha256) and, when the package.json is beside model/, its name and version."""
    from ..face_api_weights import DETECTOR_MANIFEST, LANDMARKS_MANIFEST

    files = {}
    for manifest_name in (DETECTOR_MANIFEST, LANDMARKS_MANIFEST):
        manifest = model_dir / manifest_name
        shards = [path for group in json.loads(manifest.read_text(encoding="utf-8")) for path in group["paths"]]
        for name in (manifest_name, *shards):
            files[name] = hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
    record: dict = {"files_sha256": files}
    package = model_dir.parent / "package.json"
    if package.is_file():
        meta = json.loads(package.read_text(encoding="utf-8"))
        record["package"] = {key: meta.get(key) for key in ("name", "version", "license")}
    return record


def run(args: argparse.Namespace) -> int:
    # imported here, not with the CLI: they load torch, which --help and argument errors must not wait for
    from ..face_api_weights import load_face_api
    from ..training.checkpointing import save_pretrained_atomic

    model_dir, out_dir = Path(args.model_dir), Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{str(out_dir)!r} exists and is not a folder.")
    targets = {name: out_dir / name for name in ("face_detector", "face_landmarks")}
    existing = [str(path) for path in targets.values() if path.exists()]
    if existing and not args.overwrite:
        raise ValueError(f"{', '.join(existing)} already exist; pass --overwrite to replace them.")
    detector, landmark_net = load_face_api(model_dir)
    record = _source_record(model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_pretrained_atomic(detector, targets["face_detector"])
    save_pretrained_atomic(landmark_net, targets["face_landmarks"])
    tmp = out_dir / f"{SOURCE_RECORD}.tmp"
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / SOURCE_RECORD)
    for name, model in (("face_detector", detector), ("face_landmarks", landmark_net)):
        params = sum(p.numel() for p in model.parameters())
        print(f"Converted -> {targets[name]} ({type(model).__name__}, {params:,} parameters, safetensors).")
    return 0
