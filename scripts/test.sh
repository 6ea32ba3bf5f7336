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
echo "== pytest"
# Each test has its own ceiling (tests/conftest.py); this one bounds the whole run below
# CI's 90 minutes, and SIGINT makes pytest print its summary and where it stopped
# (--foreground keeps Ctrl-C working in a terminal).
exec timeout --foreground --signal=INT --kill-after=60 80m python3 -m pytest -q -p no:cacheprovider "$@"
