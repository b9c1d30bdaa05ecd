#!/usr/bin/env bash
# Installs the built tree into a scratch prefix, then builds and runs a
# consumer against it both ways: find_package(adapool) and pkg-config.
# Usage: check_install.sh BUILD_DIR SCRATCH_DIR CONSUMER_SOURCE_DIR
set -euo pipefail
build=$1 scratch=$2 consumer=$3
cmake=${CMAKE:-cmake}
rm -rf "$scratch"
prefix=$scratch/prefix
"$cmake" --install "$build" --prefix "$prefix" >/dev/null

"$cmake" -S "$consumer" -B "$scratch/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
"$cmake" --build "$scratch/cmake-build" >/dev/null
LD_LIBRARY_PATH=$(dirname "$(find "$prefix" -name 'libadapool.so' | head -n 1)") \
  "$scratch/cmake-build/consumer_shared"
"$scratch/cmake-build/consumer_static"

pc_dir=$(dirname "$(find "$prefix" -name adapool.pc | head -n 1)")
export PKG_CONFIG_PATH=$pc_dir
[ "$(pkg-config --modversion adapool)" = "$(sed -n 's/.*ADAPOOL_VERSION_STRING "\(.*\)"/\1/p' "$prefix/include/adapool/adapool.h")" ]
# shellcheck disable=SC2046
cc -std=c11 "$consumer/main.c" -o "$scratch/pkgconfig_consumer" $(pkg-config --cflags --libs adapool)
LD_LIBRARY_PATH=$(pkg-config --variable=libdir adapool) "$scratch/pkgconfig_consumer"
# shellcheck disable=SC2046
c++ -std=c++20 "$consumer/main.cpp" -o "$scratch/pkgconfig_static" $(pkg-config --cflags adapool) \
  -L"$(pkg-config --variable=libdir adapool)" -l:libadapool.a \
  $(pkg-config --static --libs adapool | sed 's/-ladapool//')
"$scratch/pkgconfig_static"
echo "install check passed"
