#!/usr/bin/env bash
# One idempotent set-up: .venv with the SDK and dev tools, node tools, the offline solc link.
# Re-running with nothing to do takes a second or two: each step is skipped while the hash of
# its inputs matches the stamp it left last time.
#   tools/bootstrap.sh          Python + main node tools + compiler link
#   tools/bootstrap.sh --ipfs   also the js-ipfs daemon used by the storage tests (~4 min cold)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STAMPS="$ROOT/.stamps"
mkdir -p "$STAMPS"
PY="${PYTHON:-python3}"
SOLC_VERSION="$(node -p "require('./package.json').dependencies.solc")"

log() { printf '[bootstrap] %s\n' "$*" >&2; }
stamp_ok() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

need() {
  command -v "$1" >/dev/null 2>&1 || { log "missing '$1': install it ($2)"; exit 1; }
}
need "$PY" "Python >= 3.11"
need node "Node.js 20 (apt-get install nodejs npm)"
need npm "npm (apt-get install npm)"

# 1. Python virtualenv
if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
py_hash="$(hash_of pyproject.toml requirements/dev.lock)"
if ! stamp_ok python "$py_hash"; then
  log "installing Python packages (first time: about a minute)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q --disable-pip-version-check -c requirements/dev.lock -e ".[dev]"
  echo "$py_hash" >"$STAMPS/python"
fi

# 2. node tools (solc, anvil, hardhat, OpenZeppelin)
node_hash="$(hash_of package.json package-lock.json)"
if ! stamp_ok node "$node_hash" || [[ ! -d node_modules ]]; then
  log "installing node tools (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$node_hash" >"$STAMPS/node"
fi

# 3. the offline compiler: py-solc-x and ape only look for solc-v<version> in SOLCX_BINARY_PATH
mkdir -p .solcx
ln -sfn ../tools/solc/solc.js ".solcx/solc-v${SOLC_VERSION}"

# 4. optional: the js-ipfs daemon for the storage tests
if [[ "${1:-}" == "--ipfs" ]]; then
  ipfs_hash="$(hash_of tools/ipfs/package.json tools/ipfs/package-lock.json)"
  if ! stamp_ok ipfs "$ipfs_hash" || [[ ! -d tools/ipfs/node_modules ]]; then
    log "installing the js-ipfs daemon (first time: about 2-4 minutes)"
    # `npm install` from the committed lock, not `npm ci`: an optional dependency of js-ipfs
    # (wrtc -> headless) is a GitHub tarball that cannot be resolved here, which `npm ci` treats
    # as a lock mismatch while `npm install` skips the optional package (nothing uses it).
    (cd tools/ipfs && npm install --no-save --no-audit --no-fund --loglevel=error)
    echo "$ipfs_hash" >"$STAMPS/ipfs"
  fi
fi
log "ready"
