// postgres_log_store: construction, query, count, stats, cleanup. tail() is in store_tail.cpp,
// the levels in store_levels.cpp; the shared state in store_impl.h.
#include "spdlog_ext/postgres_log_store.h"

#include "store/postgres/store_impl.h"

namespace spdlog_ext {

postgres_log_store::postgres_log_store(postgres_config config)
    : impl_(std::make_unique<impl>(std::move(config))) {}

postgres_log_store postgres_log_store::from_env() { return postgres_log_store(postgres_config::from_env()); }

postgres_log_store::postgres_log_store(postgres_log_store&&) noexcept = default;
postgres_log_store& postgres_log_store::operator=(postgres_log_store&&) noexcept = default;
postgres_log_store::~postgres_log_store() = default;

const postgres_config& postgres_log_store::config() const { return impl_->cfg; }

// Step 0 stubs: implemented by the query/stats/cleanup work.
log_page postgres_log_store::query(const page_request&) {
    throw store_error(store_error::kind::server, "postgres_log_store::query: not implemented yet");
}
std::uint64_t postgres_log_store::count(const log_filter&) {
    throw store_error(store_error::kind::server, "postgres_log_store::count: not implemented yet");
}
log_stats postgres_log_store::stats(std::chrono::seconds, std::chrono::seconds, std::size_t) {
    throw store_error(store_error::kind::server, "postgres_log_store::stats: not implemented yet");
}
cleanup_result postgres_log_store::cleanup(int, bool) {
    throw store_error(store_error::kind::server, "postgres_log_store::cleanup: not implemented yet");
}
nlohmann::json log_row::to_json() const { return nlohmann::json::object(); }
nlohmann::json log_stats::to_json() const { return nlohmann::json::object(); }

}  // namespace spdlog_ext
