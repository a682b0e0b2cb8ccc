"""Shared core of openpretrain: the contracts between data_prep, train and launch.

Kept deliberately small: only what more than one package needs (the manifest format, the
user-facing error type and the Hydra entry-point helper) lives here.
"""

__version__ = "0.1.0"
