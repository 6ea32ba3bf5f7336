#!/usr/bin/env bash
# Set up what the tests need (Docker engine, base image, the package) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# Setup's log goes to a file and only its last line to the terminal (all of it when it
# fails): CI shows the head of the output, which should be the tests.
setup_log="$(mktemp /tmp/fgform-setup.XXXXXX.log)"
if ! bash scripts/setup.sh >"$setup_log" 2>&1; then
    cat "$setup_log"
    exit 1
fi
tail -n 1 "$setup_log"
echo "== ruff"
ruff check fgform tests bench
echo "== import contracts"
# The layers, no docker outside fleet/docker, no import cycles (.importlinter): one line
# when they hold (CI shows the head of the output), the whole report when one breaks.
if ! contracts="$(lint-imports --no-cache --no-logo 2>&1)"; then
    echo "$contracts"
    exit 1
fi
echo "$contracts" | tail -n 1
# Each test has its own ceiling (tests/conftest.py); `timeout` bounds a whole run below CI's
# 90 minutes, and SIGINT makes pytest print its summary and where it stopped (--foreground
# keeps Ctrl-C working in a terminal).
pytest_run() {
    timeout --foreground --signal=INT --kill-after=60 "$1" python3 -m pytest -q \
        -p no:cacheprovider "${@:2}"
}
if (($#)); then
    echo "== pytest $*"
    pytest_run 80m "$@"
    exit
fi
# The tests that need no Docker (parsing, planning, rendering: CPU-bound) run on every core;
# the Docker tests one at a time, as their timings and the engine's objects are shared.
rc=0
echo "== pytest: the tests without Docker (pytest-xdist, every core)"
# (-p no:benchmark: pytest-benchmark, where installed, warns that xdist disables it.)
pytest_run 20m -n auto -p no:benchmark --ignore=tests/integration tests || rc=$?
echo "== pytest: the Docker tests (tests/integration)"
pytest_run 60m tests/integration || rc=$?
exit "$rc"
