"""Training fails safe: bad configs stop before any work, diverged runs stop without saving NaN weights, checkpoints
and model folders are never unpickled, and model configs with unknown keys or foreign classes are refused."""

import dataclasses
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate import Accelerator
from in_process import run_training_script

from hf_segan.training.checkpointing import load_checkpoint, save_checkpoint, save_pretrained_atomic
from hf_segan.training.config import OptimConfig, RunConfig, load_config, parse_config
from hf_segan.training.runtime import check_losses_finite
from hf_segan.training.safe_state import TrainingDivergedError, UnsafeCheckpointError

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class _WithOptim(RunConfig):
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)


# --- item 6 and 11: configs checked before any work -------------------------------------------------------------


@pytest.mark.parametrize(
    "override, value",
    [("optim.lr", ".inf"), ("optim.lr", ".nan"), ("optim.weight_decay", "-.inf"), ("optim.betas", "[0.5, .nan]")],
)
def test_config_rejects_non_finite_numbers(tmp_path, override, value):
    """`.inf` passes `gt: 0` and NaN passes every comparison that is written as `not (v < bound)`: a learning rate
    of inf trained to the end with every weight NaN."""
    with pytest.raises(ValueError, match=rf"Config key `{re.escape(override)}` must be a finite number"):
        load_config(_WithOptim, overrides=["--output_dir", str(tmp_path), f"--{override}", value])
    path = tmp_path / "c.yaml"
    path.write_text(f"output_dir: {tmp_path}\noptim: {{{override.split('.')[1]}: {value}}}\n")
    with pytest.raises(ValueError, match="must be a finite number"):
        load_config(_WithOptim, path)


