#!/usr/bin/env bash
# The project's test command (README "Set up"): unit, snapshot, property, UI (trybuild),
# integration and doc tests of the whole workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace "$@"
