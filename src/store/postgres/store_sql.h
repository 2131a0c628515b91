// Internal: a log_filter as SQL. Pure (no connection, no libpqxx): every value becomes a parameter ($n, sent
// as text and cast in the SQL), so hostile filter text can change only the parameters, never
// the statement. Unit-tested without a server (tests/test_store_sql.cpp).
#pragma once

#include <cstddef>
#include <string>

#include "spdlog_ext/postgres_log_store.h"
#include "store/postgres/store_params.h"

namespace spdlog_ext::detail::store {

// "a AND b AND ..." over the log table's columns ("TRUE" for an empty filter). The parameters it
// uses are appended to `params` and numbered from params.size() + 1 on. Throws
// store_error(bad_filter) for a filter that cannot be expressed (a field that is not an object).
std::string filter_sql(const log_filter& filter, sql_params& params);

// The column list that row_from() (store_rows.h) reads, in that order.
const std::string& select_columns();

}  // namespace spdlog_ext::detail::store
