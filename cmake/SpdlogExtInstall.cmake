# `cmake --install`: headers, the library, a CMake package (spdlog_extConfig.cmake + version file +
# exported targets) and a pkg-config file. Consumers:
#   find_package(spdlog_ext 0.1 CONFIG REQUIRED [COMPONENTS postgres http])
#   target_link_libraries(app PRIVATE spdlog_ext::spdlog_ext)
# or `pkg-config --cflags --libs spdlog_ext` (add --static for the static library).
include(CMakePackageConfigHelpers)

option(SPDLOG_EXT_INSTALL "Generate the install rules" ${SPDLOG_EXT_TOP_LEVEL})
if(NOT SPDLOG_EXT_INSTALL)
  return()
endif()

set(SPDLOG_EXT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/spdlog_ext
    CACHE STRING "Where the CMake package files go, relative to the prefix")
mark_as_advanced(SPDLOG_EXT_CMAKE_DIR)

install(TARGETS spdlog_ext EXPORT spdlog_extTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# Only the headers of the sinks this build has: the others would compile and then fail to link.
set(_spdlog_ext_absent_headers "")
if(NOT SPDLOG_EXT_WITH_POSTGRES)
  foreach(_header postgres_batch_sink.h postgres_log_store.h)
    list(APPEND _spdlog_ext_absent_headers PATTERN ${_header} EXCLUDE)
  endforeach()
endif()
if(NOT SPDLOG_EXT_WITH_HTTP)
  foreach(_header datadog_http_sink.h slack_error_sink.h influx_timeseries_sink.h)
    list(APPEND _spdlog_ext_absent_headers PATTERN ${_header} EXCLUDE)
  endforeach()
endif()
install(DIRECTORY include/spdlog_ext DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        ${_spdlog_ext_absent_headers})
install(FILES ${PROJECT_BINARY_DIR}/include/spdlog_ext/features.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/spdlog_ext)
install(EXPORT spdlog_extTargets NAMESPACE spdlog_ext:: DESTINATION ${SPDLOG_EXT_CMAKE_DIR})

# What spdlog_extConfig.cmake must find again. A static library carries its private dependencies
# to the consumer's link line (libpq, libcurl, zlib); a shared one does not.
get_target_property(_spdlog_ext_type spdlog_ext TYPE)
if(_spdlog_ext_type STREQUAL "STATIC_LIBRARY")
  set(SPDLOG_EXT_STATIC ON)
else()
  set(SPDLOG_EXT_STATIC OFF)
endif()
configure_package_config_file(cmake/spdlog_extConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/spdlog_extConfig.cmake
                              INSTALL_DESTINATION ${SPDLOG_EXT_CMAKE_DIR})
# 0.x: a new minor version may break the API, so only the same major.minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/spdlog_extConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/spdlog_extConfig.cmake
              ${PROJECT_BINARY_DIR}/spdlog_extConfigVersion.cmake
        DESTINATION ${SPDLOG_EXT_CMAKE_DIR})

# pkg-config. The libraries our own code calls (libpq, libcurl, zlib) go to Requires for the static
# library, so that a plain `pkg-config --libs spdlog_ext` links (--static would also ask for the
# static archives of *their* dependencies, which distributions rarely ship), and to
# Requires.private for the shared one.
set(_spdlog_ext_pc_own "")
if(SPDLOG_EXT_WITH_POSTGRES)
  list(APPEND _spdlog_ext_pc_own libpq libpqxx)
endif()
if(SPDLOG_EXT_WITH_HTTP)
  list(APPEND _spdlog_ext_pc_own libcurl zlib)
endif()
set(_spdlog_ext_pc_public spdlog nlohmann_json)
if(SPDLOG_EXT_STATIC)
  list(APPEND _spdlog_ext_pc_public ${_spdlog_ext_pc_own})
  set(_spdlog_ext_pc_own "")
endif()
list(JOIN _spdlog_ext_pc_public " " SPDLOG_EXT_PC_REQUIRES)
list(JOIN _spdlog_ext_pc_own " " SPDLOG_EXT_PC_REQUIRES_PRIVATE)
# Relocatable (${pcfiledir}-relative) unless the install directories were given as absolute paths.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SPDLOG_EXT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(SPDLOG_EXT_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(SPDLOG_EXT_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH _spdlog_ext_pc_up "/_/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/_")
  string(REGEX REPLACE "/$" "" _spdlog_ext_pc_up "${_spdlog_ext_pc_up}")
  set(SPDLOG_EXT_PC_PREFIX "\${pcfiledir}/${_spdlog_ext_pc_up}")
  set(SPDLOG_EXT_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(SPDLOG_EXT_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(cmake/spdlog_ext.pc.in ${PROJECT_BINARY_DIR}/spdlog_ext.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/spdlog_ext.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
