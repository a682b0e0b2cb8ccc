"""Helpers shared by the Hydra entry points (``python -m data_prep|train|launch``)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from openpretrain.errors import UserError

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
    """Convert a composed config into its structured-config dataclass instance."""
    return OmegaConf.to_object(cfg)


def resolved_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)
