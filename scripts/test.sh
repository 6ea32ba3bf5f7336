#!/usr/bin/env bash
# Set up what the tests need (Docker engine, base image, the package) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"
ruff check fgform tests bench
echo "== pytest"
exec python3 -m pytest -q -p no:cacheprovider "$@"
