"""The training helpers (configs, augmentation, checkpoints) and the training scripts end to end on tiny configs."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from in_process import run_training_script
from PIL import Image

from hf_segan.constants import EXPRESSIONS, FACE_PARSING_CLASSES
from hf_segan.training.checkpointing import list_checkpoints, resolve_resume_path
from hf_segan.training.config import OptimConfig, RunConfig, load_config, parse_config
from hf_segan.training.data import FaceTrainingSet, check_columns, check_expression_labels, hflip_face
from hf_segan.training.runtime import learning_rate
from hf_segan.training.segan_config import SeganTrainingConfig
from hf_segan.training.segan_trainer import SeganTrainer, add_conditions, update_ema

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "training" / "configs"


# --- face-correct augmentation ----------------------------------------------------------------------------------


def test_flip_swaps_left_and_right_classes():
    label = FACE_PARSING_CLASSES.index
    mask = torch.tensor([[label("l_eye"), label("skin"), label("nose"), label("r_brow")]])
    image = torch.arange(4.0).view(1, 1, 4).expand(3, 1, 4)
    flipped_image, flipped_mask = hflip_face(image, mask)
    # the subject's left eye, now on the image's right, is labelled as a right eye; brows likewise
    assert flipped_mask.tolist() == [[label("l_brow"), label("nose"), label("skin"), label("r_eye")]]
    assert flipped_image[0, 0].tolist() == [3.0, 2.0, 1.0, 0.0]


def _tiny_dataset(n=6, size=8, names=EXPRESSIONS):
    masks = [Image.fromarray(np.full((size, size), i % 19, dtype=np.uint8), mode="L") for i in range(n)]
    images = [Image.fromarray(np.full((size, size, 3), 10 * i, dtype=np.uint8)) for i in range(n)]
    features = datasets.Features(
        {"image": datasets.Image(), "mask": datasets.Image(), "expression": datasets.ClassLabel(names=list(names))}
    )
    return datasets.Dataset.from_dict(
        {"image": images, "mask": masks, "expression": [i % len(names) for i in range(n)]}, features=features
    )


def test_segan_conditions_follow_the_intensities_the_data_records():
    """A half-intensity target image must be asked for at half intensity, or the paired loss teaches the full
    expression's condition to mean the half one (and evaluation asks for the half one)."""
    index = EXPRESSIONS.index
    batch = {
        "expression": torch.tensor([index("happy"), index("neutral")]),
        "intensity": torch.tensor([0.5, 0.0]),
        "target_expression": torch.tensor([index("neutral"), index("sad")]),
        "target_intensity": torch.tensor([0.0, 0.5]),
    }
    add_conditions(batch)
    neutral, happy, sad = (torch.eye(len(EXPRESSIONS))[index(name)] for name in ("neutral", "happy", "sad"))
    assert batch["target"].tolist() == [index("neutral"), index("sad")]
    assert torch.allclose(batch["target_condition"], torch.stack([neutral, 0.5 * neutral + 0.5 * sad]))
    assert torch.allclose(batch["source_condition"], torch.stack([0.5 * neutral + 0.5 * happy, neutral]))
    # Data without intensities (AffectNet, RaFD): random other targets at full intensity.
    unpaired = {"expression": torch.tensor([index("happy")] * 4)}
    add_conditions(unpaired)
    assert (unpaired["target"] != index("happy")).all()
    assert torch.equal(unpaired["target_condition"], torch.eye(len(EXPRESSIONS))[unpaired["target"]])


def test_training_set_flips_depend_only_on_seed_epoch_and_index():
    dataset = _tiny_dataset()
    flipping = FaceTrainingSet(dataset, ["image", "mask"], resolution=4, flip_probability=1.0, seed=3)
    plain = FaceTrainingSet(dataset, ["image", "mask"], resolution=4)
    assert plain[2]["image"].shape == (3, 4, 4) and plain[2]["mask"].dtype == torch.int64
    # mask value 4 (l_eye) everywhere in sample 4: a flip must turn it into r_eye
    assert plain[4]["mask"].unique().tolist() == [4] and flipping[(4, 0)]["mask"].unique().tolist() == [5]
    half = FaceTrainingSet(dataset, ["image", "mask"], resolution=4, flip_probability=0.5, seed=3)
    draws = [half[(i, e)]["mask"].unique().item() for e in range(8) for i in [4]]
    assert draws == [half[(4, e)]["mask"].unique().item() for e in range(8)]
    assert set(draws) == {4, 5}


