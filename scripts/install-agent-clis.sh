#!/usr/bin/env bash
# Installs the agent CLIs that the owner kinds `claude-code`, `codex` and `gemini` launch, at PINNED versions,
# into the project-local, git-ignored folder `.agent-clis/` (npm only; no other download). The contract tests
# (test/agents-contract/) run these real binaries against local stub model servers.
#
# The pinned versions live in the PINS table below and nowhere else: bumping one is a one-line change, and CI
# (.ci/run) installs exactly these before it runs the contract tests.
#
# Claude Code and Codex ship their native binary as an optional platform package
# (`@anthropic-ai/claude-code-linux-x64`, `@openai/codex-linux-x64` = `@openai/codex@<v>-linux-x64`); npm
# installs it only when optional dependencies are not omitted, so `--include=optional` is passed explicitly.
#
# Idempotent: does nothing when `.agent-clis/VERSIONS` already records the pinned set and every binary runs.
# AGENT_CLIS_REINSTALL=1 forces a reinstall.
# Usage: bash scripts/install-agent-clis.sh   (or `npm run setup:agents`)
# Result: .agent-clis/node_modules/.bin/{claude,codex,gemini}
set -euo pipefail

# package@version, one per line: the single place the pinned versions are written down.
PINS=(
  "@anthropic-ai/claude-code@2.1.332"
  "@openai/codex@0.171.0"
  "@google/gemini-cli@0.61.0"
)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.agent-clis"
BIN="$DEST/node_modules/.bin"
MARKER="$DEST/VERSIONS"
WANTED="$(printf '%s\n' "${PINS[@]}")"

log() { printf '[install-agent-clis] %s\n' "$*"; }

# Each CLI answers --version without a model, a key or the network.
versions_ok() {
  "$BIN/claude" --version >/dev/null 2>&1 && "$BIN/codex" --version >/dev/null 2>&1 \
    && "$BIN/gemini" --version >/dev/null 2>&1
}

if [[ "${AGENT_CLIS_REINSTALL:-}" != 1 && -f "$MARKER" && "$(cat "$MARKER")" == "$WANTED" ]] && versions_ok; then
  log "agent CLIs already installed in $DEST"
else
  mkdir -p "$DEST"
  rm -f "$MARKER"
  # A package.json of its own keeps npm from walking up into the project's package.json and lockfile.
  [[ -f "$DEST/package.json" ]] || echo '{ "name": "squadflow-agent-clis", "private": true }' >"$DEST/package.json"
  log "installing ${PINS[*]} into $DEST ..."
  npm install --prefix "$DEST" --save-exact --include=optional --no-audit --no-fund --loglevel=error "${PINS[@]}"
  versions_ok || { log "ERROR: an installed CLI does not run (see: $BIN/{claude,codex,gemini} --version)" >&2; exit 1; }
  echo "$WANTED" >"$MARKER"
fi

log "claude $("$BIN/claude" --version 2>&1 | head -1)"
log "codex  $("$BIN/codex" --version 2>&1 | head -1)"
log "gemini $("$BIN/gemini" --version 2>&1 | head -1)"
log "binaries in $BIN (the tests find them there; SQUADFLOW_AGENT_CLIS_DIR overrides the folder)"
