// Internal: the only place that knows which libpqxx it is built against (6.4 on Debian 12, 7.x
// from Conan). Everything else in src/store uses these functions, so an API difference between
// the versions is handled once, here, on CMake compile checks rather than version numbers.
#pragma once

#include <pqxx/pqxx>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/postgres/store_params.h"

namespace spdlog_ext::detail::store {

// A new connection. libpqxx 6 may silently reconnect a broken connection, which would lose a
// LISTEN and the session settings: callers replace the object after pqxx::broken_connection
// instead of relying on that.
std::unique_ptr<pqxx::connection> connect(const std::string& conninfo);

// tx.exec with parameters $1..$n.
pqxx::result exec(pqxx::transaction_base& tx, const std::string& sql, const sql_params& params);

// A column's value as text; std::nullopt for NULL.
inline std::optional<std::string> text(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return std::string(f.c_str(), f.size());
}

// LISTEN on `channel` (an unquoted name; quoted here). on_notify gets the payload; it runs
// inside get_notifications() on the caller's thread. The returned object keeps the
// subscription: destroy it before the connection.
class listener {
  public:
    virtual ~listener() = default;
};
std::unique_ptr<listener> listen(pqxx::connection& conn, const std::string& channel,
                                 std::function<void(const std::string& payload)> on_notify);
// Delivers the notifications that have arrived (non-blocking); returns how many.
int get_notifications(pqxx::connection& conn);
// The connection's socket, to wait on with poll() (with a stop pipe beside it).
int socket_of(const pqxx::connection& conn);

}  // namespace spdlog_ext::detail::store
