#!/usr/bin/env bash
# Starts PostgreSQL and MariaDB if they are down and waits until both accept
# connections. Under CI a service that does not come up is an error; elsewhere it is a
# loud warning (the database suites then skip, and say so).
set -uo pipefail

wait_for() { # name, probe command…
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then echo "services: $name is up"; return 0; fi
    sleep 1
  done
  echo "services: $name did not come up within 60 s" >&2
  return 1
}

if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1 && [ -x /usr/sbin/mariadbd ]; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi

status=0
wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432 || status=1
wait_for MariaDB mariadb-admin -h 127.0.0.1 -uroot ping || status=1
if [ "$status" -ne 0 ] && [ "${CI:-}" = "true" ]; then
  exit 1
fi
exit 0
