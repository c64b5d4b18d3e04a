#!/usr/bin/env bash
# Private TLS-only database servers for the TLS tests: a test CA and a server certificate
# for localhost/127.0.0.1 made with openssl at run time (nothing committed, valid 10 days),
# PostgreSQL 15 on 127.0.0.1:5433 and MariaDB on 127.0.0.1:3307, both of which refuse
# plain TCP, so that a connection that succeeds proves TLS was used. Idempotent: the
# certificates, data directories and running servers are reused.
#
#   scripts/tls-servers.sh start [DIR]   # DIR default $TMPDIR/dataflow-tls
#   scripts/tls-servers.sh stop  [DIR]
#
# start prints DATAFLOW_TLS_* and DATAFLOW_TEST_*_TLS lines as NAME=VALUE (for eval).
# Uses the system binaries (PostgreSQL 15, mariadbd); runs the servers as `postgres` and
# `mysql` when started as root. Trust auth / passwordless root, fsync off: test servers.
set -euo pipefail
cmd=${1:-start}
dir=${2:-${TMPDIR:-/tmp}/dataflow-tls}
pgbin=/usr/lib/postgresql/15/bin
umask 022 # the server users must be able to read the certificates and traverse DIR
mkdir -p "$dir"
dir=$(cd "$dir" && pwd) certs=$dir/certs pg=$dir/pg my=$dir/mariadb # absolute paths
root=false; [ "$(id -u)" = 0 ] && root=true
run_as() { if $root; then runuser -u postgres -- "$@"; else "$@"; fi; }
# install FILE as DEST, owned by USER when root (the servers insist on owning their keys)
put() { # user mode src dest
  if $root; then install -o "$1" -g "$1" -m "$2" "$3" "$4"; else install -m "$2" "$3" "$4"; fi
}
pg_running() { [ -f "$pg/data/PG_VERSION" ] && run_as "$pgbin/pg_ctl" -D "$pg/data" status >/dev/null 2>&1; }
my_running() { [ -f "$my/my.cnf" ] && mariadb-admin --defaults-file="$my/my.cnf" ping >/dev/null 2>&1; }

stop_all() {
  if pg_running; then run_as "$pgbin/pg_ctl" -D "$pg/data" -m fast -w stop >/dev/null; fi
  # shutdown waits until the server has removed its pid file
  if my_running; then mariadb-admin --defaults-file="$my/my.cnf" shutdown; fi
}

if [ "$cmd" = stop ]; then stop_all; exit 0; fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop [DIR]" >&2; exit 2; }

