#include "spdlog_ext/fields_flag.h"

#include "spdlog_ext/record.h"

namespace spdlog_ext {

void fields_flag::format(const spdlog::details::log_msg& msg, const std::tm& /*tm_time*/,
                         spdlog::memory_buf_t& dest) {
    const nlohmann::json fields = fields_of(msg);
    if (!fields.is_object() || fields.empty()) {
        return;
    }
    const std::string text = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // A separating space, unless the line is empty so far or already ends with one ("%v %*").
    if (dest.size() > 0 && dest.data()[dest.size() - 1] != ' ' &&
        dest.data()[dest.size() - 1] != '\t') {
        dest.push_back(' ');
    }
    dest.append(text.data(), text.data() + text.size());
}

std::unique_ptr<spdlog::custom_flag_formatter> fields_flag::clone() const {
    return std::make_unique<fields_flag>();
}

std::unique_ptr<spdlog::pattern_formatter> make_pattern_formatter(
    const std::string& pattern, spdlog::pattern_time_type time_type) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(time_type);
    formatter->add_flag<fields_flag>(fields_flag_char).set_pattern(pattern);
    return formatter;
}

}  // namespace spdlog_ext
