"""Campaign configuration: loading, validation at the edge, derived quantities, step slices.

- :mod:`~glassdyn.config.loading`: the packaged defaults with override files
  merged over them, validated against ``schemas/`` and
  :mod:`~glassdyn.config.checks`.
- :mod:`~glassdyn.config.derived`: temperature keys, box, splits, seeds.
- :mod:`~glassdyn.config.slices`: the part of a configuration one step reads
  (its rerun trigger).

Everything else in glassdyn reads plain dictionaries that have passed
:func:`validate` (or a slice of one).
"""
from glassdyn.config.derived import (
    box_length,
    derive_seed,
    file_number,
    n_a,
    sampling_steps,
    source_box_length,
    source_settings,
    split_train_validation,
    temperature,
    temperature_key,
    temperature_keys,
    test_indices,
    time_files,
    time_indices,
    train_indices,
    validation_count,
)
from glassdyn.config.errors import ConfigError, ConfigFileError
from glassdyn.config.loading import DEFAULTS, deep_merge, load, read_yaml, schema, validate

__all__ = [
    "ConfigError", "ConfigFileError", "DEFAULTS", "box_length", "deep_merge", "derive_seed", "file_number",
    "load", "n_a", "read_yaml", "sampling_steps", "schema", "source_box_length", "source_settings",
    "split_train_validation", "temperature", "temperature_key", "temperature_keys", "test_indices",
    "time_files", "time_indices", "train_indices", "validate", "validation_count",
]
