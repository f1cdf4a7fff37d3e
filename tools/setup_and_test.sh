#!/usr/bin/env bash
# Fresh machine -> virtualenv with the full stack -> ruff + the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[test]"
.venv/bin/ruff check danet_tf tools tflite tests
export DANET_DATA="${DANET_DATA:-$(cd .. && pwd)/shared/data}"
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
