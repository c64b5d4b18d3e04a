#!/usr/bin/env bash
# The project's test command (README "Set up"): unit, snapshot, property, UI (trybuild),
# integration and doc tests of the whole workspace, then one summary line across every
# test binary: passed / failed / skipped. A test that cannot run (no server, no corpus)
# prints a SKIPPED line and is counted here as skipped, not passed; under CI=true it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DATAFLOW_SKIP_LOG="$work/skipped"
: >"$DATAFLOW_SKIP_LOG"

# The TLS suites' private servers (a PostgreSQL and a MariaDB that refuse plain
# connections); their addresses and test CA reach the tests through the environment.
if tls=$(bash scripts/tls-servers.sh start 2>"$work/tls.err"); then
  while IFS= read -r line; do
    case $line in DATAFLOW_*=*) export "${line?}" ;; esac
  done <<<"$tls"
else
  echo "test: the TLS test servers did not start; the TLS tests will skip:" >&2
  cat "$work/tls.err" >&2
fi

status=0
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$work/output" || status=$?

# libtest prints "test result: ok. 12 passed; 0 failed; 1 ignored; …" per binary.
read -r binaries passed failed ignored < <(
  sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' \
    "$work/output" | awk '{ n++; p += $1; f += $2; i += $3 } END { print n + 0, p + 0, f + 0, i + 0 }'
)
skipped=$(wc -l <"$DATAFLOW_SKIP_LOG")
echo
if [ "$skipped" -gt 0 ]; then
  echo "Skipped tests (they returned early and libtest counted them as passed):"
  sed 's/^/  /' "$DATAFLOW_SKIP_LOG"
fi
echo "tests: $((passed - skipped)) passed, $failed failed, $skipped skipped, $ignored ignored — $binaries test binaries"
if [ "$status" -eq 0 ] && [ "$binaries" -eq 0 ]; then
  echo "tests: no test binary reported a result" >&2
  status=1
fi
exit "$status"
