#!/usr/bin/env bash
# Creates (or refreshes) .tools/py-venv, the virtual environment that builds and tests the
# Python module: the pins of scripts/requirements-python.txt. Idempotent: fast when the
# pins are installed already (a stamp names their digest).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.tools/py-venv"
req="$root/scripts/requirements-python.txt"
stamp="$venv/.satcolor-$(sha256sum "$req" | cut -c1-16)"
[ -f "$stamp" ] && exit 0
# Debian's python3 needs python3-venv for `-m venv` (setup.sh installs it).
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -r "$req"
rm -f "$venv"/.satcolor-*
touch "$stamp"
