"""The paper's recipe on real data, end to end, on miniature releases laid out as their authors ship them.

The commands are the ones docs/train_real_datasets.md gives, run from a working folder, with only the flags that
make the models and the run tiny added: convert CelebAMask-HQ, AffectNet and RaFD; train the parser; train the
joint model with `training/configs/segan_paper.yaml` as written (AffectNet) and on RaFD with its paired loss;
load the result with `SeganPipeline`, edit, describe and evaluate it. The training scripts run in this process
(their `main`, as `python training/train_*.py` calls it), from the working folder.
"""

import json
from pathlib import Path

import numpy as np
from in_process import run_training_script
from PIL import Image

from hf_segan.cli import main
from hf_segan.pipeline import SeganPipeline
from tests.test_dataset_converters import (
    landmarks,
    rafd_photo,
    save_jpeg,
    write_affectnet,
    write_celebamask_release,
)

REPO = Path(__file__).resolve().parents[1]
TINY_PARSER = ["--max_steps", "2", "--mixed_precision", "no", "--report_to", "none", "--model.type", "unet"]
TINY_PARSER += ["--model.kwargs", "{depth: 2, base_channels: 4, max_channels: 16}", "--data.resolution", "32"]
TINY_PARSER += ["--data.batch_size", "2", "--data.eval_batch_size", "2", "--eval_every", "2", "--log_every", "1"]
TINY_PARSER += ["--optim.warmup_steps", "0", "--loss.ohem_min_kept", "0"]
TINY_SEGAN = ["--max_steps", "2", "--mixed_precision", "no", "--report_to", "none", "--model.parser_type", "unet"]
TINY_SEGAN += ["--model.editor", "{base_channels: 4, num_residual_blocks: 1, local_channels: 8}"]
TINY_SEGAN += [
    "--model.discriminator",
    "{base_channels: 8, num_layers: 3, local_base_channels: 4, local_num_layers: 2}",
]
TINY_SEGAN += ["--data.resolution", "32", "--data.batch_size", "2", "--parsing_data.batch_size", "2"]
TINY_SEGAN += ["--data.eval_batch_size", "4", "--loss.n_critic", "1", "--log_every", "1", "--eval_every", "2"]
TINY_SEGAN += ["--image_every", "2", "--checkpoint_every", "100"]


def write_releases(downloads: Path) -> None:
    """CelebAMask-HQ (4 train, 1 validation, 1 test photo by orig_idx), AffectNet (header-less validation.csv) and
    RaFD (two subjects in three expressions), as shipped."""
    write_celebamask_release(downloads / "CelebAMask-HQ", {0: 0, 1: 10, 2: 20, 3: 30, 4: 170000, 5: 190000})
    points = landmarks()
    training = [(f"1/{code}.jpg", str(code), points) for code in (0, 1, 3, 6)]
    write_affectnet(downloads / "AffectNet", training, [("2/a.jpg", "1", points), ("2/b.jpg", "4", points)])
    from skimage import data

    face = np.asarray(Image.fromarray(data.astronaut()[0:320, 60:380]).resize((160, 160), Image.BILINEAR))
    for subject in (1, 2):
        for word in ("angry", "happy", "contemptuous"):
            name = f"Rafd090_{subject:02d}_Caucasian_female_{word}_frontal.jpg"
            save_jpeg(downloads / "RaFD" / name, rafd_photo(face, word))


def run_script(script: str, config: str, *overrides: str) -> None:
    """``python training/{script} --config training/configs/{config} *overrides`` from the working folder, in process
    (test_training runs each training script as a subprocess once)."""
    name = script.removeprefix("train_").removesuffix(".py")
    assert run_training_script(name, ["--config", REPO / "training" / "configs" / config, *overrides]) == 0


def test_paper_recipe_on_release_layouts_converts_trains_saves_loads_and_edits(tmp_path, monkeypatch, capsys):
    write_releases(tmp_path / "downloads")
    monkeypatch.chdir(tmp_path)
    for name, source in (("celebamask-hq", "CelebAMask-HQ"), ("affectnet", "AffectNet"), ("rafd", "RaFD")):
        args = ["prepare-dataset", name, f"downloads/{source}", f"data/{name}", "--image-size", "64"]
        assert main(args + (["--test-fraction", "0.5"] if name == "rafd" else [])) == 0
    assert "train: 6 rows" in capsys.readouterr().out  # RaFD: one subject's 6 ordered pairs

    run_script("train_parser.py", "parser.yaml", "--data.dataset", "data/celebamask-hq", "--output_dir",
               "outputs/parser_celebamask", *TINY_PARSER)  # fmt: skip
    parser_config = json.loads((tmp_path / "outputs/parser_celebamask/best/config.json").read_text())
    assert parser_config["input_resolution"] == 32
    run_script("train_segan.py", "segan_paper.yaml", *TINY_SEGAN)  # AffectNet, as configured
    run_script("train_segan.py", "segan_paper.yaml", "--data.dataset", "data/rafd", "--loss.lambda_paired", "10",
               "--output_dir", "outputs/segan_rafd", *TINY_SEGAN)  # fmt: skip

    affectnet_run = json.loads((tmp_path / "outputs/segan_paper/training_summary.json").read_text())
    assert affectnet_run["config"]["separate_parsing_data"] and "parser/loss" in affectnet_run["final_metrics"]
    rafd_run = json.loads((tmp_path / "outputs/segan_rafd/training_summary.json").read_text())
    assert "editor/paired" in rafd_run["final_metrics"] and "eval/paired_l1" in rafd_run["final_metrics"]

    pipe = SeganPipeline.from_pretrained(tmp_path / "outputs/segan_paper/pipeline")
    assert pipe.config.resolution == pipe.parser_resolution == 32
    face = Image.open(tmp_path / "downloads/RaFD/Rafd090_01_Caucasian_female_angry_frontal.jpg").resize((64, 64))
    edited = pipe(face, expression="happy").images[0]
    assert edited.size == (64, 64) and edited.mode == "RGB"

    assert main(["info", "outputs/segan_rafd/pipeline"]) == 0
    assert "resolution: 32x32" in capsys.readouterr().out
    args = ["evaluate", "--model", "outputs/segan_rafd/pipeline", "--dataset", "data/rafd", "--split", "test"]
    assert main([*args, "--out", "outputs/eval_rafd"]) == 0
    metrics = json.loads((tmp_path / "outputs/eval_rafd/metrics.json").read_text())["rows"][0]["metrics"]
    assert any(key.startswith("edit/psnr") for key in metrics), metrics  # scored against RaFD's true targets
    args = ["evaluate", "--model", "outputs/segan_rafd/pipeline", "--dataset", "data/celebamask-hq", "--split", "test"]
    assert main([*args, "--out", "outputs/eval_parsing"]) == 0
    metrics = json.loads((tmp_path / "outputs/eval_parsing/metrics.json").read_text())["rows"][0]["metrics"]
    assert any("miou" in key for key in metrics), metrics
