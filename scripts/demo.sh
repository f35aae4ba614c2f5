#!/usr/bin/env bash
# Install glassdyn and run the default (laptop-scale) campaign to its report.
#   bash scripts/demo.sh            # all cores of this machine
#   CORES=2 bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
CORES=${CORES:-$(nproc)}
snakemake --cores "$CORES" --configfile config/laptop.yaml
snakemake --cores 1 --configfile config/laptop.yaml --report results/report.html
echo
echo "Done. Report: results/report.html   Tables and figures: results/report/"
