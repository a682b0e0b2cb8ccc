"""Helpers shared by the Hydra entry points (``python -m data_prep|train|launch``)."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from openpretrain.errors import ConfigError, UserError

F = TypeVar("F", bound=Callable[..., Any])

# Hydra resolves config_path relative to the calling module; every package sits one level below.
CONFIG_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf")


def report_user_errors(fn: F) -> F:
    """Turn ``UserError`` into one ``error: ...`` line on stderr and exit code 2.

    Hydra prints its own short message for unknown keys and invalid enum values; this covers the
    checks our code does after composition (missing paths, ranges, inconsistent sizes).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (UserError, OmegaConfBaseException) as exc:
            # OmegaConf messages span several lines (key, type, ...); keep them but drop the traceback.
            print(f"error: {exc}".strip(), file=sys.stderr, flush=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def to_object(cfg: DictConfig) -> Any:
    """Convert a composed config into its structured-config dataclass instance.

    Hydra refuses ``max_stepz=3`` but suggests ``+max_stepz=3``, which it accepts, and OmegaConf then
    hangs the stray key on the dataclass as a plain attribute that nothing reads. Refuse it here.
    """
    obj = OmegaConf.to_object(cfg)
    _refuse_undeclared_keys(cfg, obj, "")
    return obj


def _refuse_undeclared_keys(node: Any, obj: Any, prefix: str) -> None:
    if isinstance(obj, list) and isinstance(node, ListConfig):
        for index, (item_node, item) in enumerate(zip(node, obj, strict=False)):
            _refuse_undeclared_keys(item_node, item, f"{prefix}[{index}]")
        return
    if not (dataclasses.is_dataclass(obj) and isinstance(node, DictConfig)):
        return  # plain dicts (e.g. launch.env) take any key by design
    declared = {f.name for f in dataclasses.fields(obj)}
    for key in node:
        full_key = f"{prefix}{key}"
        if key not in declared:
            close = difflib.get_close_matches(str(key), declared, n=1)
            hint = f"did you mean '{prefix}{close[0]}'?" if close else f"{type(obj).__name__} has no such field"
            raise ConfigError(full_key, f"unknown key ({hint})")
        _refuse_undeclared_keys(node._get_node(key), getattr(obj, key), f"{full_key}.")


def resolved_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)