def test_dataset_checks_name_the_problem():
    dataset = _tiny_dataset().remove_columns("mask")
    with pytest.raises(ValueError, match=r"missing required column\(s\) \['mask'\]"):
        check_columns(dataset, ["image", "mask"], "parsing")
    wrong = _tiny_dataset(names=["calm", "joy"])
    with pytest.raises(ValueError, match="convert the dataset"):
        check_expression_labels(wrong)


# --- configs ----------------------------------------------------------------------------------------------------


def test_config_overrides_types_and_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("max_steps: 7\n")
    config = parse_config(RunConfig, ["--config", str(path), "--seed", "3", "--mixed_precision=no"])
    assert (config.max_steps, config.seed, config.mixed_precision) == (7, 3, "no")
    with pytest.raises(ValueError, match=r"Unknown config key `max_step`; valid keys are: .*max_steps"):
        load_config(RunConfig, overrides=["--max_step", "3"])
    with pytest.raises(ValueError, match=r"`max_steps` must be >= 1, got 0"):
        load_config(RunConfig, overrides=["--max_steps", "0"])
    with pytest.raises(ValueError, match=r"`max_steps` must be an integer"):
        load_config(RunConfig, overrides=["--max_steps", "ten"])
    with pytest.raises(ValueError, match=r"`report_to` must be one of \['tensorboard', 'none'\]"):
        load_config(RunConfig, overrides=["--report_to", "wandb"])
    from hf_segan.training.config import OptimConfig as Optim

    @dataclasses.dataclass
    class WithOptim:
        optim: Optim = dataclasses.field(default_factory=Optim)

    assert load_config(WithOptim, overrides=["--optim.lr", "3e-3"]).optim.lr == 0.003  # YAML 1.1 reads it as text


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_only_where_the_device_computes_it_natively(monkeypatch, native):
    """Emulated bf16 is slower than fp32, so `auto` must not pick it on a CPU without bf16 instructions."""
    from hf_segan.training import runtime

    monkeypatch.setattr(runtime, "native_bf16", lambda device: native)
    assert runtime.resolve_mixed_precision("auto", cpu=True) == ("bf16" if native else "no")
    assert runtime.resolve_mixed_precision("auto", cpu=False) == ("bf16" if native else "no")
    assert [runtime.resolve_mixed_precision(value, cpu=True) for value in ("no", "bf16")] == ["no", "bf16"]


def test_learning_rate_schedules():
    poly = OptimConfig(lr=1.0, schedule="poly", poly_power=2.0, warmup_steps=2)
    assert [learning_rate(poly, s, 12) for s in (0, 1)] == [0.5, 1.0]
    assert learning_rate(poly, 7, 12) == pytest.approx(0.25)  # (1 - 5/10)^2
    assert learning_rate(OptimConfig(lr=0.1), 50, 100) == 0.1


def test_resume_latest_ignores_unfinished_checkpoints(tmp_path):
    for name in ("checkpoint-2", "checkpoint-10", "checkpoint-12.tmp"):
        (tmp_path / name).mkdir()
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-2", "checkpoint-10"]
    assert resolve_resume_path(tmp_path, "latest").name == "checkpoint-10"
    assert resolve_resume_path(tmp_path / "empty", "latest") is None
    with pytest.raises(FileNotFoundError, match="not a checkpoint folder"):
        resolve_resume_path(tmp_path, str(tmp_path / "checkpoint-2"))


# --- the scripts, end to end on tiny configs --------------------------------------------------------------------


def _run(script, output_dir, *overrides, launcher=()):
    command = [
        *launcher,
        str(ROOT / "training" / f"train_{script}.py"),
        "--config",
        str(CONFIGS / f"{script}_tiny.yaml"),
    ]
    command += ["--output_dir", str(output_dir), *map(str, overrides)]
    if not launcher:
        command.insert(0, sys.executable)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def _run_in_process(script, output_dir, *overrides):
    """``_run`` without a fresh interpreter: the script's ``main`` under its error handling, its exit status."""
    argv = ["--config", CONFIGS / f"{script}_tiny.yaml", "--output_dir", output_dir, *overrides]
    return run_training_script(script, argv)


