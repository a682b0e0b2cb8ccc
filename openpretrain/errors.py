"""User-facing errors: bad input is reported in one line, never as a traceback wall."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad config value, missing file, ...).

    Entry points catch it and print ``error: <message>`` with exit code 2.
    """


class ConfigError(UserError):
    """An invalid configuration value; the message names the key and what is allowed."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config key '{key}': {message}")
        self.key = key


def require(condition: bool, key: str, message: str) -> None:
    """Raise ``ConfigError(key, message)`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(key, message)
