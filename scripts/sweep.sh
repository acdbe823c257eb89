#!/usr/bin/env bash
# The training-settings sweep of docs/perf.md ("Defaults that work"): each setting trains the
# real-imagery benchmark's pan → RGB task (satcolor quality --tasks pan-rgb) for the same
# budget of about 10 minutes of 2-core CPU time (3400 iterations of the small preset at
# batch 16 and window 64, ~5.8 iterations/s; 2400 of the U-Net, 290 of the seed preset;
# steps scaled by pixels for other windows), into sweep/NAME/quality.json; then prints the
# table and draws docs/sweep.png (PSNR against colorfulness). Results depend only on the
# settings, not on the machine's load.
#
# Usage: bash scripts/sweep.sh [NAME...]   (default: every setting below; done ones are kept)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# A copy of the release binary, so that rebuilding during the sweep changes nothing.
mkdir -p sweep
if [ ! -x sweep/satcolor ]; then
  cargo build --release
  cp target/release/satcolor sweep/satcolor
fi
bin=sweep/satcolor
base="--preset small --lr 1e-3 --lambda-start 1e4 --lambda-end 1e4"
# The U-Net runs about 4 iterations a second (2400 in 10 minutes).
unet="--preset unet --lr 1e-3 --lambda-start 1e4 --lambda-end 1e4"
settings=(
  # The U-Net: learning rates, λ_G (constant, and decaying: the adversarial term's
  # warm-up), augmentation, window.
  "unet|$unet --steps 2400"
  "unet-lr5e-4|--preset unet --lr 5e-4 --lambda-start 1e4 --lambda-end 1e4 --steps 2400"
  "unet-lr2e-3|--preset unet --lr 2e-3 --lambda-start 1e4 --lambda-end 1e4 --steps 2400"
  "unet-lambda1e3|--preset unet --lr 1e-3 --lambda-start 1e3 --lambda-end 1e3 --steps 2400"
  "unet-lambda1e5|--preset unet --lr 1e-3 --lambda-start 1e5 --lambda-end 1e5 --steps 2400"
  "unet-lambda1e4-to-1e2|--preset unet --lr 1e-3 --lambda-start 1e4 --lambda-end 1e2 --tau 800 --steps 2400"
  "unet-no-augment|$unet --augment false --steps 2400"
  "unet-window128|$unet --window 128 --steps 600"
  "unet-window32|$unet --window 32 --steps 9600"
  # The write-up's generator (small preset) at the learning rates, its old defaults (the
  # write-up's lr and λ schedule), the raw head, and the seed preset.
  "lr1e-3|$base --steps 3400"
  "lr2e-4|--preset small --lr 2e-4 --lambda-start 1e4 --lambda-end 1e4 --steps 3400"
  "lr5e-4|--preset small --lr 5e-4 --lambda-start 1e4 --lambda-end 1e4 --steps 3400"
  "writeup|--preset small --lr 2e-4 --lambda-start 100 --lambda-end 1 --tau 20000 --steps 3400"
  "raw-head|$base --head raw --steps 3400"
  "seed-preset|--preset seed --lr 1e-3 --lambda-start 1e4 --lambda-end 1e4 --steps 290"
)
want=("$@")
for s in "${settings[@]}"; do
  name="${s%%|*}"
  flags="${s#*|}"
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " =~ " $name " ]]; then continue; fi
  out="sweep/$name"
  if [ -f "$out/quality.json" ]; then echo "== $name: done"; continue; fi
  rm -rf "$out"
  echo "== $name: $flags"
  # shellcheck disable=SC2086
  "$bin" quality --tasks pan-rgb --device cpu --out "$out" -- $flags --checkpoint-every 200 \
    > "$out.log" 2>&1 || { echo "   failed: see $out.log"; continue; }
  tail -n 6 "$out.log"
done
cargo run --release --example sweep_report -- sweep docs/sweep.png
