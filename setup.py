"""Package layout (everything else is in pyproject.toml).

conf/ stays at the repository root, where users edit it, and installs as the package resource
``openpretrain/conf`` of a wheel, so ``python -m data_prep`` finds it from any directory
(openpretrain.cli resolves it). A mapped package cannot be expressed with pyproject's package discovery.
"""

from setuptools import find_namespace_packages, setup

CODE = ["openpretrain", "data_prep", "train", "launch"]
CONF = ["openpretrain.conf", *(f"openpretrain.conf.{group}" for group in find_namespace_packages(where="conf"))]

setup(
    packages=[*find_namespace_packages(include=[f"{name}*" for name in CODE]), *CONF],
    package_dir={"openpretrain.conf": "conf"},
    package_data={**{package: ["*.yaml"] for package in CONF}, "launch": ["templates/*"],
                  # LDNOOBW word lists, CC BY 4.0 (see the folder's ATTRIBUTION.md)
                  "data_prep.stages.filters.ldnoobw": ["*"]},
)
