"""Datasets for the training scripts: loading, column and label checks, face-correct augmentation, loaders.

Data order and augmentation are pure functions of ``(seed, epoch, index)``: :class:`EpochShuffleSampler` yields
``(index, epoch)`` keys and :class:`FaceTrainingSet` derives each sample's flip from them. No global RNG is
touched, so a resumed run (``skip_first_batches`` into the same epoch) sees exactly the batches, flips included,
that an uninterrupted run would have seen, and every process sees its own disjoint share of them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import datasets
import numpy as np
import torch
from accelerate import Accelerator
from PIL import Image
from torch.utils.data import DataLoader, Sampler, default_collate

from ..constants import EXPRESSIONS, FACE_PARSING_CLASSES, flip_permutation
from ..data.loading import load_dataset_split
from ..image_utils import pil_to_tensor
from .config import DataConfig, TrainingDataConfig

#: Columns whose images are resized bilinearly / labels resized nearest, and flipped together.
IMAGE_COLUMNS = ("image", "target_image")
MASK_COLUMNS = ("mask", "target_mask")
LABEL_COLUMNS = ("expression", "target_expression")


def check_kwargs(fn: Callable, kwargs: dict[str, Any], key: str) -> None:
    """Reject keyword arguments ``fn`` does not take, naming the config ``key`` and the accepted names."""
    parameters = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown:
        accepted = [name for name in parameters if name != "self"]
        raise ValueError(f"Unknown `{key}` argument(s) {unknown}; accepted: {accepted}.")


def check_columns(dataset: datasets.Dataset, required: Sequence[str], what: str) -> None:
    """Fail early, naming the missing column(s), instead of with a KeyError deep inside the first batch."""
    missing = [column for column in required if column not in dataset.column_names]
    if missing:
        raise ValueError(f"The {what} dataset is missing required column(s) {missing}; it has {dataset.column_names}.")


def check_expression_labels(dataset: datasets.Dataset, column: str = "expression") -> None:
    """An expression ``ClassLabel`` must use exactly :data:`EXPRESSIONS`, in order, or label 3 would silently
    mean different things to the data and to the model."""
    feature = dataset.features[column]
    if isinstance(feature, datasets.ClassLabel):
        if list(feature.names) != list(EXPRESSIONS):
            raise ValueError(
                f"Column `{column}` has labels {feature.names}, but the model uses {list(EXPRESSIONS)}; "
                "convert the dataset to this label set first."
            )
    elif not (isinstance(feature, datasets.Value) and feature.dtype.startswith("int")):
        raise ValueError(f"Column `{column}` must be a ClassLabel over {list(EXPRESSIONS)}, got {feature}.")


def hflip_face(image: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mirror an image (and its parsing mask) horizontally.

    A mirrored face's left eye is the original's right eye, so the mask's left/right labels must trade places
    (``flip_permutation``); flipping pixels alone would teach the parser to call right eyes left ones.
    """
    flipped = image.flip(-1)
    if mask is None:
        return flipped, None
    permutation = torch.tensor(flip_permutation(FACE_PARSING_CLASSES), dtype=mask.dtype, device=mask.device)
    return flipped, permutation[mask.flip(-1)]


def _mask_to_tensor(mask: Image.Image, column: str) -> torch.Tensor:
    labels = torch.from_numpy(np.asarray(mask.convert("L") if mask.mode not in ("L", "P") else mask, dtype=np.int64))
    if labels.numel() and int(labels.max()) >= len(FACE_PARSING_CLASSES):
        raise ValueError(
            f"Column `{column}` holds label {int(labels.max())}, but the parser has {len(FACE_PARSING_CLASSES)} "
            "classes (0..18, CelebAMask-HQ order)."
        )
    return labels


class FaceTrainingSet(torch.utils.data.Dataset):
    """A ``datasets.Dataset`` as tensors: images in [-1, 1] at ``resolution``, masks as int64 label maps.

    Keys are ``(index, epoch)`` pairs from :class:`EpochShuffleSampler` (flips on with ``flip_probability``) or
    plain indices (no augmentation, for evaluation). Every sample also carries its ``index``.
    """

    def __init__(
        self,
        dataset: datasets.Dataset,
        columns: Sequence[str],
        resolution: int,
        flip_probability: float = 0.0,
        seed: int = 0,
    ) -> None:
        check_columns(dataset, columns, "training" if flip_probability else "evaluation")
        self.dataset = dataset.select_columns(list(columns))
        self.columns = list(columns)
        self.resolution = resolution
        self.flip_probability = flip_probability
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)

    def _flip(self, index: int, epoch: int | None) -> bool:
        if epoch is None or self.flip_probability <= 0:
            return False
        return bool(np.random.default_rng([self.seed, epoch, index]).random() < self.flip_probability)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, epoch = key if isinstance(key, tuple) else (key, None)
        row = self.dataset[int(index)]
        size = (self.resolution, self.resolution)
        sample: dict[str, Any] = {"index": int(index)}
        for column in self.columns:
            value = row[column]
            if column in IMAGE_COLUMNS:
                sample[column] = pil_to_tensor(value.convert("RGB").resize(size, Image.BILINEAR))
            elif column in MASK_COLUMNS:
                sample[column] = _mask_to_tensor(value.resize(size, Image.NEAREST), column)
            else:
                sample[column] = torch.as_tensor(value)
        if self._flip(int(index), epoch):
            for image_column, mask_column in zip(IMAGE_COLUMNS, MASK_COLUMNS, strict=True):
                if image_column in sample:
                    sample[image_column], flipped_mask = hflip_face(sample[image_column], sample.get(mask_column))
                    if flipped_mask is not None:
                        sample[mask_column] = flipped_mask
        return sample


