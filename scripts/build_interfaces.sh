#!/usr/bin/env bash
# Build the msg/srv interfaces with CMake against the ROS 2 Jazzy wheels of a venv and install
# them, with the hand-written Python package and the launchers, into that venv.
# Usage: scripts/build_interfaces.sh VENV BUILD_DIR
# Why not colcon: plain cmake is all that is needed and is what ROS_ENV.md verified.
set -euo pipefail
venv=$(cd "$1" && pwd)
build=$2
src=$(cd "$(dirname "$0")/.." && pwd)
py="$venv/bin/python"

# The wheels' exported CMake files hard-code the include folders of the machine that built
# them (/opt/python/cp311-cp311/...); point them at this venv's Python and numpy.
pyinc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
npinc=$("$py" -c 'import numpy; print(numpy.get_include())')
{ grep -rlE '/opt/python/cp3[0-9]+-cp3[0-9]+' --include='*.cmake' "$venv/share" || true; } \
  | xargs -r sed -i -E \
    "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$npinc#g; s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$pyinc#g"

export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" PATH="$venv/bin:$PATH"
cmake -S "$src" -B "$build" -DCMAKE_INSTALL_PREFIX="$venv" -DPython3_EXECUTABLE="$py" \
  -DBUILD_TESTING=OFF -Wno-dev > "$build.configure.log" 2>&1 \
  || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j2 --target install > "$build.build.log" 2>&1 \
  || { tail -50 "$build.build.log"; exit 1; }
