#!/bin/sh
# One-shot namespace setup for the compose cluster (runs in temporalio/admin-tools, service
# `temporal-create-namespace`): waits for the server, creates the namespace if missing, and registers
# squadflow's search attributes (PRODUCT.md "Contracts"). Idempotent.
#
# Env: TEMPORAL_ADDRESS (host:port), NAMESPACE (default `default`), NAMESPACE_RETENTION (default 7d),
#      SEARCH_ATTRIBUTES — space-separated Name=Type pairs, e.g. "BacklogId=Keyword CardAttempt=Int".
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${NAMESPACE:-default}"
RETENTION="${NAMESPACE_RETENTION:-7d}"
HOST="${ADDRESS%:*}"
PORT="${ADDRESS##*:}"

# Prefer the IPv4 address: the server binds 0.0.0.0, and a resolver that answers IPv6 first makes the
# CLI's first attempts fail.
IP="$(getent ahostsv4 "$HOST" 2>/dev/null | awk 'NR == 1 { print $1 }')"
[ -n "$IP" ] && ADDRESS="$IP:$PORT"

echo "waiting for the Temporal server at $ADDRESS ..."
tries=0
until temporal operator cluster health --address "$ADDRESS" >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "Temporal server at $ADDRESS did not become healthy" >&2; exit 1; }
  sleep 2
done

if temporal operator namespace describe --address "$ADDRESS" -n "$NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE exists"
else
  echo "creating namespace $NAMESPACE (retention $RETENTION)"
  temporal operator namespace create --address "$ADDRESS" -n "$NAMESPACE" --retention "$RETENTION"
fi

# A namespace just created is unknown to the operator API until the server's namespace cache refreshes
# (seconds), so each registration is retried; "already exists" counts as done, unless with another type.
register() {
  tries=0
  while :; do
    if out="$(temporal operator search-attribute create --address "$ADDRESS" -n "$NAMESPACE" \
      --name "$1" --type "$2" 2>&1)"; then
      echo "search attribute $1 ($2) registered"
      return 0
    fi
    case "$out" in
      *"different type"*) echo "search attribute $1 exists with another type: $out" >&2; return 1 ;;
      *"already exists"*) echo "search attribute $1 ($2) already registered"; return 0 ;;
    esac
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ]; then
      echo "registering search attribute $1 ($2) failed: $out" >&2
      return 1
    fi
    sleep 2
  done
}

for pair in ${SEARCH_ATTRIBUTES:-}; do
  register "${pair%%=*}" "${pair#*=}"
done
echo "namespace $NAMESPACE ready"
