#!/usr/bin/env bash
# The PostgreSQL version matrix: the PostgreSQL test binary (convergence, rollback,
# online recipes, migrator, CLI, introspection, hostile input, privileges, random
# evolutions, version differences, the sqldef corpus against its per-version floor)
# against each supported major version besides the system server's 15, each on a private
# cluster from scripts/pg-versions.sh. Left out here, run on 15 by scripts/test.sh: the
# process-level fault suites (Ctrl-C, SIGKILL, replicas, connection faults,
# cancellation), which test dataflow's own process and session handling, not the catalog,
# and TLS (its private server is a 15: scripts/tls-servers.sh).
# Prints one line per version and a Markdown table; fails if any version fails or skips.
#
#   scripts/pg-matrix.sh [MAJORS...]     # default "13 14 16 17 18"
set -euo pipefail
cd "$(dirname "$0")/.."
majors=${*:-13 14 16 17 18}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "pg-matrix: starting PostgreSQL $majors"
bash scripts/pg-versions.sh start "${DATAFLOW_PG_DIR:-${TMPDIR:-/tmp}/dataflow-pgversions}" $majors >"$work/servers"
cargo test --test postgres --no-run --quiet

status=0
table="| server | tests passed / failed / skipped | corpus in-scope passed / total | time |"$'\n'"|---|---|---|---|"
while read -r major port url; do
  server=$(psql -X -At -d "$url" -c "SHOW server_version")
  log="$work/pg$major.log"
  export DATAFLOW_SKIP_LOG="$work/skipped$major"
  : >"$DATAFLOW_SKIP_LOG"
  started=$(date +%s)
  touch "$log.started"
  echo "pg-matrix: PostgreSQL $server ($url)"
  if ! DATAFLOW_TEST_POSTGRES=$url cargo test --quiet --test postgres -- --test-threads 2 \
    --skip postgres::interrupt --skip postgres::kill_anywhere --skip postgres::replicas \
    --skip postgres::connection_faults --skip postgres::cancellation --skip postgres::tls \
    >"$log" 2>&1; then
    status=1
    sed -n '/^failures:$/,$p' "$log" | grep -v '^ *[0-9]*: \|^ *at ' | head -120 || true
  fi
  seconds=$(($(date +%s) - started))
  read -r passed failed < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$log" | tail -1)
  skipped=$(wc -l <"$DATAFLOW_SKIP_LOG")
  report="target/corpus-postgres-$major.json"
  corpus=$([ "$report" -nt "$log.started" ] && python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["in_scope_passed"], "/", r["in_scope_total"])' "$report" || true)
  [ "${skipped:-0}" -gt 0 ] && status=1
  passed=$((${passed:-0} - skipped))
  echo "pg-matrix: PostgreSQL $server: ${passed:-0} passed, ${failed:-?} failed, $skipped skipped; corpus ${corpus:-not run}; ${seconds} s"
  table+=$'\n'"| $server | ${passed:-0} / ${failed:-?} / $skipped | ${corpus:-not run} | ${seconds} s |"
done <"$work/servers"
echo
echo "$table"
exit "$status"
