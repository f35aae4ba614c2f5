"""Where the Snakemake workflow lives (the repository checkout that holds ``Snakefile``)."""
from __future__ import annotations

import os
from pathlib import Path


def snakefile() -> Path:
    """The campaign's Snakefile: ``$GLASSDYN_WORKFLOW``, the checkout this package runs from, or ./Snakefile."""
    candidates = [os.environ.get("GLASSDYN_WORKFLOW"), Path(__file__).resolve().parents[3], Path.cwd()]
    for c in candidates:
        if c and (Path(c) / "Snakefile").is_file():
            return Path(c) / "Snakefile"
    raise FileNotFoundError("no glassdyn Snakefile found: run from the glassdyn checkout or set GLASSDYN_WORKFLOW "
                            "to its folder")
