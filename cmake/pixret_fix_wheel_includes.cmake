# The ROS 2 wheels on PyPI (ros-jazzy-*) export CMake targets whose include folders are those of
# the machine that built them (/opt/python/cp311-cp311/...), so `colcon build` stops with
# "Imported target ... includes non-existent path". Point such folders at this build's Python
# and numpy. Runs at the end of CMakeLists.txt (targets are checked at generate time, after it);
# against a system ROS install nothing matches and nothing changes. Needs CMake >= 3.21.

function(pixret_fix_wheel_include_dirs)
  find_package(Python3 REQUIRED COMPONENTS Interpreter Development)
  execute_process(
    COMMAND "${Python3_EXECUTABLE}" -c "import numpy; print(numpy.get_include())"
    OUTPUT_VARIABLE numpy_include OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE numpy_missing)
  get_directory_property(targets IMPORTED_TARGETS)
  set(fixed 0)
  foreach(target IN LISTS targets)
    get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT dirs OR NOT dirs MATCHES "/opt/python/cp3[0-9]+-cp3[0-9]+/")
      continue()
    endif()
    set(new_dirs "")
    foreach(dir IN LISTS dirs)
      if(NOT EXISTS "${dir}" AND dir MATCHES "^/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3")
        set(dir "${Python3_INCLUDE_DIRS}")
      elseif(NOT EXISTS "${dir}" AND dir MATCHES "^/opt/python/.*/numpy/_core/include$")
        if(numpy_missing)
          message(FATAL_ERROR "${target} needs numpy's headers: pip install numpy")
        endif()
        set(dir "${numpy_include}")
      endif()
      list(APPEND new_dirs "${dir}")
    endforeach()
    set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${new_dirs}")
    math(EXPR fixed "${fixed} + 1")
  endforeach()
  if(fixed)
    message(STATUS "pixret_ros: include folders of ${fixed} PyPI-wheel targets pointed at "
      "${Python3_INCLUDE_DIRS} and ${numpy_include}")
  endif()
endfunction()
