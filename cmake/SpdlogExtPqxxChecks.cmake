# Which libpqxx API is there (6.4 on Debian 12, 7.x from Conan): compile checks rather than
# version numbers, so that a back-ported or removed function is seen as it is. The results are
# compile definitions for src/store/postgres/store_pqxx.cpp, the only file that uses them.
include(CheckCXXSourceCompiles)
include(CMakePushCheckState)

function(spdlog_ext_pqxx_checks pqxx_target out_var)
  cmake_push_check_state(RESET)
  set(CMAKE_REQUIRED_LINK_OPTIONS "")
  set(CMAKE_REQUIRED_LIBRARIES ${pqxx_target})
  set(CMAKE_REQUIRED_FLAGS "-std=c++17 -Werror=deprecated-declarations")
  # 7.9+: tx.exec(query, pqxx::params) (exec_params is deprecated there).
  check_cxx_source_compiles([[
    #include <pqxx/pqxx>
    void f(pqxx::work& tx) { pqxx::params p; p.append(); p.append(std::string("x")); tx.exec("SELECT $1", p); }
    int main() { return 0; }]] SPDLOG_EXT_PQXX_EXEC_PARAMS_OBJECT)
  # 7.6 .. 7.8: pqxx::params passed to exec_params.
  check_cxx_source_compiles([[
    #include <pqxx/pqxx>
    void f(pqxx::work& tx) { pqxx::params p; p.append(); p.append(std::string("x")); tx.exec_params("SELECT $1", p); }
    int main() { return 0; }]] SPDLOG_EXT_PQXX_EXEC_PARAMS_PARAMS)
  # 7.10+: connection::listen(channel, handler) replaces notification_receiver.
  check_cxx_source_compiles([[
    #include <pqxx/pqxx>
    void f(pqxx::connection& c) { c.listen("x", [](pqxx::notification) {}); }
    int main() { return 0; }]] SPDLOG_EXT_PQXX_CONNECTION_LISTEN)
  cmake_pop_check_state()
  set(_defs "")
  foreach(_check SPDLOG_EXT_PQXX_EXEC_PARAMS_OBJECT SPDLOG_EXT_PQXX_EXEC_PARAMS_PARAMS
                 SPDLOG_EXT_PQXX_CONNECTION_LISTEN)
    if(${_check})
      list(APPEND _defs ${_check})
    endif()
  endforeach()
  set(${out_var} "${_defs}" PARENT_SCOPE)
endfunction()
