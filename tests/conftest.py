"""Shared fixtures: the repository root and configurations built from config.yaml."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from glassdyn import config as gcfg

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def paper_config() -> dict:
    return gcfg.load(ROOT / "config.yaml")


@pytest.fixture(scope="session")
def laptop_config() -> dict:
    return gcfg.load(ROOT / "config.yaml", ROOT / "config" / "laptop.yaml")


@pytest.fixture
def cfg(paper_config) -> dict:
    """A mutable deep copy of the paper configuration."""
    return copy.deepcopy(paper_config)


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
