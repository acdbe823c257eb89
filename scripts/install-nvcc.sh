#!/usr/bin/env bash
# Installs nvcc (CUDA 13.0) from PyPI wheels into a project-local prefix, .tools/cuda,
# so that build.rs can compile kernels/*.cu on a machine with no CUDA toolkit and no GPU.
# Idempotent: when the pinned set is already there it returns at once.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${SATCOLOR_CUDA_PREFIX:-$root/.tools/cuda}"
stamp="$prefix/.satcolor-nvcc-13.0.88"
pkgs=(
  nvidia-cuda-nvcc==13.0.88
  nvidia-nvvm==13.0.88
  nvidia-cuda-crt==13.0.88
  nvidia-cuda-runtime==13.0.96
  nvidia-cuda-cccl==13.0.85
)
if [ -f "$stamp" ] && [ -x "$prefix/nvidia/cu13/bin/nvcc" ]; then
  echo "nvcc already installed in $prefix/nvidia/cu13"
  exit 0
fi
python3 -m pip --version >/dev/null 2>&1 || { echo "error: python3 with pip is needed to install nvcc" >&2; exit 1; }
mkdir -p "$prefix"
python3 -m pip install --quiet --disable-pip-version-check --no-deps --upgrade --target "$prefix" "${pkgs[@]}"
cu="$prefix/nvidia/cu13"
# nvcc looks for cicc under ../nvvm/bin relative to itself, and for headers under ../include.
[ -x "$cu/bin/nvcc" ] || { echo "error: nvcc missing after install under $cu/bin" >&2; exit 1; }
"$cu/bin/nvcc" --version | tail -n 2
touch "$stamp"
echo "nvcc installed in $cu (build.rs finds it there; or set NVCC=$cu/bin/nvcc)"