def _ok(result):
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _summary(output_dir):
    return json.loads((Path(output_dir) / "training_summary.json").read_text())


def _tensors(folder):
    from safetensors.torch import load_file

    return {
        f"{path.relative_to(folder)}:{key}": value
        for path in sorted(Path(folder).rglob("*.safetensors"))
        for key, value in load_file(path).items()
    }


def test_parser_script_learns_and_saves_best(tmp_path):
    from hf_segan.models.bisenet import BiSeNetFaceParser

    _ok(_run("parser", tmp_path, "--max_steps", 24, "--eval_every", 4))
    history = _summary(tmp_path)["eval_history"]
    assert len(history) == 6
    assert history[-1]["miou"] > history[0]["miou"] + 0.05, history
    parser = BiSeNetFaceParser.from_pretrained(tmp_path / "best")
    assert parser(torch.zeros(1, 3, 32, 32)).logits.shape == (1, len(FACE_PARSING_CLASSES), 32, 32)
    assert (tmp_path / "final").is_dir() and list((tmp_path / "logs").rglob("events.out.tfevents*"))


def test_classifier_script_saves_loadable_model(tmp_path):
    from hf_segan.models.classifier import ExpressionClassifier

    _ok(_run("classifier", tmp_path))
    summary = _summary(tmp_path)
    assert 0.0 <= summary["best_accuracy"] <= 1.0
    classifier = ExpressionClassifier.from_pretrained(tmp_path / "best")
    assert classifier(torch.zeros(2, 3, 32, 32)).logits.shape == (2, len(EXPRESSIONS))


@pytest.mark.parametrize("script", ["parser", "segan", "classifier"])
def test_scripts_train_in_bf16_mixed_precision(tmp_path, script):
    """bf16 is what `mixed_precision: auto` picks on a GPU. Accelerate then rebuilds every model output from its
    own mapping (to cast it to fp32): multi-field outputs must survive that, or the first step fails."""
    assert _run_in_process(script, tmp_path, "--max_steps", 2, "--mixed_precision", "bf16") == 0
    weights = _tensors(tmp_path / ("pipeline" if script == "segan" else "final"))
    floats = [value for value in weights.values() if value.is_floating_point()]
    assert floats and all(value.dtype == torch.float32 and value.isfinite().all() for value in floats)


def test_segan_resume_continues_bit_identically(tmp_path):
    from hf_segan.pipeline import SeganPipeline

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    every = ("--max_steps", 6, "--checkpoint_every", 3)
    assert _run_in_process("segan", straight, *every, "--checkpoints_total_limit", 5) == 0
    # A run killed right after its step-3 checkpoint, restarted with `latest`:
    shutil.copytree(straight / "checkpoint-3", resumed / "checkpoint-3")
    assert _run_in_process("segan", resumed, *every, "--resume_from_checkpoint", "latest") == 0
    assert _summary(resumed)["resumed_from_step"] == 3
    for name in ("checkpoint-6", "pipeline"):
        expected, got = _tensors(straight / name), _tensors(resumed / name)
        assert expected.keys() == got.keys() and expected
        for key in expected:
            assert torch.equal(expected[key], got[key]), key
    # the resumed run really trained: its weights moved away from the checkpoint it started from
    start, end = _tensors(straight / "checkpoint-3"), _tensors(resumed / "checkpoint-6")
    assert start.keys() == end.keys()
    assert any(not torch.equal(start[k], end[k]) for k in start)
    SeganPipeline.from_pretrained(resumed / "pipeline")