class EpochShuffleSampler(Sampler):
    """Shuffles with a permutation that depends only on ``(seed, epoch)`` and yields ``(index, epoch)`` keys.

    Every process builds the same permutation; accelerate then hands each process its own batches of it.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        for index in torch.randperm(self.size, generator=generator).tolist():
            yield index, self.epoch


def collate_channels_last(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """``default_collate``, with every image batch (4-D floating tensor) in channels-last memory order.

    Why: the convolutions downstream compute the same numbers on NHWC activations, faster (parser and joint
    steps, docs/experiments.md). Only the inputs are converted: the layout propagates through every convolution,
    and the parameters stay in the order checkpoints store them.
    """
    batch = default_collate(samples)
    return {
        key: value.contiguous(memory_format=torch.channels_last)
        if isinstance(value, torch.Tensor) and value.dim() == 4 and value.is_floating_point()
        else value
        for key, value in batch.items()
    }


class TrainingStream:
    """An endless, exactly resumable stream of training batches for one process.

    ``start_batch`` is how many batches this process had already consumed (``step * batches_per_step``); the
    stream jumps to that epoch and skips into it with ``accelerator.skip_first_batches``. With ``channels_last``
    the batches' images come in channels-last memory order (:func:`collate_channels_last`).
    """

    def __init__(
        self,
        accelerator: Accelerator,
        dataset: FaceTrainingSet,
        batch_size: int,
        seed: int,
        channels_last: bool = False,
    ) -> None:
        if len(dataset) < batch_size * accelerator.num_processes:
            raise ValueError(
                f"The training dataset has {len(dataset)} samples, fewer than one batch per process "
                f"({batch_size} x {accelerator.num_processes}); lower `data.batch_size` or use more data."
            )
        self.accelerator = accelerator
        self.sampler = EpochShuffleSampler(len(dataset), seed)
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=self.sampler,
            drop_last=True,
            generator=torch.Generator().manual_seed(seed),
            collate_fn=collate_channels_last if channels_last else None,
        )
        self.loader = accelerator.prepare_data_loader(loader)

    def __len__(self) -> int:
        """Batches per epoch on this process."""
        return len(self.loader)

    def batches(self, start_batch: int = 0) -> Iterator[dict[str, Any]]:
        epoch, skip = divmod(start_batch, len(self.loader))
        while True:
            loader = self.accelerator.skip_first_batches(self.loader, skip) if skip else self.loader
            # accelerate's loaders own the epoch counter and hand it to the sampler when iteration starts.
            loader.set_epoch(epoch)
            yield from loader
            epoch, skip = epoch + 1, 0


def evaluation_loader(accelerator: Accelerator, dataset: FaceTrainingSet, batch_size: int) -> DataLoader:
    """An in-order loader sharded across processes; combine results with ``accelerator.gather_for_metrics``."""
    return accelerator.prepare_data_loader(DataLoader(dataset, batch_size=batch_size, shuffle=False))


def load_split(config: DataConfig | TrainingDataConfig, split: str) -> datasets.Dataset:
    """The ``split`` of the configured dataset: generated SynthFaces or anything ``datasets.load_dataset`` reads
    (a Hub name, a local folder of parquet files written by the converters, ...), through
    :func:`~hf_segan.data.loading.load_dataset_split` so a local folder always loads its current files. Any split
    other than ``config.split`` is an evaluation split, which only a :class:`DataConfig` describes
    (``eval_synthfaces``, ``max_eval_samples``)."""
    evaluating = split != config.split
    if config.dataset == "synthfaces":
        from ..data.synthfaces import load_synthfaces

        kwargs = {**config.synthfaces, **config.eval_synthfaces} if evaluating else dict(config.synthfaces)
        check_kwargs(load_synthfaces, kwargs, "data.synthfaces")
        dataset = load_synthfaces(**kwargs)
    else:
        dataset = load_dataset_split(config.dataset, split, config.dataset_config)
    if evaluating and config.max_eval_samples is not None:
        dataset = dataset.select(range(min(len(dataset), config.max_eval_samples)))
    return dataset
