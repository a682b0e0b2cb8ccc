"""Job overrides (everything after ``--``): carried verbatim into the launch config, swept by Hydra.

``python -m launch [launch overrides] -- [train or data_prep overrides]``. The job overrides become the
single launch key ``overrides`` (a list of strings). With ``-m``, sweep syntax inside them
(``optim.lr=1e-3,3e-3``) is expanded here into one list per combination, and Hydra sweeps over those
lists; so the basic launcher and hydra-submitit-launcher both see an ordinary launch override.
"""

from __future__ import annotations

import itertools
import re

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Quote, QuotedString
from hydra.errors import HydraException

from openpretrain.errors import UserError

SEPARATOR = "--"
MULTIRUN_FLAGS = ("-m", "--multirun")
_INTERPOLATION = re.compile(r"(\\*)\$\{")


def split_argv(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """Split ``argv`` at the first ``--``: (launch arguments, job overrides or None without ``--``)."""
    if SEPARATOR not in argv:
        return list(argv), None
    cut = argv.index(SEPARATOR)
    return argv[:cut], argv[cut + 1:]


def is_multirun(launch_args: list[str]) -> bool:
    return any(arg in MULTIRUN_FLAGS for arg in launch_args)


def _parse(text: str) -> Override:
    try:
        return OverridesParser.create().parse_override(text)
    except HydraException as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot parse override {text!r}: {first_line}") from None


def _alternatives(text: str, multirun: bool) -> list[str]:
    """The override itself, or one ``key=value`` per value of a sweep (``a=1,2`` -> ``a=1``, ``a=2``)."""
    override = _parse(text)
    if not override.is_sweep_override():
        return [text]  # verbatim: what the user typed is what the job gets
    if not multirun:
        raise UserError(f"override {text!r} is a sweep; add -m (before --) to run one job per value")
    if not override.is_discrete_sweep():
        raise UserError(f"override {text!r}: only value lists, range() and glob() sweeps are supported")
    key = override.get_key_element()
    return [f"{key}={value}" for value in override.sweep_string_iterator()]


def expand(overrides: list[str], multirun: bool) -> list[list[str]]:
    """All combinations of the job overrides' sweeps, in order (one combination without sweeps)."""
    return [list(combo) for combo in itertools.product(*(_alternatives(o, multirun) for o in overrides))]


def _escape_interpolation(text: str) -> str:
    # OmegaConf would resolve ${...} inside the launch config; the job must receive it untouched.
    return _INTERPOLATION.sub(lambda m: m.group(1) * 2 + "\\${", text)


def _list_literal(items: list[str]) -> str:
    quoted = (QuotedString(text=_escape_interpolation(item), quote=Quote.single).with_quotes() for item in items)
    return "[" + ",".join(quoted) + "]"


def launch_override(combinations: list[list[str]]) -> str:
    """The launch override carrying the job overrides: ``overrides=[...]`` or a sweep ``[...],[...]``."""
    return "overrides=" + ",".join(_list_literal(combo) for combo in combinations)


def job_from_launch_args(launch_args: list[str]) -> str:
    """The ``job=`` value among the launch overrides (``train`` unless given), without composing."""
    job = "train"
    for arg in launch_args:
        if arg.startswith("-") or "=" not in arg:
            continue
        override = _parse(arg)
        if override.key_or_group == "job" and not override.is_sweep_override():
            job = str(override.value())
    return job


def key_of(text: str) -> str:
    """The config key an override sets (``+a.b=1`` -> ``a.b``)."""
    return _parse(text).key_or_group


def _value_text(value: str) -> str:
    """``value`` as override text: bare when Hydra reads it back unchanged, quoted otherwise."""
    try:
        plain = OverridesParser.create().parse_override(f"k={value}")
        if not plain.is_sweep_override() and plain.value() == value and "${" not in value:
            return value
    except HydraException:
        pass
    return _list_literal([value])[1:-1]


def set_value(overrides: list[str], key: str, value: str) -> list[str]:
    """Overrides without any ``key=...``, followed by ``key=value``."""
    return [o for o in overrides if key_of(o) != key] + [f"{key}={_value_text(value)}"]
