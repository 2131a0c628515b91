// Internal: statement parameters as the store sends them: all text, NULL when empty; the SQL
// casts them ($1::int8, $2::timestamptz, ...). No libpqxx here, so pure code can use it.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace spdlog_ext::detail::store {

using sql_params = std::vector<std::optional<std::string>>;

}  // namespace spdlog_ext::detail::store
