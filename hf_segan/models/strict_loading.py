"""Loading rules every model of the package follows: safetensors only, and no config key the model does not take.

diffusers' ``ConfigMixin`` ignores unknown config keys with a log line.
A misspelt key (``local_window`` for ``local_windows``) would otherwise load a model built with the default for
that option, which edits differently from the model that was saved. The accepted keys come from each class's
``__init__`` signature, so a new option or a new model needs no list here: a model class inherits
:class:`StrictLoadingMixin` before ``ModelMixin``/``ConfigMixin``. ``from_pretrained`` reads safetensors weights
only (a ``.bin`` is a pickle, and unpickling can run code). An option a class no longer takes
(``retired_config_values``) loads only at the value the class now always uses, so an older folder that recorded it
still loads, and one that set it otherwise is refused rather than rebuilt differently.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any, ClassVar


def accepted_config_keys(cls: type) -> list[str]:
    """The constructor arguments of ``cls`` that a config may set."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    ignored = set(getattr(cls, "ignore_for_config", ()))
    return [
        p.name
        for p in parameters
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in ignored
    ]


def drop_retired_keys(cls: type, config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without the keys ``cls`` no longer takes (its ``retired_config_values``: key -> the saved values
    that mean what the model now always does, that behaviour's first). A retired key at such a value describes the
    model this version builds, so it is dropped; at any other value the saved model cannot be rebuilt, and a
    one-line ValueError names the key."""
    retired = getattr(cls, "retired_config_values", {})
    for key in sorted(retired.keys() & config.keys()):
        if config[key] not in retired[key]:
            raise ValueError(
                f"{cls.__name__} config key {key!r} is {config[key]!r}, but this version of hf_segan always uses "
                f"{retired[key][0]!r} and no longer takes the option; a model saved with another value cannot be "
                "loaded."
            )
    return {key: value for key, value in config.items() if key not in retired}


def check_config_keys(cls: type, config: dict[str, Any]) -> None:
    """Raise a one-line ValueError when ``config`` names another class or holds a key ``cls`` does not take.

    Keys starting with ``_`` are diffusers' bookkeeping (``_class_name``, ``_diffusers_version``, ...)."""
    class_name = config.get("_class_name", cls.__name__)
    if class_name != cls.__name__:
        raise ValueError(f"The config describes a {class_name!r}, not a {cls.__name__}; load it with its own class.")
    accepted = accepted_config_keys(cls)
    unknown = [key for key in config if not key.startswith("_") and key not in accepted]
    if unknown:
        close = difflib.get_close_matches(unknown[0], accepted, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"Unknown {cls.__name__} config key(s) {', '.join(map(repr, unknown))}{hint}; accepted keys are: "
            f"{', '.join(accepted)}."
        )


class StrictLoadingMixin:
    """Checks every config a model is built from (``from_config``, ``from_pretrained``) with
    :func:`drop_retired_keys` and :func:`check_config_keys` before diffusers reads it; ``from_pretrained`` loads
    safetensors only. A class that retired options lists them in ``retired_config_values`` (key -> the saved values
    that mean its fixed behaviour)."""

    retired_config_values: ClassVar[dict[str, tuple[Any, ...]]] = {}

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, **kwargs: Any):
        if kwargs.get("use_safetensors") is False:
            raise ValueError(f"{cls.__name__} loads safetensors weights only (pickle files can run code).")
        kwargs["use_safetensors"] = True
        return super().from_pretrained(pretrained_model_name_or_path, **kwargs)

    @classmethod
    def extract_init_dict(cls, config_dict: dict[str, Any], **kwargs: Any):
        config_dict = drop_retired_keys(cls, config_dict)
        check_config_keys(cls, config_dict)
        return super().extract_init_dict(config_dict, **kwargs)
