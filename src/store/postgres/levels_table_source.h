// Internal: the runtime levels' table side: the SQL of <table>_levels (shared by
// postgres_log_store::get_levels/set_levels and the watcher) and the watcher's table source.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "config/levels/level_source.h"
#include "spdlog_ext/postgres_log_store.h"
#include "store/postgres/store_pqxx.h"

namespace spdlog_ext::detail::store {

// The NOTIFY channel of a levels table: derived from schema and table, so that watchers of
// another table (or schema) are not woken.
std::string levels_channel(const postgres_config& cfg);

// CREATE [SCHEMA and] TABLE IF NOT EXISTS <table>_levels; several processes doing it at once is
// not an error. `levels_table` is derived_sql("levels").
void ensure_levels_table(pqxx::connection& conn, const postgres_config& cfg,
                         const std::string& levels_table);

// The most specific row's spec for (service, host): (service, host), (service, ''), ('', host),
// ('', ''); std::nullopt when there is none. Throws pqxx errors (42P01: no table).
std::optional<std::string> read_levels(pqxx::connection& conn, const std::string& levels_table,
                                       const std::string& service, const std::string& host);

// The watcher's source: its own connection, LISTEN on levels_channel(cfg), a re-read on every
// notification and every `poll`, reconnection with backoff. Throws store_error(config) for
// settings that cannot work.
std::unique_ptr<level_source> make_levels_table_source(const postgres_config& cfg,
                                                       std::string service, std::string host,
                                                       std::chrono::milliseconds poll);

}  // namespace spdlog_ext::detail::store
