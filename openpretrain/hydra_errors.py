"""One line for every error Hydra raises while composing a config from the command line.

Hydra reports an unknown group option, an unknown key or a value of the wrong type in 5-10 lines (the
config search path, "To append to your config use +key=...") and exits 1. Our own checks print one
``error:`` line and exit 2; these helpers give Hydra's errors the same shape, with the valid choices or
the nearest key.
"""

from __future__ import annotations

import dataclasses
import difflib
import re

from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)


def _did_you_mean(word: str, candidates: list[str], prefix: str = "") -> str:
    """`` (did you mean 'x'?)`` for the nearest candidate (a typo, or a key cut short), else ''."""
    close = difflib.get_close_matches(word, candidates, n=1) or sorted(c for c in candidates if c.startswith(word))
    return f" (did you mean '{prefix}{close[0]}'?)" if close and word else ""


def _override_of(key: str, overrides: list[str]) -> str:
    """The override the user typed for ``key`` (with its value), or the key alone."""
    for text in overrides:
        name = text.lstrip("+~").split("=", 1)[0].split("@", 1)[0]
        if name == key:
            return text
    return key


def _missing_option(exc: MissingConfigException, overrides: list[str]) -> str:
    missing = exc.missing_cfg_file or ""
    group, _, option = missing.rpartition("/")
    choices = sorted(exc.options or [])
    if not group or not choices:  # the primary config itself (--config-name) or an empty group
        return f"no config '{missing}' in conf/"
    shown = _override_of(group.replace("/", "."), overrides)
    if "=" not in shown:
        shown = f"{group}={option}"
    return f"{shown}: no such option in conf/{group}/; choose one of: {', '.join(choices)}{_did_you_mean(option, choices)}"


def _declared_keys(cause: OmegaConfBaseException) -> list[str]:
    object_type = getattr(cause, "object_type", None)
    if object_type is not None and dataclasses.is_dataclass(object_type):
        return [field.name for field in dataclasses.fields(object_type)]
    return []


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "msg", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


# Hydra's words for ``group=option`` when the primary config has no such group in its defaults list.
_NO_SUCH_GROUP = re.compile(r"Could not (?:override|delete) '([^']+)'\. No match in the defaults list")


def _no_such_group(key: str, overrides: list[str], config_name: str, keys: list[str]) -> str:
    """``model=huge`` on a command whose config has no ``model`` group: name its keys instead of Hydra's hint."""
    where = f"conf/{config_name}.yaml" if config_name else "this command's config"
    shown = _override_of(key, overrides)
    if not keys:
        return f"{shown}: '{key}' is not a config group or key of {where}"
    return (f"{shown}: '{key}' is not a config group or key of {where}; choose keys from: "
            f"{', '.join(sorted(keys))}{_did_you_mean(key, keys)}")


def _composition_error(exc: HydraException, overrides: list[str], config_name: str, keys: list[str]) -> str:
    cause = exc.__cause__
    if not isinstance(cause, OmegaConfBaseException):
        group = _NO_SUCH_GROUP.match(_first_line(exc))
        if group:
            return _no_such_group(group.group(1), overrides, config_name, keys)
        return " ".join(_first_line(exc).split())
    full_key = str(getattr(cause, "full_key", "") or "")
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and full_key:
        prefix, _, leaf = full_key.rpartition(".")
        declared = _declared_keys(cause)
        hint = _did_you_mean(leaf, declared, f"{prefix}." if prefix else "")
        if not hint and declared:
            hint = f" (keys{' under ' + prefix if prefix else ''}: {', '.join(sorted(declared))})"
        return f"{full_key}: unknown key{hint}"
    shown = _override_of(full_key, overrides) if full_key else "override"
    return f"{shown}: {_first_line(cause)}"


def hydra_error_line(exc: Exception, overrides: list[str], config_name: str = "",
                     keys: list[str] | None = None) -> str:
    """The one-line message (without ``error:``) for an exception from Hydra's compose step.

    ``config_name`` and its top-level ``keys`` name what the command does accept when an override
    names a config group that its config does not have.
    """
    if isinstance(exc, MissingConfigException):
        return _missing_option(exc, overrides)
    if isinstance(exc, (ConfigCompositionException, HydraException)):
        return _composition_error(exc, overrides, config_name, keys or [])
    if isinstance(exc, MissingMandatoryValue) and getattr(exc, "full_key", None):
        return f"'{exc.full_key}' must be set: add {exc.full_key}=... to the command"
    if isinstance(exc, OmegaConfBaseException):
        key = getattr(exc, "full_key", None)
        return f"{key}: {_first_line(exc)}" if key else _first_line(exc)
    return " ".join(str(exc).split())
