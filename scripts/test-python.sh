#!/usr/bin/env bash
# The Python module's tests: builds it with `pip install .` (maturin, the dev profile and
# one CUDA arch so that it shares the C ABI stage's build; a user's `pip install .` is a
# release build for every arch) into .tools/py-venv, then runs python/tests with pytest
# against the command line built by `cargo test` (target/debug/satcolor).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/python-env.sh
export PATH="$root/.tools/py-venv/bin:$PATH"
export SATCOLOR_CUDA_ARCHS="${SATCOLOR_CUDA_ARCHS:-sm_90}"
MATURIN_PEP517_ARGS="--profile dev" python -m pip install -q --no-build-isolation --force-reinstall --no-deps .
export SATCOLOR_BIN="${SATCOLOR_BIN:-$root/target/debug/satcolor}"
python -m pytest -q -p no:cacheprovider python/tests
