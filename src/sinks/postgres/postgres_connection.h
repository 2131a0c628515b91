// Internal: the PostgreSQL sink's transport (the peer of http_transport): one libpq connection,
// non-blocking and interruptible, with the session settings the sink adds and pg_error.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "spdlog_ext/sinks/postgres_batch_sink.h"

// libpq's handles, declared as libpq-fe.h declares them: users of this header (the backend, the
// DDL, tests) need no libpq include path.
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef struct pg_cancel PGcancel;

namespace spdlog_ext::detail {

// What the sink adds to the user's connection: libpq parameters (after the conninfo, so they
// override it: only those it does not set itself, but client_encoding always), the
// statement_timeout to SET after connecting (0: none, the user's options set one) and how long
// the worker waits for any reply (0: unbounded).
struct session_settings {
    std::vector<std::pair<std::string, std::string>> params;
    std::chrono::milliseconds statement_timeout{0};
    std::chrono::milliseconds reply_limit{0};
};
session_settings session_settings_for(const postgres_config& cfg, const std::string& conninfo);

// A failed libpq call: the first line of its message, the SQLSTATE ("" when none) and whether
// the connection is gone (to be dropped and made again).
struct pg_error : std::runtime_error {
    pg_error(const std::string& message, std::string state, bool lost,
             std::string constraint_name = {})
        : std::runtime_error(message),
          sqlstate(std::move(state)),
          connection_lost(lost),
          constraint(std::move(constraint_name)) {}
    std::string sqlstate;
    bool connection_lost;
    std::string constraint;  // the server's PG_DIAG_CONSTRAINT_NAME, "" when it named none
};

struct pg_result_deleter {
    void operator()(PGresult* r) const noexcept;  // PQclear
};
using pg_result_ptr = std::unique_ptr<PGresult, pg_result_deleter>;

class pg_connection {
  public:
    // Connects without blocking in libpq (PQconnectStartParams/PQconnectPoll), so that `abort`
    // (set by interrupt() at the shutdown deadline) and `timeout` end the attempt; libpq enforces
    // its connect_timeout only in its blocking calls. The conninfo's own connect_timeout wins.
    // `settings.params` follow the conninfo (expanded as "dbname") and so override it.
    pg_connection(const std::string& conninfo, const session_settings& settings,
                  const std::atomic<bool>& abort, std::chrono::milliseconds timeout);
    ~pg_connection();
    pg_connection(const pg_connection&) = delete;
    pg_connection& operator=(const pg_connection&) = delete;

    bool ok() const noexcept;

    // Runs a statement; throws pg_error unless it succeeds. Returns its result.
    pg_result_ptr exec(const std::string& sql);

    std::string quote_name(const std::string& name) { return escaped(name, true); }
    std::string quote(const std::string& value) { return escaped(value, false); }

    // COPY ... FROM STDIN fed piece by piece, so that the server parses one piece while the
    // caller encodes the next: copy_start sends `copy_sql` (statements before the COPY may share
    // the string) and returns at once, so the caller can encode the first piece meanwhile;
    // copy_ready waits until the server runs the COPY (throwing what failed before it);
    // copy_send queues a piece and sends it (waiting only while the socket is full), copy_end
    // ends the data and returns once the server has taken it all.
    void copy_start(const std::string& copy_sql);
    void copy_ready();
    void copy_send(std::string_view data);
    void copy_end();

    // The cancel object, for interrupt() to use on another thread; nullptr after the first call.
    PGcancel* take_cancel() noexcept { return std::exchange(cancel_, nullptr); }

    // TLS as libpq negotiated it: {"tls": false} or {"tls": true, "tls_protocol", "tls_cipher"}.
    nlohmann::json tls_description() const;

    int server_version() const noexcept;

  private:
    [[noreturn]] void give_up(const std::string& message);
    std::optional<std::chrono::milliseconds> own_connect_timeout() const;
    pg_result_ptr send_and_wait(const std::string& sql);
    pg_result_ptr last_result();
    pg_result_ptr next_result();
    void flush();
    void wait_socket(bool for_write);
    [[noreturn]] void lose(const std::string& why);
    void check(PGresult* r, int want, int also);  // ExecStatusType values
    [[noreturn]] void fail(PGresult* r);
    std::string escaped(const std::string& text, bool identifier);

    PGconn* conn_ = nullptr;
    PGcancel* cancel_ = nullptr;  // guarded by the backend's conn_mu_ once published
    const std::atomic<bool>& abort_;
    const std::chrono::milliseconds reply_limit_;
    bool broken_ = false;
};

}  // namespace spdlog_ext::detail
