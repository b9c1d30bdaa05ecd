#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, only those missing,
# so a fresh machine needs nothing by hand. Safe to run again.
set -euo pipefail

packages=(cmake g++ make pkg-config clang-format libgtest-dev libgmock-dev libhwy-dev libcli11-dev libpng-dev libexpat1-dev clang libclang-rt-dev)
# The Python package's virtual environment needs venv and pip.
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  packages+=(python3 python3-venv python3-pip python3-dev)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing missing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
