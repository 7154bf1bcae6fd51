"""``hf-segan space --export DIR``: a folder that is a complete Hugging Face Space, installable without this
repository.

``hf_segan`` is not on PyPI, so a Space cannot ``pip install hf_segan`` (and a bare ``hf_segan`` requirement would
install whatever someone registers under that name). The export copies the package itself next to ``app.py``,
where Python imports it from the app's folder, and ``requirements.txt`` lists only the package's dependencies from
PyPI. The package is not listed as a local path (``./hf_segan-*.whl``) either: a Space's build installs
``requirements.txt`` before it copies the rest of the repository, so a path inside the folder does not exist yet
at that point. torch is pinned to its CPU build from PyTorch's CPU index: the PyPI wheel for Linux is the CUDA
build, gigabytes of libraries a CPU Space never uses.

The model is the default one inside the copied package, a copied pipeline folder (``model/``), or a hub id the
Space downloads at start; ``HF_SEGAN_MODEL`` in the Space's settings overrides it. ``spaces/`` in the repository
holds the text files of the default export (:data:`SPACE_TEXT_FILES`), kept identical by a test.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import uuid
from pathlib import Path

from packaging.requirements import Requirement

from .pipeline import check_pipeline_folder

#: Versions the Space is pinned to (and tested with): Gradio is also the Space's ``sdk_version``.
GRADIO_VERSION = "6.31.0"
TORCH_VERSION = "2.13.0"
PYTHON_VERSION = "3.11"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: The files of an export that are text (the rest is the package and the model), as ``spaces/`` holds them.
SPACE_TEXT_FILES = ("README.md", "app.py", "requirements.txt")
#: Where a copied model folder goes inside the export.
MODEL_FOLDER = "model"
PACKAGE_DIR = Path(__file__).resolve().parent
_COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyi")
#: Pickle weights are never loaded (see :func:`~hf_segan.pipeline.check_pipeline_folder`), so never shipped.
_MODEL_IGNORE = shutil.ignore_patterns("__pycache__", "*.bin", "*.pkl", "*.pt", "*.pth", "*.ckpt")


def package_dependencies() -> list[Requirement]:
    """The package's runtime dependencies: from its installed metadata, else from the checkout's pyproject.toml."""
    try:
        declared = importlib.metadata.requires("hf_segan") or []
    except importlib.metadata.PackageNotFoundError:
        pyproject = PACKAGE_DIR.parent / "pyproject.toml"
        if not pyproject.is_file():
            raise ValueError(
                f"Cannot find hf_segan's dependencies: it is not installed and {pyproject} is missing."
            ) from None
        import tomllib

        declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    requirements = [Requirement(line) for line in declared]
    return [r for r in requirements if r.marker is None or "extra" not in str(r.marker)]


def requirements_text() -> str:
    """``requirements.txt`` of the Space: CPU torch, Gradio, and the package's other dependencies."""
    others = sorted((str(r) for r in package_dependencies() if r.name.lower() != "torch"), key=str.lower)
    lines = [
        "# Written by `hf-segan space --export`. hf_segan itself is the folder beside app.py (it is not on PyPI);",
        "# these are its dependencies. torch is the CPU build: a CPU Space has no use for the CUDA libraries.",
        f"--extra-index-url {TORCH_CPU_INDEX}",
        f"torch=={TORCH_VERSION}+cpu",
        f"gradio=={GRADIO_VERSION}",
        *others,
    ]
    return "\n".join(lines) + "\n"


def app_text(model: str | None) -> str:
    """``app.py``: build the demo for ``HF_SEGAN_MODEL``, else the exported model, and serve it."""
    imports = "import os\n"
    if model is None:
        default, described = "None", "the small model bundled with the hf_segan package beside this file"
    elif model == MODEL_FOLDER:
        imports += "from pathlib import Path\n"
        default, described = f'str(Path(__file__).parent / "{MODEL_FOLDER}")', f"the pipeline in {MODEL_FOLDER}/"
    else:
        default, described = repr(model), f"the hub model {model}"
    return f'''"""Hugging Face Space entry point: the hf_segan expression-editing demo.

Written by `hf-segan space --export`. Model: ``HF_SEGAN_MODEL`` (a SeganPipeline folder or hub id) when set,
else {described}.

The page states which model it runs. The Space runtime sets the host and port through Gradio's environment
variables (``GRADIO_SERVER_NAME``, ``GRADIO_SERVER_PORT``).
"""

{imports}
from hf_segan.space import build_demo, launch_demo

EXPORTED_MODEL = {default}

demo = build_demo(os.environ.get("HF_SEGAN_MODEL") or EXPORTED_MODEL)

if __name__ == "__main__":
    launch_demo(demo)
'''


