#!/usr/bin/env bash
# Regenerates capi/include/satcolor.h from capi/src with cbindgen (through the test that
# checks it).
set -euo pipefail
cd "$(dirname "$0")/.."
SATCOLOR_BLESS_HEADER=1 cargo test -q -p satcolor-capi --test header
echo "wrote capi/include/satcolor.h"
