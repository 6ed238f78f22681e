#!/usr/bin/env bash
# `make colcon-test`: build and test pixret_ros in a temporary colcon workspace, with exactly the
# steps of the README's "In a ROS 2 workspace" section (PyPI wheels, no system ROS).
# Usage: scripts/colcon_test.sh VENV COLCON_BIN [CTEST_REGEX [PYTEST_MARK]]
#   VENV: the venv with the ROS wheels and the runtime pins (make setup's .venv)
#   COLCON_BIN: the colcon executable (a venv of its own: requirements/colcon.txt)
#   CTEST_REGEX: which parts of the suite `colcon test` runs (default: all)
#   PYTEST_MARK: pytest -m expression inside them (default: all tests)
# The workspace is removed on success and kept (path printed) on failure.
set -euo pipefail
venv=$(cd "$1" && pwd)
colcon=$(realpath "$2")
ctest_regex=${3:-}
mark=${4:-}
src=$(cd "$(dirname "$0")/.." && pwd)
ws=$(mktemp -d "${TMPDIR:-/tmp}/pixret-colcon.XXXXXX")
trap 'echo "colcon-test: FAILED, workspace kept in $ws (logs: $ws/log/latest_*)" >&2' ERR
start=$SECONDS

# The package as a user gets it: its tracked (and new, not ignored) files in src/.
mkdir -p "$ws/src/pixret_ros"
(cd "$src" && git ls-files -z --cached --others --exclude-standard) \
  | (cd "$src" && tar --null -cf - -T -) | tar -xf - -C "$ws/src/pixret_ros"

# The user's steps: activate the venv, tell ament/CMake where the ROS wheels are, build, test.
# shellcheck disable=SC1091
source "$venv/bin/activate"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV" CMAKE_PREFIX_PATH="$VIRTUAL_ENV"
cd "$ws"
"$colcon" build --event-handlers console_cohesion- summary+ > "$ws/build.out" 2>&1 \
  || { tail -60 "$ws/build.out"; false; }
echo "colcon-test: colcon build ok in $((SECONDS - start)) s"

# The installed layout, seen from a shell that sourced the workspace (as `ros2 run` would).
(
  set +u
  # shellcheck disable=SC1091
  source install/setup.bash
  share=install/pixret_ros/share/pixret_ros
  lib=install/pixret_ros/lib/pixret_ros
  for path in "$share/package.xml" "$share/launch/pixret.launch.py" "$share/config/pixret.yaml" \
    "$share/config/fastdds_shm.xml" "$lib/pixret_node" "$lib/pixret" "$lib/pixret-eval"; do
    test -e "$path" || { echo "colcon-test: $path is not installed" >&2; exit 1; }
  done
  test -x "$lib/pixret_node"
  python -c 'import pathlib, sys, pixret_ros.msg, pixret_ros.srv
from pixret_ros.entry_points import installed_prefix
print("colcon-test: import pixret_ros.msg from", pixret_ros.msg.__file__)
sys.exit(installed_prefix() != pathlib.Path("install/pixret_ros").resolve())'
)

ctest_args=()
[[ -n "$ctest_regex" ]] && ctest_args=(--ctest-args -R "$ctest_regex")
PYTEST_ADDOPTS="${mark:+-m \"$mark\"}" "$colcon" test --event-handlers console_cohesion- \
  summary+ "${ctest_args[@]}" > "$ws/test.out" 2>&1 || { tail -60 "$ws/test.out"; false; }
"$colcon" test-result --verbose > "$ws/test-result.out" 2>&1 \
  || { cat "$ws/test-result.out"; false; }
tail -1 "$ws/test-result.out"
echo "colcon-test: ok in $((SECONDS - start)) s (colcon build, layout, colcon test${ctest_regex:+ -R $ctest_regex}${mark:+ -m $mark})"
trap - ERR
rm -rf "$ws"