# --- certificates --------------------------------------------------------------------
sign() { # name CN extensions: a key and a certificate signed by ca.key
  openssl req -new -newkey rsa:2048 -nodes -keyout "$certs/$1.key" -subj "/CN=$2" \
    -out "$certs/$1.csr" 2>/dev/null
  # x509 v3 extensions: rustls/webpki ignore the CN and want SAN and key usages.
  openssl x509 -req -in "$certs/$1.csr" -CA "$certs/ca.crt" -CAkey "$certs/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 10 -sha256 -out "$certs/$1.crt" \
    -extfile <(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n%s\n' "$3") \
    2>/dev/null
  rm -f "$certs/$1.csr"
}
make_ca() { # name CN
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$certs/$1.key" -out "$certs/$1.crt" \
    -days 10 -sha256 -subj "/CN=$2" \
    -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' \
    2>/dev/null
}
certs_ok() {
  for f in ca.crt ca.key wrong-ca.crt server.crt server.key client.crt client.key; do
    [ -s "$certs/$f" ] || return 1
  done
  # a DIR kept from an earlier session may hold certificates about to expire
  openssl x509 -checkend 86400 -noout -in "$certs/server.crt" >/dev/null
}
if ! certs_ok; then
  stop_all # running servers would go on serving the old certificates
  rm -rf "$certs" && mkdir -p "$certs"
  make_ca ca "dataflow test CA"
  make_ca wrong-ca "dataflow unrelated CA" # signs nothing: for "unknown CA" tests
  sign server localhost $'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth'
  sign client postgres 'extendedKeyUsage=clientAuth'
  chmod 600 "$certs"/*.key # libpq refuses a client key readable by others
fi

# --- PostgreSQL 15 on 127.0.0.1:5433 -----------------------------------------------------
mkdir -p "$pg"
if $root; then chown postgres "$dir" "$pg"; fi # the socket lives in DIR itself
if ! pg_running; then
  [ -f "$pg/data/PG_VERSION" ] || run_as "$pgbin/initdb" -D "$pg/data" -A trust -U postgres >/dev/null
  put postgres 600 "$certs/server.key" "$pg/server.key"
  put postgres 644 "$certs/server.crt" "$pg/server.crt"
  put postgres 644 "$certs/ca.crt" "$pg/ca.crt" # lets client-certificate tests verify
  # Plain TCP is rejected, so a connection that succeeds over TCP went through TLS.
  printf '%s\n' 'local all all trust' \
    'hostnossl all all 0.0.0.0/0 reject' 'hostnossl all all ::/0 reject' \
    'hostssl all all 127.0.0.1/32 trust' 'hostssl all all ::1/128 trust' >"$pg/pg_hba.conf"
  if $root; then chown postgres "$pg/pg_hba.conf"; fi
  run_as "$pgbin/pg_ctl" -D "$pg/data" -w -t 60 -l "$pg/log" -o "-p 5433 \
    -c listen_addresses=127.0.0.1 -k '$dir' -c fsync=off -c synchronous_commit=off \
    -c hba_file='$pg/pg_hba.conf' -c ssl=on -c ssl_cert_file='$pg/server.crt' \
    -c ssl_key_file='$pg/server.key' -c ssl_ca_file='$pg/ca.crt'" start >/dev/null ||
    { echo "tls-servers: PostgreSQL did not start; $pg/log ends with:" >&2; tail -n 20 "$pg/log" >&2; exit 1; }
fi

# --- MariaDB on 127.0.0.1:3307 -------------------------------------------------------------
mkdir -p "$my"
if $root; then chown mysql "$my"; fi
# --defaults-file alone: the system server's /etc/mysql configuration is never read.
{
  echo '[mariadbd]'
  if $root; then echo 'user=mysql'; fi
  echo "datadir=$my/data
socket=$my/mariadb.sock
pid-file=$my/mariadb.pid
log-error=$my/error.log
port=3307
bind-address=127.0.0.1
skip-name-resolve
innodb_flush_log_at_trx_commit=0
ssl-ca=$my/ca.crt
ssl-cert=$my/server.crt
ssl-key=$my/server.key
require_secure_transport=ON
[client]
socket=$my/mariadb.sock
user=root"
} >"$my/my.cnf"
if ! my_running; then
  put mysql 600 "$certs/server.key" "$my/server.key"
  put mysql 644 "$certs/server.crt" "$my/server.crt"
  put mysql 644 "$certs/ca.crt" "$my/ca.crt"
  if [ ! -d "$my/data/mysql" ]; then
    # normal: passwordless root@localhost, root@127.0.0.1, root@::1 (the default,
    # unix_socket, would shut TCP clients out).
    rm -rf "$my/data"
    mariadb-install-db --defaults-file="$my/my.cnf" --auth-root-authentication-method=normal \
      --skip-test-db >"$my/install.log" 2>&1 ||
      { echo "tls-servers: mariadb-install-db failed; see $my/install.log" >&2; tail -n 20 "$my/install.log" >&2; exit 1; }
  fi
  # setsid: the server outlives the shell (and process group) that started it.
  setsid /usr/sbin/mariadbd --defaults-file="$my/my.cnf" </dev/null >>"$my/error.log" 2>&1 &
  pid=$!
  for i in $(seq 1 120); do
    my_running && break
    if ! kill -0 "$pid" 2>/dev/null || [ "$i" = 120 ]; then
      echo "tls-servers: MariaDB exited or was not ready within 60 s; $my/error.log ends with:" >&2
      tail -n 20 "$my/error.log" >&2; exit 1
    fi
    sleep 0.5
  done
fi
mariadb --defaults-file="$my/my.cnf" -e 'CREATE DATABASE IF NOT EXISTS test'

echo "DATAFLOW_TLS_CA=$certs/ca.crt"
echo "DATAFLOW_TLS_WRONG_CA=$certs/wrong-ca.crt"
echo "DATAFLOW_TLS_CLIENT_CERT=$certs/client.crt"
echo "DATAFLOW_TLS_CLIENT_KEY=$certs/client.key"
echo "DATAFLOW_TEST_POSTGRES_TLS=postgres://postgres@localhost:5433/postgres"
echo "DATAFLOW_TEST_MYSQL_TLS=mysql://root@localhost:3307/test"
