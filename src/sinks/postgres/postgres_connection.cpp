#include "sinks/postgres/postgres_connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string_view>

#include "spdlog_ext/env_options.h"

namespace spdlog_ext::detail {

namespace {

// The first line of a libpq message (the rest repeats the query).
std::string first_line(const char* what) {
    std::string s(what);
    const auto nl = s.find('\n');
    return nl == std::string::npos ? s : s.substr(0, nl);
}

// True when this libpq knows the connection parameter (tcp_user_timeout needs libpq 12).
bool libpq_knows(const char* keyword) {
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> defaults(PQconndefaults(),
                                                                            PQconninfoFree);
    for (const PQconninfoOption* o = defaults.get(); o && o->keyword; ++o) {
        if (std::string_view(o->keyword) == keyword) {
            return true;
        }
    }
    return false;
}
}  // namespace

session_settings session_settings_for(const postgres_config& cfg, const std::string& conninfo) {
    session_settings out;
    std::set<std::string> own;  // parameters the connection string sets itself: they win
    std::string own_options;
    char* error = nullptr;
    if (PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error)) {
        for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
            if (o->val != nullptr) {
                own.insert(o->keyword);
                if (std::string_view(o->keyword) == "options") {
                    own_options = o->val;
                }
            }
        }
        PQconninfoFree(options);
    }
    PQfreemem(error);
    // The COPY text is UTF-8: under another client_encoding (PGCLIENTENCODING=SJIS, or one in
    // the string) the server re-reads its bytes, an escaping backslash after a byte it takes for
    // a lead byte becomes part of a character, and columns shift. Always forced: it comes after
    // the string and overrides both.
    out.params.emplace_back("client_encoding", "UTF8");
    const auto add = [&](const char* keyword, long long value) {
        if (value > 0 && own.count(keyword) == 0 && libpq_knows(keyword)) {
            out.params.emplace_back(keyword, std::to_string(value));
        }
    };
    if (own.count("keepalives") == 0) {
        out.params.emplace_back("keepalives", "1");
    }
    add("keepalives_idle", cfg.keepalives_idle.count());
    add("keepalives_interval", cfg.keepalives_interval.count());
    add("keepalives_count", cfg.keepalives_count);
    add("tcp_user_timeout", cfg.tcp_user_timeout.count());
    if (own.count("options") == 0) {
        own_options = getenv_value("PGOPTIONS").value_or("");
    }
    out.statement_timeout = own_options.find("statement_timeout") == std::string::npos
                                ? cfg.statement_timeout
                                : std::chrono::milliseconds(0);
    if (cfg.statement_timeout.count() > 0) {
        out.reply_limit =
            cfg.statement_timeout +
            std::max<std::chrono::milliseconds>(cfg.tcp_user_timeout, std::chrono::seconds(1));
    }
    return out;
}

void pg_result_deleter::operator()(PGresult* r) const noexcept {
    PQclear(r);
}

pg_connection::pg_connection(const std::string& conninfo, const session_settings& settings,
                             const std::atomic<bool>& abort, std::chrono::milliseconds timeout)
    : abort_(abort), reply_limit_(settings.reply_limit) {
    std::vector<const char*> keywords{"dbname"};
    std::vector<const char*> values{conninfo.c_str()};
    for (const auto& [keyword, value] : settings.params) {
        keywords.push_back(keyword.c_str());
        values.push_back(value.c_str());
    }
    keywords.push_back(nullptr);
    values.push_back(nullptr);
    conn_ = PQconnectStartParams(keywords.data(), values.data(), 1);
    if (conn_ == nullptr) {
        throw pg_error("cannot connect to PostgreSQL: out of memory", "", true);
    }
    // Server notices ("relation ... already exists, skipping") are not the host's business.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    timeout = own_connect_timeout().value_or(timeout);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (PQstatus(conn_) != CONNECTION_BAD && state != PGRES_POLLING_OK &&
           state != PGRES_POLLING_FAILED) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (abort.load()) {
            give_up("interrupted (shutdown deadline)");
        }
        if (left.count() <= 0) {
            give_up("timeout expired after " + std::to_string(timeout.count()) + " ms");
        }
        pollfd fd{PQsocket(conn_),
                  static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
        const int ready =
            fd.fd < 0 ? 1 : ::poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), 50)));
        if (ready != 0) {  // ready, or an error poll cannot tell apart: libpq will say
            state = PQconnectPoll(conn_);
        }
    }
    if (PQstatus(conn_) != CONNECTION_OK) {
        give_up(PQerrorMessage(conn_));
    }
    // Every later call waits in poll() here, not inside libpq: bounded by reply_limit_ and
    // ended by `abort`, even on a path that swallows packets but keeps the socket open.
    if (PQsetnonblocking(conn_, 1) != 0) {
        give_up(PQerrorMessage(conn_));
    }
    // Made here, on the worker: interrupt() takes it to another thread (PQcancel is the
    // one libpq call that may run concurrently with the connection's owner).
    cancel_ = PQgetCancel(conn_);
}

pg_connection::~pg_connection() {
    if (cancel_ != nullptr) {
        PQfreeCancel(cancel_);
    }
    if (conn_ != nullptr) {
        PQfinish(conn_);
    }
}

bool pg_connection::ok() const noexcept {
    return !broken_ && PQstatus(conn_) == CONNECTION_OK;
}

int pg_connection::server_version() const noexcept {
    return PQserverVersion(conn_);
}

pg_result_ptr pg_connection::exec(const std::string& sql) {
    pg_result_ptr r = send_and_wait(sql);
    check(r.get(), PGRES_COMMAND_OK, PGRES_TUPLES_OK);
    return r;
}

