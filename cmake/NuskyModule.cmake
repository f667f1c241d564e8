# In-tree modules: every module folder calls nusky_add_module(name SOURCES ...), which adds its
# sources to the one object library `nusky_modules`. The nusky executable and the test
# binaries link all of it, so each module's one-line registration always runs.
add_library(nusky_modules OBJECT)
set_target_properties(nusky_modules PROPERTIES POSITION_INDEPENDENT_CODE ON)

function(nusky_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "nusky_add_module(${name}): no SOURCES")
  endif()
  list(TRANSFORM ARG_SOURCES PREPEND "${CMAKE_CURRENT_SOURCE_DIR}/")
  target_sources(nusky_modules PRIVATE ${ARG_SOURCES})
  if(ARG_LIBRARIES)
    target_link_libraries(nusky_modules PUBLIC ${ARG_LIBRARIES})
  endif()
endfunction()
