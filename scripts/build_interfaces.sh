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

# The wheels' exported CMake files name include folders of the machine that built them;
# CMakeLists.txt points them at this venv's (cmake/pixret_fix_wheel_includes.cmake), so that a
# plain `colcon build` works too.
export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" PATH="$venv/bin:$PATH"
cmake -S "$src" -B "$build" -DCMAKE_INSTALL_PREFIX="$venv" -DPython3_EXECUTABLE="$py" \
  -DBUILD_TESTING=OFF -Wno-dev > "$build.configure.log" 2>&1 \
  || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j2 --target install > "$build.build.log" 2>&1 \
  || { tail -50 "$build.build.log"; exit 1; }