void pg_connection::copy_start(const std::string& copy_sql) {
    if (PQsendQuery(conn_, copy_sql.c_str()) != 1) {
        fail(nullptr);
    }
    flush();
}

void pg_connection::copy_ready() {
    pg_result_ptr start = last_result();
    check(start.get(), PGRES_COPY_IN, PGRES_COPY_IN);
}

void pg_connection::copy_send(std::string_view data) {
    int queued;
    while ((queued = PQputCopyData(conn_, data.data(), static_cast<int>(data.size()))) == 0) {
        flush();  // libpq's buffer is full: send some first
    }
    if (queued != 1) {
        fail(nullptr);
    }
    flush();
}

void pg_connection::copy_end() {
    int ended;
    while ((ended = PQputCopyEnd(conn_, nullptr)) == 0) {
        flush();
    }
    if (ended != 1) {
        fail(nullptr);
    }
    flush();
    // The COPY's outcome, then nothing more (drain every result libpq has).
    check(last_result().get(), PGRES_COMMAND_OK, PGRES_COMMAND_OK);
}

nlohmann::json pg_connection::tls_description() const {
    nlohmann::json out{{"tls", PQsslInUse(conn_) == 1}};
    if (PQsslInUse(conn_) == 1) {
        for (const char* attribute : {"protocol", "cipher"}) {
            const char* value = PQsslAttribute(conn_, attribute);
            out[std::string("tls_") + attribute] = value != nullptr ? value : "";
        }
    }
    return out;
}

void pg_connection::give_up(const std::string& message) {
    const std::string text = "cannot connect to PostgreSQL: " + first_line(message.c_str());
    PQfinish(conn_);
    conn_ = nullptr;
    throw pg_error(text, "", true);
}

// connect_timeout from the conninfo (libpq's rule: at least 2 s), if set.
std::optional<std::chrono::milliseconds> pg_connection::own_connect_timeout() const {
    std::optional<std::chrono::milliseconds> found;
    if (PQconninfoOption* options = PQconninfo(conn_)) {
        for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
            if (std::string_view(o->keyword) == "connect_timeout" && o->val && *o->val) {
                const long seconds = std::strtol(o->val, nullptr, 10);
                if (seconds > 0) {
                    found = std::chrono::seconds(std::max(seconds, 2L));
                }
            }
        }
        PQconninfoFree(options);
    }
    return found;
}

// Sends `sql` and returns its result (the last one, or the first error; a COPY's start).
pg_result_ptr pg_connection::send_and_wait(const std::string& sql) {
    if (PQsendQuery(conn_, sql.c_str()) != 1) {
        fail(nullptr);
    }
    flush();
    return last_result();
}

pg_result_ptr pg_connection::last_result() {
    pg_result_ptr kept;
    for (pg_result_ptr r = next_result(); r; r = next_result()) {
        const ExecStatusType status = PQresultStatus(r.get());
        if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT) {
            return r;  // the caller goes on with the copy
        }
        if (!kept || PQresultStatus(kept.get()) != PGRES_FATAL_ERROR) {
            kept = std::move(r);
        }
    }
    return kept;
}

pg_result_ptr pg_connection::next_result() {
    while (PQisBusy(conn_) == 1) {
        wait_socket(false);
    }
    return pg_result_ptr(PQgetResult(conn_));
}

// Sends what libpq has buffered (non-blocking mode).
void pg_connection::flush() {
    for (int left = PQflush(conn_); left != 0; left = PQflush(conn_)) {
        if (left < 0) {
            fail(nullptr);
        }
        wait_socket(true);
    }
}

// Waits until the socket can be read (or written, `for_write`), then lets libpq read what
// came (the server may answer while we send). Polls in short slices to see `abort_`; gives
// the connection up when nothing moves for reply_limit_.
void pg_connection::wait_socket(bool for_write) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        if (abort_.load()) {
            lose("interrupted (shutdown deadline)");
        }
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
        if (reply_limit_.count() > 0 && waited >= reply_limit_) {
            lose("no reply from PostgreSQL within " + std::to_string(reply_limit_.count()) +
                 " ms (statement_timeout + max(tcp_user_timeout, 1 s))");
        }
        pollfd fd{PQsocket(conn_), static_cast<short>(POLLIN | (for_write ? POLLOUT : 0)), 0};
        if (fd.fd < 0) {
            fail(nullptr);
        }
        const int ready = ::poll(&fd, 1, 100);
        if (ready > 0) {
            if (PQconsumeInput(conn_) != 1) {
                fail(nullptr);
            }
            return;
        }
        if (ready < 0 && errno != EINTR) {
            lose(std::string("poll failed: ") + std::strerror(errno));
        }
    }
}

void pg_connection::lose(const std::string& why) {
    broken_ = true;  // libpq still thinks it is fine: the caller must drop it
    throw pg_error(why, "", true);
}

void pg_connection::check(PGresult* r, int want, int also) {
    const int status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status != want && status != also) {
        fail(r);
    }
}

void pg_connection::fail(PGresult* r) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = state ? state : "";
    const std::string message =
        r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
    const bool lost = !ok() || sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" ||
                      sqlstate == "57P02" || sqlstate == "57P03";
    const char* constraint = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : nullptr;
    throw pg_error(first_line(message.c_str()), sqlstate, lost, constraint ? constraint : "");
}

std::string pg_connection::escaped(const std::string& text, bool identifier) {
    char* out = identifier ? PQescapeIdentifier(conn_, text.data(), text.size())
                           : PQescapeLiteral(conn_, text.data(), text.size());
    if (out == nullptr) {
        fail(nullptr);
    }
    std::string quoted(out);
    PQfreemem(out);
    return quoted;
}

}  // namespace spdlog_ext::detail
