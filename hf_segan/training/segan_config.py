"""The joint model's training config: which parser, editor and critic, which losses with which weights, which data.

``training/train_segan.py`` reads it from YAML plus ``--key value`` overrides (:func:`~.config.parse_config`);
:class:`~.segan_trainer.SeganTrainer` builds the models and update rules from it.
"""

from __future__ import annotations

import dataclasses

from ..losses import ADVERSARIAL_LOSSES, RECONSTRUCTION_DISTANCES
from ..models.bisenet import BiSeNetFaceParser
from ..models.editor import RETIRED_OPTIONS, editor_arguments
from ..models.unet import UNetFaceParser
from .config import DataConfig, OptimConfig, RunConfig, TrainingDataConfig, option

PARSERS = {"bisenet": BiSeNetFaceParser, "unet": UNetFaceParser}
REGION_SOURCES = ("semantic", "box", "none")
#: Optional columns that set the editor's targets and conditions (see ``add_conditions``).
CONDITION_COLUMNS = ("target_expression", "intensity", "target_intensity")


@dataclasses.dataclass
class SeganModelConfig:
    parser_type: str = option("bisenet", choices=tuple(PARSERS), help="parser architecture")
    parser: dict = dataclasses.field(default_factory=dict, metadata={"help": "constructor arguments of the parser"})
    pretrained_parser: str | None = option(None, help="from_pretrained path of a parser to start from")
    editor: dict = dataclasses.field(
        default_factory=dict,
        metadata={
            "help": "constructor arguments of HierarchicalExpressionGenerator (not region_source); `preset: NAME` "
            "starts from a named design (EDITOR_PRESETS: paper, synthfaces) that the other keys override"
        },
    )
    discriminator: dict = dataclasses.field(
        default_factory=dict, metadata={"help": "constructor arguments of ExpressionDiscriminator"}
    )


@dataclasses.dataclass
class SeganLossConfig:
    adversarial: str = option("wgan-gp", choices=ADVERSARIAL_LOSSES, help="adversarial objective")
    n_critic: int = option(5, ge=1, help="critic steps per generator step")
    lambda_gp: float = option(10.0, ge=0.0, help="WGAN-GP gradient penalty (wgan-gp only)")
    lambda_cls: float = option(1.0, ge=0.0, help="expression classification (critic: real; editor: edit)")
    lambda_cycle: float = option(10.0, ge=0.0, help="L1 of edit-then-edit-back to the input")
    lambda_attention: float = option(0.1, ge=0.0, help="mean of 1 - attention: how much the edit changes")
    lambda_tv: float = option(1.0, ge=0.0, help="total variation of the attention mask")
    lambda_local: float = option(1.0, ge=0.0, help="local (per region) critics' adversarial losses")
    lambda_parsing: float = option(1.0, ge=0.0, help="supervised parsing loss of the parser")
    lambda_paired: float = option(
        0.0, ge=0.0, help="distance to the true target image (SynthFaces pairs): a development aid, 0 in the paper"
    )
    paired_scales: int = option(1, ge=1, help="paired loss summed over this many resolutions (halving each time)")
    paired_distance: str = option(
        "l1", choices=RECONSTRUCTION_DISTANCES, help="paired loss per pixel: absolute (l1) or squared (l2) error"
    )
    parser_aux_weight: float = option(1.0, ge=0.0, help="weight of the parser's auxiliary heads")
    joint_gradient_scale: float = option(
        1.0, ge=0.0, help="joint mode: factor on the editor losses' gradient reaching the parser through its masks"
    )


@dataclasses.dataclass
class SeganTrainingConfig(RunConfig):
    region_source: str = option("semantic", choices=REGION_SOURCES, help="where the editor's region masks come from")
    train_parser_jointly: bool = option(True, help="semantic: editor losses also reach the parser")
    freeze_parser: bool = option(False, help="never update the parser")
    separate_parsing_data: bool = option(False, help="supervise the parser on `parsing_data` instead of `data`")
    ema_decay: float = option(0.999, ge=0.0, le=1.0, help="EMA of the editor used for samples and the pipeline")
    sample_count: int = option(4, ge=1, help="faces in the logged image grids")
    model: SeganModelConfig = dataclasses.field(default_factory=SeganModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    parsing_data: TrainingDataConfig = dataclasses.field(default_factory=TrainingDataConfig)
    optim_editor: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    optim_critic: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    optim_parser: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    loss: SeganLossConfig = dataclasses.field(default_factory=SeganLossConfig)

    def check(self) -> None:
        super().check()
        if "region_source" in self.model.editor:
            raise ValueError("Set the top-level `region_source`, not `model.editor.region_source`.")
        arguments = editor_arguments(self.model.editor)  # an unknown preset name fails here, before any work
        retired = sorted(RETIRED_OPTIONS.keys() & arguments.keys())
        if retired:
            raise ValueError(
                f"`model.editor.{retired[0]}` is no longer an option: the editor always uses "
                f"{RETIRED_OPTIONS[retired[0]][0]!r}; remove the key."
            )

    @property
    def parser_trainable(self) -> bool:
        return not self.freeze_parser

    @property
    def joint(self) -> bool:
        """Do the editor's losses reach the parser? Only through soft semantic masks of a trainable parser."""
        return self.parser_trainable and self.train_parser_jointly and self.region_source == "semantic"


def required_columns(config: SeganTrainingConfig) -> list[str]:
    """The training columns a run of ``config`` cannot do without, checked before any work: parsing masks only
    when the parser is supervised on the same data, target images only when the paired loss counts."""
    columns = ["image", "expression"]
    if config.parser_trainable and not config.separate_parsing_data:
        columns.append("mask")
    if config.loss.lambda_paired > 0:
        columns += ["target_expression", "target_image"]
    return columns
