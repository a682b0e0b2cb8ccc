"""Helpers shared by the Hydra entry points (``python -m data_prep|train|launch``, train.export, ...)."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib.resources
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import hydra
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from openpretrain.errors import ConfigError, UserError
from openpretrain.hydra_errors import hydra_error_line

F = TypeVar("F", bound=Callable[..., Any])


def _config_dir() -> str:
    """conf/ of this installation: inside the package of a wheel, else the checkout's conf/.

    A wheel ships the repository's conf/ as the package resource ``openpretrain/conf`` (setup.py maps
    it); a checkout (editable install or PYTHONPATH) has no such folder and uses conf/ at its root,
    where users edit it.
    """
    shipped = importlib.resources.files("openpretrain") / "conf"
    if shipped.is_dir():
        return str(shipped)
    return str(Path(__file__).resolve().parents[1] / "conf")


CONFIG_PATH = _config_dir()


def report_user_errors(fn: F) -> F:
    """Turn ``UserError`` into one ``error: ...`` line on stderr and exit code 2.

    This covers the checks our code does after composition (missing paths, ranges, inconsistent
    sizes); ``hydra_entry`` covers the errors Hydra finds while composing.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            fail(str(exc))
        except OmegaConfBaseException as exc:  # its messages span several lines (key, type, ...)
            fail(hydra_error_line(exc, []))

    return wrapper  # type: ignore[return-value]


def fail(message: str) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit 2."""
    print("error: " + " ".join(message.split()), file=sys.stderr, flush=True)
    sys.exit(2)


def _sweep_samples(overrides: list[str]) -> list[list[str]]:
    """Override lists that together try every value of every discrete sweep once (``a=1,2`` -> 2 lists).

    Keys and types are checked per value, so the product of the sweeps is not needed.
    """
    parser = OverridesParser.create()
    choices: list[list[str]] = []
    for text in overrides:
        override = parser.parse_override(text)
        if not override.is_sweep_override():
            choices.append([text])
        elif override.is_discrete_sweep():
            key = override.get_key_element()
            choices.append([f"{key}={value}" for value in override.sweep_string_iterator()])
        # interval() sweeps are left to Hydra's sweeper
    longest = max((len(values) for values in choices), default=1)
    return [[values[min(i, len(values) - 1)] for values in choices] for i in range(longest)]


def check_composition(config_name: str, argv: list[str]) -> None:
    """Compose ``config_name`` with the overrides in ``argv`` as Hydra will; fail in one line if it can't."""
    from hydra._internal.utils import get_args_parser  # Hydra's own command-line grammar

    args, _ = get_args_parser().parse_known_args(argv)
    if args.config_dir or args.config_path or args.shell_completion:
        return  # another search path, or tab completion: leave them to Hydra
    overrides = list(args.overrides)
    config_name = args.config_name or config_name
    try:
        for sample in _sweep_samples(overrides) if args.multirun else [overrides]:
            overrides = sample
            _compose(config_name, sample)
    except (HydraException, OmegaConfBaseException) as exc:
        fail(hydra_error_line(exc, overrides, config_name, _top_level_keys(config_name)))


def _compose(config_name: str, overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides)


def _top_level_keys(config_name: str) -> list[str]:
    """The keys the config takes without overrides (for the error line); none if it does not compose."""
    try:
        return [str(key) for key in _compose(config_name, [])]
    except (HydraException, OmegaConfBaseException):
        return []


def hydra_entry(config_name: str) -> Callable[[Callable[[DictConfig], Any]], Callable[[], None]]:
    """``@hydra.main`` on conf/<config_name>.yaml, with every error as one ``error:`` line and exit 2.

    The overrides are composed once before Hydra runs, so that Hydra's own errors (unknown group
    option, unknown key, wrong type) are reported like ours, with the choices or the nearest key.
    """

    def decorate(task: Callable[[DictConfig], Any]) -> Callable[[], None]:
        hydra_task = hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name=config_name)(
            report_user_errors(task))

        @functools.wraps(task)
        def entry() -> None:
            check_composition(config_name, sys.argv[1:])
            hydra_task()

        return entry

    return decorate


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


def emit_json_line(result: dict[str, Any], out: str | None) -> None:
    """Print ``result`` as one JSON line (what scripts parse) and, when ``out`` is set, also write it there."""
    line = json.dumps(result)
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(line + "\n")
    print(line, flush=True)
