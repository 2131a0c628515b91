// Internal: a log_filter as SQL. Pure (no connection, no libpqxx): every value becomes a parameter
// ($n, sent as text and cast in the SQL), so hostile filter text can change only the parameters,
// never the statement. Also the text forms the SQL and the cursors share (timestamps, level names).
// Unit-tested without a server (tests/test_store_sql.cpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spdlog_ext/postgres_log_store.h"
#include "store/postgres/store_params.h"

namespace spdlog_ext::detail::store {

// "a AND b AND ..." over the log table's columns ("TRUE" for an empty filter). The parameters it
// uses are appended to `params` and numbered from params.size() + 1 on. Throws
// store_error(bad_filter) for a filter that cannot be expressed (a field that is not an object,
// a time outside years 1..9999).
// `promoted`: the table's promoted columns (postgres_config::columns): a field predicate on one
// of them matches its column or extra_data (where values that did not fit the type stayed).
std::string filter_sql(const log_filter& filter, sql_params& params,
                       const std::vector<postgres_column>& promoted = {});

// The column list that row_from() (store_rows.h) reads, in that order; the timestamp comes as
// timestamp_sql_text's format. With `promoted` columns, their non-NULL values are merged back
// into extra_data, so rows show the fields as they were logged.
std::string select_columns(const std::vector<postgres_column>& promoted = {});
// extra_data with the promoted columns' non-NULL values merged in (NULL when nothing is left).
std::string merged_extra_sql(const std::vector<postgres_column>& promoted);

// "YYYY-MM-DDTHH:MM:SS.uuuuuuZ": how timestamps travel as text (parameters, cursors, rows).
std::string format_timestamp(log_time t);
// The exact inverse of format_timestamp (years of 4 digits); nullopt for anything else.
std::optional<log_time> parse_timestamp(std::string_view text);

// The table's level names (TRACE DEBUG INFO WARNING ERROR CRITICAL) ↔ spdlog's levels.
const char* level_name(spdlog::level::level_enum level);
std::optional<spdlog::level::level_enum> level_from_name(std::string_view name);
// The levels a filter admits (its exact set, else min_level and above, else all six), sorted.
std::vector<spdlog::level::level_enum> effective_levels(const log_filter& filter);

// Text as the sink stored it: NUL → U+FFFD, invalid UTF-8 repaired (so a search for what was
// logged finds it, and the server never sees bytes a text parameter cannot hold).
std::string clean_text(std::string_view text);
// The same cleaning over every string and key of a JSON value.
nlohmann::json clean_json(const nlohmann::json& value);
// `text` with \ % _ escaped for LIKE ... ESCAPE '\'.
std::string like_escape(std::string_view text);
// A PostgreSQL text[] literal: {"a","b\"c"} (every element quoted; \ and " escaped).
std::string text_array(const std::vector<std::string>& items);

}  // namespace spdlog_ext::detail::store