def readme_text(model: str | None) -> str:
    """The Space's README: its YAML header (SDK, versions, app file, model) and what the page does."""
    from .space import limits_markdown

    hub_model = model if model not in (None, MODEL_FOLDER) else None
    models = f"\n  - {hub_model}" if hub_model else " []"
    if model is None:
        which = "the small model bundled with `hf_segan` (see `hf_segan/assets/default_model/README.md`)"
    elif hub_model:
        which = f"[{hub_model}](https://huggingface.co/{hub_model}), downloaded when the Space starts"
    else:
        which = f"the SeganPipeline in `{MODEL_FOLDER}/`"
    return f"""---
title: hf_segan Expression Editing
emoji: 😀
colorFrom: indigo
colorTo: pink
sdk: gradio
sdk_version: {GRADIO_VERSION}
app_file: app.py
python_version: "{PYTHON_VERSION}"
models:{models}
tags:
  - face-parsing
  - facial-expression-editing
  - gan
  - image-to-image
license: apache-2.0
short_description: Edit facial expressions via face parsing + hierarchical GANs
---

# hf_segan: facial expression editing

Upload a photo with a face, pick a target expression, its intensity and which regions (eyes, nose, mouth) may
change. The app finds the largest face and its 68 landmarks, parses it into 19 classes and edits it (Bodur,
Bhattarai and Kim, 2021): a model with a geometry component, like the bundled one, moves the photo's own pixels
(landmarks, geometry model, warp) and adds its learned editor's change only if that editor was trained on real
photos. Only the face changes; the rest of the photo is returned byte-identical, at its own size. The page shows a
before/after slider, the parsing of the face region (landmark masks for a model trained on synthetic faces only),
a heat map of what the edit changed, and a gallery with one edit per expression.

**Model.** This Space serves {which}.
Set the Space variable `HF_SEGAN_MODEL` to a `SeganPipeline` folder or hub id to serve another model (and list
it under `models:` above); the page states which model it runs.

{limits_markdown()} It runs on CPU (torch's CPU build).

## This folder

Written by `hf-segan space --export DIR` from the hf_segan repository: `app.py`, this README, `requirements.txt`
(torch CPU, Gradio and hf_segan's dependencies from PyPI) and the `hf_segan/` package itself, imported from the
app's folder. Push the folder to a Gradio Space as it is. To run it on your machine:

```bash
pip install -r requirements.txt
python app.py
```
"""


def export_space(target: str | os.PathLike, model: str | os.PathLike | None = None) -> Path:
    """Write a complete Space to ``target`` (a new or empty folder) and return it.

    Args:
        target: the folder to create; an existing non-empty folder is refused (nothing is overwritten).
        model: a SeganPipeline folder (copied in) or hub id; ``None`` for the default model inside the package.
    """
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValueError(f"{target} already exists and is not an empty folder; export into a new folder.")
    model_reference = None
    if model is not None:
        if Path(model).exists():
            check_pipeline_folder(model)
            model_reference = MODEL_FOLDER
        else:
            model_reference = str(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}-{uuid.uuid4().hex}"  # renamed to target once complete
    staging.mkdir()
    try:
        texts = {"README.md": readme_text(model_reference), "app.py": app_text(model_reference)}
        texts["requirements.txt"] = requirements_text()
        for name in SPACE_TEXT_FILES:
            (staging / name).write_text(texts[name], encoding="utf-8")
        shutil.copytree(PACKAGE_DIR, staging / "hf_segan", ignore=_COPY_IGNORE)
        if model_reference == MODEL_FOLDER:
            shutil.copytree(model, staging / MODEL_FOLDER, ignore=_MODEL_IGNORE)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
