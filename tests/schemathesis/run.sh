#!/usr/bin/env bash
# Runs schemathesis (property-based API testing from the OpenAPI document) with every check
# against the real binary: a fresh data directory, a token with every scope, all operations
# (rate limiting off: schemathesis sends as fast as it can from one token).
#
#   tests/schemathesis/run.sh            # 25 examples per operation
#   tests/schemathesis/run.sh 5          # the CI run
#   tests/schemathesis/run.sh 100        # the long run
#   ISMS_SCHEMATHESIS_SEED=7 tests/schemathesis/run.sh 25   # another seed (default 1)
#
# Settings are in schemathesis.toml here; hooks.py drops only the "schema-valid request
# rejected" findings whose answer names a rule the document cannot state (and counts them).
#
# schemathesis comes from PyPI into a virtualenv under the cargo target directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/schemathesis
examples="${1:-25}"
shift || true  # the rest goes to schemathesis as it is
target="${CARGO_TARGET_DIR:-target}"
venv="$target/schemathesis-venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "schemathesis==4.32.5"
fi
cargo build --quiet -p isms
bin="$target/debug/isms"
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
ISMS_LOG=warn ISMS_RATE_LIMIT_PER_SECOND=0 "$bin" serve --data-dir "$data" --bind "127.0.0.1:$port" --workers 2 2>"$data/server.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
token="$("$bin" token --data-dir "$data" --sub schemathesis --tenant acme \
    --scope "isms:read isms:write audit:read admin scim integrations" --ttl 1d)"
status=0
SCHEMATHESIS_HOOKS="${ISMS_SCHEMATHESIS_HOOKS:-$here/hooks.py}" "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" \
    run "http://127.0.0.1:$port/openapi.json" \
    --checks all \
    --header "Authorization: Bearer $token" \
    --max-examples "$examples" \
    --seed "${ISMS_SCHEMATHESIS_SEED:-1}" \
    --report junit --report-dir "$target/schemathesis-report" \
    "$@" \
    || status=$?
if grep -q "panicked" "$data/server.log"; then
    echo "the server panicked:"; grep -B2 -A8 "panicked" "$data/server.log"; status=1
fi
exit "$status"
