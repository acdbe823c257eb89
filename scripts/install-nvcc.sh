#!/usr/bin/env bash
# Installs nvcc (CUDA 13.0) from PyPI wheels into a project-local prefix, .tools/cuda,
# so that build.rs can compile kernels/*.cu on a machine with no CUDA toolkit and no GPU,
# together with cuobjdump and nvdisasm (13.2: there is no 13.0 release of these wheels;
# 13.2 reads nvcc 13.0's cubins), with which build.rs disassembles the compiled kernels.
# Idempotent: when the pinned set is already there it returns at once. The stamp names a
# digest of the pins, so changing a pin (or adding a wheel) reinstalls on the next run.
# A (re)install goes into a fresh folder that then replaces the old prefix, so a build
# running meanwhile never sees a half-replaced toolkit.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${SATCOLOR_CUDA_PREFIX:-$root/.tools/cuda}"
pkgs=(
  nvidia-cuda-nvcc==13.0.88
  nvidia-nvvm==13.0.88
  nvidia-cuda-crt==13.0.88
  nvidia-cuda-runtime==13.0.96
  nvidia-cuda-cccl==13.0.85
  nvidia-cuda-cuobjdump==13.2.86
  nvidia-cuda-nvdisasm==13.2.86
)
tools=(nvcc cuobjdump nvdisasm)
digest="$(printf '%s\n' "${pkgs[@]}" | sha256sum | cut -c1-16)"
stamp="$prefix/.satcolor-cuda-$digest"
cu="$prefix/nvidia/cu13"
installed() {
  [ -f "$stamp" ] || return 1
  for t in "${tools[@]}"; do [ -x "$cu/bin/$t" ] || return 1; done
}
if installed; then
  echo "nvcc, cuobjdump and nvdisasm already installed in $cu"
  exit 0
fi
python3 -m pip --version >/dev/null 2>&1 || { echo "error: python3 with pip is needed to install nvcc" >&2; exit 1; }
mkdir -p "$(dirname "$prefix")"
staging="$prefix.new.$$"
rm -rf "$staging"
trap 'rm -rf "$staging"' EXIT
python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$staging" "${pkgs[@]}"
scu="$staging/nvidia/cu13"
# nvcc looks for cicc under ../nvvm/bin relative to itself, and for headers under ../include.
for t in "${tools[@]}"; do
  [ -x "$scu/bin/$t" ] || { echo "error: $t missing after install under $scu/bin" >&2; exit 1; }
done
"$scu/bin/nvcc" --version | tail -n 2
"$scu/bin/cuobjdump" --version | tail -n 2 | head -n 1
"$scu/bin/nvdisasm" --version | tail -n 2 | head -n 1
touch "$staging/.satcolor-cuda-$digest"
# The stamp of the script before cuobjdump and nvdisasm were added: the nvcc set it pins is
# part of this one, so an older checkout sharing the prefix does not reinstall over it.
touch "$staging/.satcolor-nvcc-13.0.88"
# Swap the fresh install in (two renames), then drop the old one.
if [ -e "$prefix" ]; then
  mv "$prefix" "$prefix.old.$$"
  mv "$staging" "$prefix"
  rm -rf "$prefix.old.$$"
else
  mv "$staging" "$prefix"
fi
echo "nvcc, cuobjdump and nvdisasm installed in $cu (build.rs finds them there; or set NVCC=$cu/bin/nvcc)"