def _tiny_trainer_and_batch(output_dir, *overrides):
    """A `SeganTrainer` of `segan_tiny.yaml` and one conditioned paired batch of two 32 px faces."""
    from hf_segan.training.runtime import create_accelerator

    argv = ["--config", str(CONFIGS / "segan_tiny.yaml"), "--output_dir", str(output_dir), "--report_to", "none"]
    config = parse_config(SeganTrainingConfig, [*argv, *overrides])
    trainer = SeganTrainer(config, create_accelerator(config))
    generator = torch.Generator().manual_seed(0)
    batch = {
        "image": torch.rand(2, 3, 32, 32, generator=generator) * 2 - 1,
        "target_image": torch.rand(2, 3, 32, 32, generator=generator) * 2 - 1,
        "mask": torch.randint(len(FACE_PARSING_CLASSES), (2, 32, 32), generator=generator),
        "expression": torch.tensor([0, 1]),
        "target_expression": torch.tensor([1, 0]),
    }
    add_conditions(batch)
    return trainer, batch


def _count_forward_passes(trainer, *names: str) -> dict[str, int]:
    """Live counts of the forward passes of the trainer's named (unwrapped) models."""
    passes = dict.fromkeys(names, 0)
    for name in names:
        hook = lambda *_, name=name: passes.update({name: passes[name] + 1})  # noqa: E731
        trainer.unwrap(getattr(trainer, name)).register_forward_hook(hook)
    return passes


def test_joint_gradient_scale_sets_how_much_of_the_editor_reaches_the_parser(tmp_path):
    """Scale 0 leaves the parser exactly as supervised-only training does; scale 1 (joint) moves it elsewhere."""

    def parser_weights(name, *overrides):
        trainer, batch = _tiny_trainer_and_batch(tmp_path / name, *overrides)
        trainer.generator_step([batch], [batch])
        return {k: v.detach().clone() for k, v in trainer.unwrap(trainer.parser).state_dict().items()}

    supervised = parser_weights("supervised", "--train_parser_jointly", "false")
    silenced = parser_weights("scale0", "--loss.joint_gradient_scale", "0")
    joint = parser_weights("joint", "--loss.joint_gradient_scale", "1")
    assert supervised.keys() == silenced.keys() == joint.keys() and supervised
    assert all(torch.equal(supervised[k], silenced[k]) for k in supervised)
    assert any(not torch.equal(supervised[k], joint[k]) for k in supervised)


@pytest.mark.parametrize("lambda_cycle, editor_passes", [(10.0, 2), (0.0, 1)])
def test_generator_step_edits_back_only_when_the_cycle_loss_counts(tmp_path, lambda_cycle, editor_passes):
    """The edit back to the source is a whole second editor pass: a recipe that gives it no weight must not pay
    for it, and must not log a cycle term it never optimised."""
    trainer, batch = _tiny_trainer_and_batch(tmp_path, "--loss.lambda_cycle", str(lambda_cycle))
    passes = _count_forward_passes(trainer, "editor")
    terms, _ = trainer.generator_step([batch], [batch])
    assert passes["editor"] == editor_passes
    assert ("editor/cycle" in terms) == (lambda_cycle > 0)
    assert all(torch.isfinite(value) for value in terms.values())


def test_critic_scores_the_generator_steps_edits_without_editing_again(tmp_path):
    """CycleGAN's order: the edits of the generator update are handed to the critic update, detached, so that the
    critic neither parses nor edits the batch a second time; on their own, critic steps still make their edits."""
    trainer, batch = _tiny_trainer_and_batch(tmp_path)
    passes = _count_forward_passes(trainer, "editor", "parser")
    _, fakes = trainer.generator_step([batch], [batch])
    assert len(fakes) == 1 and not fakes[0].images.requires_grad and not fakes[0].region_masks.requires_grad
    assert fakes[0].images.shape == batch["image"].shape and fakes[0].region_masks.shape[1] > 0
    before = dict(passes)
    critic = trainer.unwrap(trainer.critic)
    weights = [parameter.detach().clone() for parameter in critic.parameters()]
    trainer.critic_step([batch], fakes)
    assert passes == before
    assert any(not torch.equal(a, b) for a, b in zip(weights, critic.parameters(), strict=True))
    trainer.critic_step([batch])
    assert passes == {"editor": before["editor"] + 1, "parser": before["parser"] + 1}


