#!/usr/bin/env bash
# Installs what satcolor needs on a fresh Debian machine of this kind, idempotently:
# the C++ compiler for the emulator, GDAL (libgdal-dev, the `geo` feature's raster I/O),
# Open MPI and libclang (the `mpi` feature), a font for the loss plot (fonts-dejavu-core), and
# nvcc (CUDA 13.0) from PyPI wheels for the kernels.
# Fast when everything is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
need=()
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-pip)
# The Python module's virtual environment (scripts/python-env.sh): Debian's python3 needs
# python3-venv for `python3 -m venv`.
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3-venv)
dpkg -s libgdal-dev >/dev/null 2>&1 || need+=(libgdal-dev)
# Open MPI (the `mpi` feature: data-parallel training with `mpirun`) and libclang, with
# which the mpi crate generates its bindings.
dpkg -s libopenmpi-dev >/dev/null 2>&1 || need+=(libopenmpi-dev)
command -v mpirun >/dev/null 2>&1 || need+=(openmpi-bin)
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
# DejaVu Sans: the text of loss.png (drawn without text when missing).
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi
command -v cargo >/dev/null 2>&1 || { echo "error: cargo (Rust) is required: https://rustup.rs" >&2; exit 1; }
bash "$root/scripts/install-nvcc.sh"
