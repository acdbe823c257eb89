#!/usr/bin/env bash
# The checks that need what a machine may lack are #[ignore = "needs …"], so that `cargo
# test` counts them as not run rather than passing them. This runs those this machine can
# run (a CUDA GPU: the tests named `cuda`; root: the tests named `as_root`, which mount a
# tmpfs), then prints one line naming what did not run here, and why.
set -euo pipefail
cd "$(dirname "$0")/.."

can_gpu=false
if nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
  can_gpu=true
  cargo test --lib --tests -- --ignored cuda
fi
can_mount=false
probe="$(mktemp -d)"
if mount -t tmpfs -o size=64k tmpfs "$probe" 2>/dev/null; then
  umount "$probe"
  can_mount=true
  cargo test --test reliability -- --ignored as_root
fi
rmdir "$probe"

# Every ignored test of the library and tests/, by name.
mapfile -t ignored < <(cargo test -q --lib --tests -- --ignored --list 2>/dev/null \
  | sed -n 's/: test$//p')
gpu=0; root=0; asan=0; by_hand=()
for t in "${ignored[@]}"; do
  case "$t" in
    *cuda*) $can_gpu || gpu=$((gpu + 1)) ;;
    *as_root*) $can_mount || root=$((root + 1)) ;;
    *asan*) asan=$((asan + 1)) ;;
    *) by_hand+=("$t") ;;
  esac
done
parts=()
((gpu > 0)) && parts+=("needing a CUDA GPU: $gpu (nvidia-smi lists none)")
((root > 0)) && parts+=("needing root to mount a tmpfs: $root")
((asan > 0)) && parts+=("needing the emulator's ASan build: $asan (its own stage runs it)")
((${#by_hand[@]} > 0)) && parts+=("run by hand: ${#by_hand[@]} (${by_hand[*]})")
total=$((gpu + root + asan + ${#by_hand[@]}))
if ((total == 0)); then
  echo "not run here: nothing (every ignored check ran)"
else
  line="not run here: $total ignored checks; "
  for i in "${!parts[@]}"; do
    ((i > 0)) && line+="; "
    line+="${parts[$i]}"
  done
  echo "$line"
fi
