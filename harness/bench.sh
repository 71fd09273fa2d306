#!/usr/bin/env bash
# make bench: the end-to-end benchmark (see harness/bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 harness/bench.py "$@"
