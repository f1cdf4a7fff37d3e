#!/usr/bin/env bash
# Fresh machine -> .venv (tools/setup.sh) -> ruff + the whole test suite.
# Real-data tests read DANET_DATA (default ../shared/data) and skip when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
.venv/bin/ruff check danet_tf danet_tools tools tflite tests
export DANET_DATA="${DANET_DATA:-$(cd .. && pwd)/shared/data}"
# -rs: why each skipped test skipped; --durations=25: the slowest tests stay visible.
exec .venv/bin/python -m pytest -q -rs --durations=25 -p no:cacheprovider "$@"
