// The watcher's table source. All its database work happens on the watcher's thread: a server
// that is down or slow delays only the next level change, never a log call. A lost connection
// keeps the last good levels and is retried with backoff (0.25 s doubling to 5 s).
#include "store/postgres/levels_table_source.h"

#include <algorithm>

#include "config/levels/file_level_source.h"
#include "config/levels/level_watcher.h"
#include "core/warnings.h"
#include "sinks/postgres/postgres_ddl.h"
#include "store/postgres/store_impl.h"

namespace spdlog_ext {

namespace detail::store {

namespace {

constexpr auto first_retry = std::chrono::milliseconds(250);
constexpr auto max_retry = std::chrono::milliseconds(5000);

class levels_table_source final : public level_source {
  public:
    levels_table_source(const postgres_config& cfg, std::string service, std::string host,
                        std::chrono::milliseconds poll)
        : names_(cfg),
          table_(names_.derived_sql("levels")),
          channel_(levels_channel(names_.cfg)),
          service_(std::move(service)),
          host_(std::move(host)),
          poll_(std::max(poll, std::chrono::milliseconds(100))) {}

    ~levels_table_source() override { disconnect(); }

    std::string name() const override {
        return "the levels table " +
               (names_.cfg.schema.empty() ? std::string() : names_.cfg.schema + ".") +
               pg_derived_name(names_.cfg.table_name(), "levels");
    }

    std::optional<level_reading> check(clock::time_point now) override {
        try {
            bool reread = now >= due_;
            if (!conn_) {
                if (now < retry_at_)
                    return std::nullopt;
                connect();
                reread = true;
            }
            // A closed connection would leave its socket readable forever: a spinning loop.
            if (!conn_->is_open())
                throw pqxx::broken_connection("the connection was closed");
            (void)get_notifications(*conn_);  // runs the LISTEN callback: sets notified_
            if (notified_) {
                notified_ = false;
                reread = true;
            }
            if (!reread)
                return std::nullopt;
            due_ = clock::now() + poll_;
            level_reading reading;
            try {
                if (auto spec = read_levels(*conn_, table_, service_, host_)) {
                    reading.present = true;
                    reading.text = *spec;
                }
            } catch (const pqxx::sql_error& e) {
                if (e.sqlstate() != "42P01")
                    throw;  // a dropped table: no levels
            }
            register_exit_hook_after_first_use();  // libpqxx's lazy statics exist by now
            // A notification that arrived during the query is in libpq's queue now, no longer on
            // the socket: poll() would not wake for it. Collected here, it makes the next check
            // due at once.
            (void)get_notifications(*conn_);
            if (notified_)
                due_ = clock::now();
            if (failing_) {
                warn("runtime levels: " + name() + " is readable again");
                failing_ = false;
            }
            retry_delay_ = first_retry;
            ready_ = true;
            return reading;
        } catch (const std::exception& e) {
            fail(e.what());
        } catch (...) {
            fail("unknown error");
        }
        return std::nullopt;
    }

    clock::time_point next_due() const override { return conn_ ? due_ : retry_at_; }
    int wait_fd() const override { return conn_ ? socket_of(*conn_) : -1; }
    bool ready() const override { return ready_; }

  private:
    void connect() {
        conn_ = detail::store::connect(names_.conninfo);
        if (names_.cfg.create_table)
            ensure_levels_table(*conn_, names_.cfg, table_);
        // LISTEN before the first read: a change committed in between is then both read and
        // notified (a harmless second read), never lost.
        listener_ = listen(*conn_, channel_, [this](const std::string&) { notified_ = true; });
    }

    void disconnect() noexcept {
        try {
            listener_.reset();  // before its connection
        } catch (...) {
        }
        try {
            conn_.reset();
        } catch (...) {
        }
    }

    void fail(const std::string& what) {
        disconnect();
        if (!failing_) {  // once per outage
            warn("runtime levels: cannot read " + name() + ": " + names_.mask(what) +
                 "; the current levels stay, retrying");
            failing_ = true;
        }
        retry_at_ = clock::now() + retry_delay_;
        retry_delay_ = std::min(retry_delay_ * 2, max_retry);
    }

    postgres_log_store::impl
        names_;  // settings, conninfo, quoted names, masking (not its connection)
    std::string table_;
    std::string channel_;
    std::string service_, host_;
    std::chrono::milliseconds poll_;

    std::unique_ptr<pqxx::connection> conn_;
    std::unique_ptr<listener> listener_;
    bool notified_ = false;
    bool failing_ = false;
    bool ready_ = false;
    clock::time_point due_{};
    clock::time_point retry_at_{};
    std::chrono::milliseconds retry_delay_ = first_retry;
};

}  // namespace

std::unique_ptr<level_source> make_levels_table_source(const postgres_config& cfg,
                                                       std::string service, std::string host,
                                                       std::chrono::milliseconds poll) {
    return std::make_unique<levels_table_source>(cfg, std::move(service), std::move(host), poll);
}

}  // namespace detail::store

std::unique_ptr<level_watcher> start_postgres_level_watcher(const postgres_config& config,
                                                            level_watcher_options options) {
    if (options.service.empty())
        options.service = detail::default_level_service();
    if (options.host.empty())
        options.host = detail::default_level_host();
    std::vector<std::unique_ptr<detail::level_source>> sources;
    sources.push_back(detail::store::make_levels_table_source(config, options.service, options.host,
                                                              options.poll));
    if (!options.file.empty()) {
        sources.push_back(detail::make_file_level_source(options.file, options.file_check));
    }
    return detail::level_watcher_access::start(std::move(options), std::move(sources));
}

}  // namespace spdlog_ext
