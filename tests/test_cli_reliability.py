"""The inference commands never lose a user's data: inputs are never overwritten, options are checked before any
work, result names never collide, one failed write does not stop a batch, and a broken model writes nothing.

Everything runs in process through ``hf_segan.cli.main`` (a subprocess per case would only re-import torch)."""

import os

import numpy as np
import pytest
import torch
from conftest import build_tiny_pipeline
from PIL import Image
from skimage import data

from hf_segan.cli import main


@pytest.fixture(scope="module")
def photo():
    return data.astronaut()[:256, 96:352]  # the face, with background around it


def run(capsys, *args):
    """Exit status and stderr of one command; a traceback (any exception escaping ``main``) fails the test."""
    status = main([str(arg) for arg in args])
    return status, capsys.readouterr().err


def test_an_output_folder_holding_the_inputs_is_refused_before_work(tiny_pipeline_dir, tmp_path, photo, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(photo).save(folder / "a.png")
    original = (folder / "a.png").read_bytes()
    status, err = run(capsys, "edit", folder, "--out", folder, "--model", tiny_pipeline_dir)
    assert status == 2 and "would overwrite the input" in err and "Traceback" not in err
    assert (folder / "a.png").read_bytes() == original and sorted(os.listdir(folder)) == ["a.png"]
    # the same folder spelled differently, and a hard link to the input in the output folder
    status, err = run(
        capsys, "edit", folder / "a.png", "--out", tmp_path / "." / "photos", "--model", tiny_pipeline_dir
    )
    assert status == 2 and "would overwrite the input" in err
    linked = tmp_path / "linked"
    linked.mkdir()
    os.link(folder / "a.png", linked / "a.png")
    status, err = run(capsys, "edit", folder / "a.png", "--out", linked, "--model", tiny_pipeline_dir)
    assert status == 2 and "would overwrite the input" in err
    assert (folder / "a.png").read_bytes() == original
    # parse names its results NAME_labels.png: an input of that name in the output folder is never replaced
    Image.fromarray(photo).save(folder / "a_labels.png")
    status, err = run(capsys, "parse", folder, "--out", folder, "--model", tiny_pipeline_dir)
    assert status == 2 and f"would overwrite the input {folder / 'a_labels.png'}" in err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0."),
        (["--batch-size", "-1"], "--batch-size must be at least 1, got -1."),
        (["--margin", "0"], "--margin must be a finite number above 0, got 0.0."),
        (["--margin", "nan"], "--margin must be a finite number above 0, got nan."),
        (["--regions", "ears"], "unknown region(s) ears for --regions; this model has eyes, mouth, nose."),
        (["--device", "foo"], "unknown device 'foo'"),
    ],
)
def test_bad_options_are_one_line_errors_before_any_work(tiny_pipeline_dir, tmp_path, photo, capsys, option, message):
    Image.fromarray(photo).save(tmp_path / "a.png")
    status, err = run(
        capsys, "edit", tmp_path / "a.png", "--out", tmp_path / "o", "--model", tiny_pipeline_dir, *option
    )
    assert status == 2 and err.startswith(f"hf-segan edit: error: {message}")
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()  # nothing loaded, nothing written


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_on_a_machine_without_it_is_a_clear_error(tiny_pipeline_dir, tmp_path, photo, capsys):
    Image.fromarray(photo).save(tmp_path / "a.png")
    for command in ("edit", "parse"):
        status, err = run(capsys, command, tmp_path / "a.png", "--out", tmp_path / "o", "--device", "cuda")
        assert (
            status == 2
            and err == f"hf-segan {command}: error: CUDA is not available on this machine; use --device cpu.\n"
        )


def test_parse_reports_inputs_whose_results_would_collide(tiny_pipeline_dir, tmp_path, capsys):
    rng = np.random.default_rng(0)
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / folder / "face.png")
    status, err = run(
        capsys, "parse", tmp_path / "x", tmp_path / "y", "--out", tmp_path / "p", "--model", tiny_pipeline_dir,
        "--aligned", "--parser", "model",
    )  # fmt: skip
    assert (
        status == 2
        and f"{tmp_path / 'y' / 'face.png'}: its output face_labels.png would overwrite the result of" in err
    )
    labels = np.asarray(Image.open(tmp_path / "p" / "face_labels.png"))
    first = np.asarray(Image.open(tmp_path / "x" / "face.png"))
    assert np.array_equal(labels, build_tiny_pipeline().parse(first)[0])  # the first input's result survived


def test_a_failed_write_is_reported_by_its_path_and_the_batch_goes_on(tiny_pipeline_dir, tmp_path, capsys):
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / name)
    out = tmp_path / "out"
    (out / "a.png").mkdir(parents=True)  # the result path of a.png is taken by a folder
    status, err = run(
        capsys, "edit", tmp_path / "a.png", tmp_path / "b.png", "--aligned", "--out", out, "--model", tiny_pipeline_dir
    )
    assert status == 2 and f"{out / 'a.png'}: is a folder" in err
    assert (out / "b.png").is_file() and sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]  # no temp left


def test_a_model_producing_nan_writes_nothing(tmp_path, photo, capsys):
    pipe = build_tiny_pipeline()
    with torch.no_grad():
        pipe.editor.global_generator.color_head.bias.fill_(float("nan"))
    pipe.save_pretrained(tmp_path / "broken")
    Image.fromarray(photo).save(tmp_path / "photo.png")
    Image.fromarray(photo).save(tmp_path / "second.png")
    args = ["--out", tmp_path / "o", "--model", tmp_path / "broken"]
    status, err = run(capsys, "edit", tmp_path / "photo.png", tmp_path / "second.png", *args)
    assert status == 2 and err.count("the editor produced NaN or infinite values") == 1  # stopped at the first
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    status, err = run(
        capsys, "edit", tmp_path / "a.png", "--aligned", "--out", tmp_path / "o", "--model", tmp_path / "broken"
    )
    assert status == 2 and "the editor produced NaN or infinite values" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