def test_broken_yaml_is_one_line_naming_the_place(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("max_steps: 3\noptim: {lr: 1e-4\nseed: 1\n")
    with pytest.raises(ValueError, match=r"is not valid YAML at line \d+, column \d+") as error:
        parse_config(_WithOptim, ["--config", str(path)])
    assert "\n" not in str(error.value)


def test_output_dir_that_is_a_file_is_refused_when_the_config_is_read(tmp_path):
    a_file = tmp_path / "taken"
    a_file.write_text("not a folder")
    with pytest.raises(ValueError, match=r"`output_dir` .*taken' is a file"):
        parse_config(RunConfig, ["--output_dir", str(a_file)])
    with pytest.raises(ValueError, match=r"cannot be created: .*taken' is a file"):
        parse_config(RunConfig, ["--output_dir", str(a_file / "run")])
    assert parse_config(RunConfig, ["--output_dir", str(tmp_path / "new" / "run")]).output_dir.endswith("run")


def test_boolean_flags_may_be_given_without_a_value(tmp_path):
    """`--cpu --output_dir X` read `--output_dir` as the value of `--cpu`, then rejected `X`."""
    config = parse_config(RunConfig, ["--cpu", "--output_dir", str(tmp_path), "--channels_last"])
    assert config.cpu and config.channels_last and config.output_dir == str(tmp_path)
    assert not parse_config(RunConfig, ["--cpu", "false", "--output_dir", str(tmp_path)]).cpu
    with pytest.raises(ValueError, match="Missing value for `--max_steps`"):
        parse_config(RunConfig, ["--max_steps", "--cpu"])
    with pytest.raises(ValueError, match=r"Unknown config key `device`; valid keys are: .*cpu"):
        parse_config(RunConfig, ["--device", "cuda"])


# --- item 6: a diverged run stops and never saves NaN weights ---------------------------------------------------


def test_non_finite_loss_stops_naming_the_terms_and_the_last_checkpoint(tmp_path):
    accelerator = Accelerator(cpu=True)
    finite = {"a": torch.tensor(1.0), "b": torch.tensor(2.0)}
    check_losses_finite(accelerator, finite, 5, tmp_path)
    (tmp_path / "checkpoint-4").mkdir()
    with pytest.raises(TrainingDivergedError, match=r"step 5 \(b=nan\).*checkpoint-4"):
        check_losses_finite(accelerator, {"a": torch.tensor(1.0), "b": torch.tensor(float("nan"))}, 5, tmp_path)
    with pytest.raises(TrainingDivergedError, match=r"a=inf"):
        check_losses_finite(accelerator, {"a": torch.tensor(float("inf"))}, 1, tmp_path / "none")


def _prepared_linear(accelerator, seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, betas=(0.5, 0.9))
    return accelerator.prepare(model, optimizer)


def test_checkpoints_and_models_with_non_finite_weights_are_not_written(tmp_path):
    accelerator = Accelerator(cpu=True)
    model, _ = _prepared_linear(accelerator)
    save_checkpoint(accelerator, tmp_path, 1, None)
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(TrainingDivergedError, match=r"non-finite weights \(weight\)"):
        save_checkpoint(accelerator, tmp_path, 2, None)
    with pytest.raises(TrainingDivergedError, match="non-finite weights"):
        save_pretrained_atomic(model, tmp_path / "final")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-1"]


@pytest.mark.slow
def test_a_diverging_segan_run_exits_non_zero_keeping_the_last_good_checkpoint(tmp_path, capsys):
    """A learning rate of 1e30 passes the config checks; Adam's first step moves every weight by about that, so the
    next losses overflow: the run must stop there, with one line, no checkpoint and no model written after it.
    (In process, under the script's error handling; test_training runs the script itself as a subprocess.)"""
    argv = ["--config", ROOT / "training" / "configs" / "segan_tiny.yaml", "--output_dir", tmp_path]
    argv += ["--report_to", "none", "--checkpoint_every", "1", "--max_steps", "4"]
    argv += [arg for name in ("editor", "critic", "parser") for arg in (f"--optim_{name}.lr", "1e30")]
    assert run_training_script("segan", argv) == 3
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "non-finite" in errors[0], stderr[-2000:]
    assert not (tmp_path / "pipeline").exists()
    checkpoints = sorted(tmp_path.glob("checkpoint-*"))
    assert all(p.suffix != ".tmp" for p in checkpoints)
    from safetensors.torch import load_file

    for checkpoint in checkpoints:
        assert checkpoint.name in errors[0] or checkpoint != checkpoints[-1]
        for path in checkpoint.glob("*.safetensors"):
            assert all(t.isfinite().all() for t in load_file(path).values() if t.is_floating_point()), path


# --- item 9: checkpoints hold safetensors and JSON only, and nothing is unpickled ------------------------------


def test_checkpoint_restores_models_optimizers_registered_objects_and_rng_exactly(tmp_path):
    accelerator = Accelerator(cpu=True)
    model, optimizer = _prepared_linear(accelerator)
    ema = torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        ema.running_mean.copy_(torch.tensor([1.0, 2.0, 3.0]))
    accelerator.register_for_checkpointing(ema)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    folder = save_checkpoint(accelerator, tmp_path, 7, None, {"best": 0.5})
    assert {p.suffix for p in folder.iterdir()} == {".safetensors", ".json"}
    expected = (random.random(), np.random.rand(), torch.rand(2), model.weight.clone(), optimizer.state_dict())

    with torch.no_grad():
        model.weight.zero_()
        ema.running_mean.zero_()
    optimizer.state.clear()
    state = load_checkpoint(accelerator, folder)
    assert state == {"step": 7, "best": 0.5}
    assert ema.running_mean.tolist() == [1.0, 2.0, 3.0]
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(2), expected[2])
    assert torch.equal(model.weight, expected[3])
    restored = optimizer.state_dict()
    assert restored["param_groups"] == expected[4]["param_groups"]
    for key, entries in expected[4]["state"].items():
        assert all(torch.equal(restored["state"][key][name], value) for name, value in entries.items())