def test_a_channels_last_batch_trains_the_joint_model_to_the_same_weights(tmp_path):
    """`channels_last` (the default) hands the models NHWC images: every model must compute the same numbers on
    them (a `.view` on a layout-dependent shape would raise or scramble pixels), so a generator and a critic
    update from the same start compute the same loss terms and gradients, up to float summation order. (Adam's
    first update is about the learning rate times the gradient's sign, so weights would differ wherever a
    gradient is near zero: the gradients are compared.)"""
    results = []
    for name, layout in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
        trainer, batch = _tiny_trainer_and_batch(tmp_path / name)
        for key in ("image", "target_image"):
            batch[key] = batch[key].contiguous(memory_format=layout)
        gradients = {}
        for model_name in ("parser", "editor", "critic"):
            for parameter_name, parameter in trainer.unwrap(getattr(trainer, model_name)).named_parameters():
                key = f"{model_name}.{parameter_name}"
                parameter.register_post_accumulate_grad_hook(
                    lambda p, key=key, store=gradients: store.setdefault(key, []).append(p.grad.clone())
                )
        terms, fakes = trainer.generator_step([batch], [batch])
        terms.update(trainer.critic_step([batch], fakes))
        results.append((terms, gradients))
    (terms, gradients), (terms_nhwc, gradients_nhwc) = results
    assert terms.keys() == terms_nhwc.keys() and gradients.keys() == gradients_nhwc.keys()
    assert any(key.startswith("parser.") for key in gradients)  # the joint step reaches every model
    for key in terms:
        torch.testing.assert_close(terms_nhwc[key], terms[key], rtol=1e-4, atol=1e-6)
    for key, expected in gradients.items():
        for want, got in zip(expected, gradients_nhwc[key], strict=True):
            torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-3 * float(want.abs().max()) + 1e-8)


def test_training_stream_hands_out_channels_last_images_with_the_same_values():
    from accelerate import Accelerator

    from hf_segan.training.data import TrainingStream

    dataset = FaceTrainingSet(_tiny_dataset(n=6), ["image", "mask"], resolution=8, flip_probability=0.5, seed=1)
    plain, nhwc = (
        next(TrainingStream(Accelerator(cpu=True), dataset, 3, seed=1, channels_last=flag).batches())
        for flag in (False, True)
    )
    assert nhwc["image"].is_contiguous(memory_format=torch.channels_last) and not nhwc["image"].is_contiguous()
    assert plain["image"].is_contiguous()
    assert torch.equal(nhwc["image"], plain["image"]) and torch.equal(nhwc["mask"], plain["mask"])


def test_ema_moves_toward_the_trained_editor_by_one_minus_decay():
    """decay 0.5 lands half-way; decay 0 (the SynthFaces recipe) must save exactly the last trained weights."""
    model, ema = torch.nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([1.0, 2.0, 3.0]))
        ema.weight.copy_(torch.tensor([3.0, 2.0, -1.0]))
    model.running_mean.copy_(torch.tensor([0.1, 0.2, 0.3]))
    update_ema(ema, model, 0.5)
    assert ema.weight.tolist() == [2.0, 2.0, 1.0]
    assert torch.equal(ema.running_mean, model.running_mean)  # buffers are copied, not averaged
    with torch.no_grad():
        model.weight.copy_(torch.randn(3, generator=torch.Generator().manual_seed(0)))
    update_ema(ema, model, 0.0)
    assert torch.equal(ema.weight, model.weight)


