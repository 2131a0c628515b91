// Internal: a result row (columns of store_sql.h's select_columns(), in order) as a log_row.
#pragma once

#include "spdlog_ext/postgres_log_store.h"
#include "store/postgres/store_pqxx.h"

namespace spdlog_ext::detail::store {

log_row row_from(const pqxx::row& row);

}  // namespace spdlog_ext::detail::store
