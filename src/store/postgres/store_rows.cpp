#include "store/postgres/store_rows.h"

#include <charconv>

#include "store/postgres/store_sql.h"

namespace spdlog_ext::detail::store {

namespace {

[[noreturn]] void bad_value(const char* column, const std::string& text) {
    throw store_error(store_error::kind::server, std::string("unexpected value in column ") +
                                                     column + ": " + text.substr(0, 80));
}

std::int64_t to_int(const char* column, const std::string& text) {
    std::int64_t value = 0;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), value);
    if (res.ec != std::errc() || res.ptr != text.data() + text.size())
        bad_value(column, text);
    return value;
}

std::optional<std::int64_t> opt_int(const char* column, const pqxx::field& f) {
    const auto t = text(f);
    if (!t)
        return std::nullopt;
    return to_int(column, *t);
}

}  // namespace

log_row row_from(const pqxx::row& row) {
    log_row out;
    out.id = to_int("id", text(row[0]).value_or(""));
    const std::string ts = text(row[1]).value_or("NULL");
    const auto parsed = parse_timestamp(ts);
    if (!parsed)
        bad_value("timestamp", ts);
    out.timestamp = *parsed;
    const std::string level = text(row[2]).value_or("NULL");
    const auto lv = level_from_name(level);
    if (!lv)
        bad_value("level", level);
    out.level = *lv;
    out.logger = text(row[3]).value_or("");
    out.message = text(row[4]).value_or("");
    out.exception = text(row[5]);
    out.hostname = text(row[6]);
    out.process_id = opt_int("process_id", row[7]);
    out.thread_id = opt_int("thread_id", row[8]);
    out.thread_name = text(row[9]);
    out.filename = text(row[10]);
    out.lineno = opt_int("lineno", row[11]);
    out.function_name = text(row[12]);
    if (const auto extra = text(row[13])) {
        try {
            out.extra = nlohmann::json::parse(*extra);
        } catch (const nlohmann::json::exception&) {
            bad_value("extra_data", *extra);
        }
    }
    return out;
}

}  // namespace spdlog_ext::detail::store
