"""``hf-segan --help`` and argument errors answer without importing the heavy stack (torch, diffusers, datasets,
OpenCV, gradio): that import costs seconds, and a CLI that makes a person wait for its help text feels broken.
Time itself is measured by ``benchmarks/cli_startup.py``; this checks the cause, which does not depend on the
machine's speed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hf_segan.cli import COMMAND_MODULES, build_parser

HEAVY = ("torch", "diffusers", "datasets", "cv2", "gradio", "accelerate", "onnxruntime")

PROBE = """
import contextlib, io, json, sys
from hf_segan.cli import build_parser
parser = build_parser()
loaded = {}
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            parser.parse_args(argv)
        except SystemExit:
            pass
    loaded[" ".join(argv)] = sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)
print(json.dumps(loaded))
"""


def test_help_and_argument_errors_import_no_heavy_module():
    parser_names = ["--help", "--no-such-flag"]
    commands = sorted(build_parser()._subparsers._group_actions[0].choices)  # every registered sub-command
    assert len(commands) >= len(COMMAND_MODULES)
    argvs = [[name] for name in parser_names] + [[c, "--help"] for c in commands] + [[c, "--bogus"] for c in commands]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argvs), json.dumps(HEAVY)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded == {" ".join(argv): [] for argv in argvs}


def test_importing_the_package_is_lazy_but_every_public_name_resolves():
    probe = (
        f"import json, sys, hf_segan; before = [m for m in {HEAVY!r} if m in sys.modules];"
        "modules = {n: getattr(getattr(hf_segan, n), '__module__', None) for n in hf_segan.__all__};"
        "print(json.dumps([before, modules]))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    before, modules = json.loads(result.stdout)
    assert before == []
    assert modules["SeganPipeline"] == "hf_segan.pipeline"
    assert modules["HierarchicalExpressionGenerator"] == "hf_segan.models.editor"
    import hf_segan

    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        hf_segan.NoSuchName  # noqa: B018


def test_prepare_dataset_choices_are_the_converters():
    from hf_segan.commands.prepare_dataset import DATASETS
    from hf_segan.data.convert import CONVERTERS

    assert tuple(sorted(CONVERTERS)) == DATASETS
