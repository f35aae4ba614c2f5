"""The two ways a configuration can be wrong: a bad value, or an unreadable file."""
from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range; ``key`` names it."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"config key '{key}': {message}")


class ConfigFileError(ValueError):
    """A configuration file cannot be read as YAML: the message names file and line."""
