// libpqxx 6.4 / 7.x differences (see store_pqxx.h). The SPDLOG_EXT_PQXX_* macros come from
// check_cxx_source_compiles in CMakeLists.txt.
#include "store/postgres/store_pqxx.h"

#include <utility>

namespace spdlog_ext::detail::store {

std::unique_ptr<pqxx::connection> connect(const std::string& conninfo) {
    return std::make_unique<pqxx::connection>(conninfo);
}

pqxx::result exec(pqxx::transaction_base& tx, const std::string& sql, const sql_params& params) {
#if defined(SPDLOG_EXT_PQXX_EXEC_PARAMS_OBJECT) || defined(SPDLOG_EXT_PQXX_EXEC_PARAMS_PARAMS)
    pqxx::params p;
    for (const auto& v : params) {
        if (v) {
            p.append(*v);
        } else {
            p.append();  // NULL
        }
    }
#if defined(SPDLOG_EXT_PQXX_EXEC_PARAMS_OBJECT)
    return tx.exec(sql, p);  // 7.9+: exec_params is deprecated
#else
    return tx.exec_params(sql, p);  // 7.6 .. 7.8
#endif
#else
    // libpqxx 6.x and early 7.x: a run-time list of C strings, nullptr for NULL.
    std::vector<const char*> raw;
    raw.reserve(params.size());
    for (const auto& v : params) raw.push_back(v ? v->c_str() : nullptr);
    return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(raw));
#endif
}

#if defined(SPDLOG_EXT_PQXX_CONNECTION_LISTEN)
namespace {
// 7.10+: connection::listen(channel, handler); the receiver class is deprecated.
class handler_listener final : public listener {
  public:
    handler_listener(pqxx::connection& conn, std::string channel) : conn_(conn), channel_(std::move(channel)) {}
    ~handler_listener() override {
        try {
            conn_.listen(channel_);  // an empty handler: UNLISTEN
        } catch (...) {
        }
    }

  private:
    pqxx::connection& conn_;
    std::string channel_;
};
}  // namespace

std::unique_ptr<listener> listen(pqxx::connection& conn, const std::string& channel,
                                 std::function<void(const std::string& payload)> on_notify) {
    conn.listen(channel, [fn = std::move(on_notify)](pqxx::notification n) {
        fn(std::string(n.payload.c_str(), n.payload.size()));
    });
    return std::make_unique<handler_listener>(conn, channel);
}
#else
namespace {
class receiver_listener final : public listener, public pqxx::notification_receiver {
  public:
    receiver_listener(pqxx::connection& conn, const std::string& channel,
                      std::function<void(const std::string&)> fn)
        : pqxx::notification_receiver(conn, channel), fn_(std::move(fn)) {}
    void operator()(const std::string& payload, int) override { fn_(payload); }

  private:
    std::function<void(const std::string&)> fn_;
};
}  // namespace

std::unique_ptr<listener> listen(pqxx::connection& conn, const std::string& channel,
                                 std::function<void(const std::string& payload)> on_notify) {
    return std::make_unique<receiver_listener>(conn, channel, std::move(on_notify));
}
#endif

int get_notifications(pqxx::connection& conn) { return conn.get_notifs(); }

int socket_of(const pqxx::connection& conn) { return conn.sock(); }

}  // namespace spdlog_ext::detail::store