@pytest.mark.slow
def test_segan_two_cpu_processes_split_the_data(tmp_path):
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launcher += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0"]
    _ok(_run("segan", tmp_path, "--cpu", "true", "--debug_record_indices", "true", launcher=launcher))
    summary = _summary(tmp_path)
    assert summary["num_processes"] == 2
    records = [json.loads((tmp_path / f"debug_indices_{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["num_processes"] for r in records] == [2, 2]
    steps, batch = summary["steps"], summary["config"]["data"]["batch_size"]
    first, second = records[0]["indices"], records[1]["indices"]
    assert len(first) == len(second) == steps * batch
    # each epoch's samples are dealt out once: within an epoch the two ranks never share an index
    epoch = summary["samples_per_epoch_per_process"]
    for start in range(0, len(first), epoch):
        assert not set(first[start : start + epoch]) & set(second[start : start + epoch])
    assert (tmp_path / "pipeline").is_dir()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["--loss.n_critics", "2"], "Unknown config key `loss.n_critics`; valid keys are: "),
        (["--optim_editor.lr", "-1"], "Config key `optim_editor.lr` must be > 0.0, got -1"),
        (["--loss.n_critic", "0"], "Config key `loss.n_critic` must be >= 1, got 0"),
        (["--region_source", "landmarks"], "Config key `region_source` must be one of ['semantic', 'box', 'none']"),
        (["--model.pretrained_parser", "no/such/parser"], "`model.pretrained_parser` 'no/such/parser' is not a"),
        (["--parsing_data.max_eval_samples", "8"], "Unknown config key `parsing_data.max_eval_samples`"),
        (["--model.editor", "{preset: papr}"], "Unknown editor preset 'papr'; expected one of ['paper', 'synthfaces']"),
        (["--model.editor", "{region_dilation: 0}"], "`model.editor.region_dilation` is no longer an option"),
    ],
)
def test_segan_rejects_bad_config_in_one_line(tmp_path, capsys, overrides, message):
    """What `train_segan.py` does before its data and models (read the config, build the trainer), in process, under
    the scripts' error handling: one line, exit status 2, nothing written."""
    from hf_segan.training.runtime import create_accelerator, run_script

    def start(argv):
        config = parse_config(SeganTrainingConfig, argv)
        SeganTrainer(config, create_accelerator(config))

    argv = ["--config", str(CONFIGS / "segan_tiny.yaml"), "--output_dir", str(tmp_path), *overrides]
    assert run_script(start, argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not list(tmp_path.iterdir())


def test_default_recipe_config_builds_the_bundled_editor():
    """The recipe the bundled model was trained with (a preset name in its YAML) builds the bundled editor's design."""
    from hf_segan.models.editor import HierarchicalExpressionGenerator, editor_arguments

    config = load_config(SeganTrainingConfig, CONFIGS / "segan_synthfaces_default.yaml")
    arguments = editor_arguments(config.model.editor)
    editor = HierarchicalExpressionGenerator(region_source=config.region_source, **arguments)
    bundled = json.loads((ROOT / "hf_segan/assets/default_model/editor/config.json").read_text())
    loaded = HierarchicalExpressionGenerator.from_config(bundled).config
    assert {k: v for k, v in editor.config.items() if not k.startswith("_")} == {
        k: v for k, v in loaded.items() if not k.startswith("_")
    }


def test_scripts_reject_dataset_missing_a_column(tmp_path, capsys):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _tiny_dataset().remove_columns("mask").to_parquet(str(data_dir / "train.parquet"))
    assert _run_in_process("parser", tmp_path / "out", "--data.dataset", data_dir, "--data.eval_split", "null") == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "missing required column(s) ['mask']" in errors[0]  # datasets' own progress aside


def test_training_stream_resumes_mid_epoch_with_the_same_batches():
    from accelerate import Accelerator

    from hf_segan.training.data import TrainingStream

    dataset = FaceTrainingSet(_tiny_dataset(n=10), ["mask"], resolution=2, flip_probability=0.5, seed=1)
    stream = TrainingStream(Accelerator(cpu=True), dataset, batch_size=3, seed=1)
    assert len(stream) == 3  # 10 samples, drop_last
    continuous = stream.batches(0)
    straight = [next(continuous) for _ in range(8)]
    epoch_one = [i for batch in straight[3:6] for i in batch["index"].tolist()]
    assert len(set(epoch_one)) == 9  # no sample twice within an epoch
    assert epoch_one != [i for batch in straight[:3] for i in batch["index"].tolist()]  # reshuffled per epoch
    restarted = stream.batches(4)  # resume after 4 batches: epoch 1, skipping 1
    for expected in straight[4:]:
        got = next(restarted)
        assert torch.equal(got["index"], expected["index"]) and torch.equal(got["mask"], expected["mask"])


def test_segan_records_whether_the_editor_saw_real_photos(tmp_path):
    synthetic, _ = _tiny_trainer_and_batch(tmp_path / "synthetic")
    photos, _ = _tiny_trainer_and_batch(tmp_path / "photos", "--data.dataset", "someone/face-photos")
    assert synthetic.unwrap(synthetic.editor).config.trained_on_real_photos is False
    assert photos.unwrap(photos.editor).config.trained_on_real_photos is True
