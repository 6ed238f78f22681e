# The console scripts: one launcher per name of the table in pixret_ros/entry_points.py (the one
# list; setup.py reads it too), installed into lib/<package> for `ros2 run` and bin/ for a venv.
# The table is read at configure time by running the file (it imports nothing of the package),
# and CMake configures again whenever it changes.

function(pixret_install_entry_points)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  set(table "${CMAKE_CURRENT_SOURCE_DIR}/pixret_ros/entry_points.py")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${table}")
  execute_process(
    COMMAND "${Python3_EXECUTABLE}" -c
      "import runpy, sys; print(';'.join(runpy.run_path(sys.argv[1])['ENTRY_POINTS']))"
      "${table}"
    OUTPUT_VARIABLE names OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE failed)
  if(failed OR NOT names)
    message(FATAL_ERROR "pixret_ros: cannot read the console scripts from ${table}")
  endif()
  set(launchers "")
  foreach(entry IN LISTS names)
    configure_file(scripts/launcher.py.in ${CMAKE_CURRENT_BINARY_DIR}/scripts/${entry} @ONLY)
    list(APPEND launchers ${CMAKE_CURRENT_BINARY_DIR}/scripts/${entry})
  endforeach()
  install(PROGRAMS ${launchers} DESTINATION lib/${PROJECT_NAME})
  install(PROGRAMS ${launchers} DESTINATION bin)
  message(STATUS "pixret_ros: console scripts from entry_points.py: ${names}")
endfunction()
