"""Process environment fixes made before DeepSpeed is imported (TORCH_CUDA_ARCH_LIST)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import MutableMapping

log = logging.getLogger(__name__)

# PyTorch accepts architecture names as well as numbers; DeepSpeed's builder only parses "X.Y[+PTX]".
_NAMED_ARCHS = {
    "Pascal": "6.0;6.1",
    "Volta": "7.0",
    "Turing": "7.5",
    "Ampere": "8.0;8.6",
    "Ada": "8.9",
    "Hopper": "9.0",
    "Blackwell": "10.0",
}
# "9.0a" (arch-specific) and "10.0f" (family) suffixes: DeepSpeed does int("0a") and crashes.
_ARCH_ENTRY = re.compile(r"^(\d+)\.(\d+)[a-zA-Z]*$")
_PTX = "+PTX"


def _normalise_entry(entry: str) -> list[str]:
    base, ptx = (entry[: -len(_PTX)], _PTX) if entry.endswith(_PTX) else (entry, "")
    archs = _NAMED_ARCHS.get(base, base).split(";")
    fixed = []
    for arch in archs:
        match = _ARCH_ENTRY.match(arch)
        fixed.append(f"{match.group(1)}.{match.group(2)}" if match else arch)
    fixed[-1] += ptx  # "+PTX" on a name applies to its newest architecture, as in PyTorch
    return fixed


def normalise_cuda_arch_list(value: str) -> str:
    """``"8.0;9.0a+PTX"`` -> ``"8.0;9.0+PTX"``: drop arch suffixes, expand names, dedupe, ';'-join.

    Entries that still do not look like an architecture are kept as they are, so the builder's own
    error message (naming the entry) reaches the user instead of a silent change.
    """
    out: list[str] = []
    for raw in value.replace(",", ";").replace(" ", ";").split(";"):
        for arch in _normalise_entry(raw.strip()) if raw.strip() else []:
            if arch not in out:
                out.append(arch)
    return ";".join(out)


def fix_cuda_arch_list(environ: MutableMapping[str, str] | None = None) -> str | None:
    """Normalise TORCH_CUDA_ARCH_LIST in place; call before DeepSpeed builds any op. Returns the new value."""
    env = os.environ if environ is None else environ
    value = env.get("TORCH_CUDA_ARCH_LIST")
    if value is None:
        return None
    fixed = normalise_cuda_arch_list(value)
    if fixed != value:
        log.info("TORCH_CUDA_ARCH_LIST=%r rewritten to %r for DeepSpeed's op builder", value, fixed)
        env["TORCH_CUDA_ARCH_LIST"] = fixed
    return fixed
