# Source this to use the project's tools by hand: . tools/env.sh
_ML_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$_ML_ROOT/.venv/bin:$_ML_ROOT/node_modules/.bin:$PATH"
export SOLCX_BINARY_PATH="$_ML_ROOT/.solcx"
export APE_DATA_FOLDER="$_ML_ROOT/.ape"
unset _ML_ROOT