class _Exploit:
    """Unpickling this creates the marker file: proof that a checkpoint was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("name", ["custom_checkpoint_0.pkl", "optimizer.bin", "random_states_0.pkl"])
def test_resume_refuses_a_checkpoint_holding_a_pickle_without_running_it(tmp_path, name):
    accelerator = Accelerator(cpu=True)
    _prepared_linear(accelerator)
    folder = save_checkpoint(accelerator, tmp_path, 3, None)
    marker = tmp_path / "executed"
    torch.save(_Exploit(marker), folder / name)
    with pytest.raises(UnsafeCheckpointError, match=rf"holds {re.escape(name)}: refused, nothing in it was loaded"):
        load_checkpoint(accelerator, folder)
    assert not marker.exists()
    # An old-format (accelerate pickle) checkpoint is refused the same way, whatever else it holds.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "training_state.json").write_text(json.dumps({"step": 3}))
    torch.save(_Exploit(marker), legacy / name)
    with pytest.raises(UnsafeCheckpointError, match="Only safetensors and JSON are read"):
        load_checkpoint(accelerator, legacy)
    assert not marker.exists()


def test_no_code_path_unpickles():
    """The package and scripts never call an unpickler: every loader reads safetensors, JSON or (for converting a
    third-party .pth) ``torch.load(weights_only=True)``."""
    forbidden = re.compile(
        r"import pickle|pickle\.load|(?<!`)weights_only=False|allow_pickle=True|joblib|\.load_state\("
    )
    offenders = []
    for path in [*ROOT.joinpath("hf_segan").rglob("*.py"), *ROOT.joinpath("training").rglob("*.py")]:
        text = path.read_text()
        offenders += [f"{path.name}: {match.group(0)}" for match in forbidden.finditer(text)]
        calls = re.findall(r"torch\.load\(([^)]*)\)", text)
        offenders += [f"{path.name}: torch.load({args})" for args in calls if "weights_only=True" not in args]
    assert not offenders, offenders


# --- item 10: model configs with unknown keys or foreign classes ------------------------------------------------


def _model_classes():
    import importlib
    import pkgutil

    from diffusers import ModelMixin

    import hf_segan.models as models

    for info in pkgutil.iter_modules(models.__path__):
        importlib.import_module(f"hf_segan.models.{info.name}")
    found, stack = [], list(ModelMixin.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("hf_segan.models."):
            found.append(cls)
    return found


def test_every_model_class_loads_strictly():
    """A model added later gets the same checks only if it inherits the mixin."""
    from hf_segan.models.strict_loading import StrictLoadingMixin

    classes = _model_classes()
    assert len(classes) >= 5
    assert [cls.__name__ for cls in classes if not issubclass(cls, StrictLoadingMixin)] == []


def test_unknown_config_key_is_refused_naming_it_and_the_accepted_ones(tmp_path):
    from hf_segan.models.editor import HierarchicalExpressionGenerator

    editor = HierarchicalExpressionGenerator(base_channels=4, num_residual_blocks=1, local_channels=8)
    editor.save_pretrained(tmp_path)
    HierarchicalExpressionGenerator.from_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["local_window"] = {"eyes": [0.5, 0.5]}
    (tmp_path / "config.json").write_text(json.dumps(config))
    message = r"Unknown HierarchicalExpressionGenerator config key\(s\) 'local_window' \(did you mean 'local_windows'"
    with pytest.raises(ValueError, match=message + r"\?\); accepted keys are: .*base_channels"):
        HierarchicalExpressionGenerator.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match=message):
        HierarchicalExpressionGenerator.from_config(config)


def test_a_config_of_another_class_and_pickle_weights_are_refused(tmp_path):
    from hf_segan.models.classifier import ExpressionClassifier
    from hf_segan.models.unet import UNetFaceParser

    parser = UNetFaceParser(depth=2, base_channels=4, max_channels=8)
    parser.save_pretrained(tmp_path / "parser")
    with pytest.raises(ValueError, match="describes a 'UNetFaceParser', not a ExpressionClassifier"):
        ExpressionClassifier.from_pretrained(tmp_path / "parser")
    parser.save_pretrained(tmp_path / "pickled", safe_serialization=False)
    marker = tmp_path / "executed"
    torch.save(_Exploit(marker), tmp_path / "pickled" / "diffusion_pytorch_model.bin")
    with pytest.raises(OSError, match=r"no file named diffusion_pytorch_model\.safetensors"):
        UNetFaceParser.from_pretrained(tmp_path / "pickled")
    with pytest.raises(ValueError, match="safetensors weights only"):
        UNetFaceParser.from_pretrained(tmp_path / "pickled", use_safetensors=False)
    assert not marker.exists()


def test_pipeline_naming_a_foreign_component_class_is_refused(tiny_pipeline_dir, tmp_path):
    import shutil

    from hf_segan.pipeline import SeganPipeline

    folder = tmp_path / "pipeline"
    shutil.copytree(tiny_pipeline_dir, folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["editor"] = ["diffusers", "UNet2DModel"]
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match=r"names \['diffusers', 'UNet2DModel'\] as the editor; a SeganPipeline takes"):
        SeganPipeline.from_pretrained(folder)
