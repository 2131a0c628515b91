#include "cli_output.h"

#include <unistd.h>

#include <cstdlib>
#include <ctime>

namespace spdlog_ext_cli {

namespace {

using spdlog::level::level_enum;

const char* level_label(level_enum level) {
    switch (level) {
        case level_enum::trace:
            return "TRACE";
        case level_enum::debug:
            return "DEBUG";
        case level_enum::info:
            return "INFO ";
        case level_enum::warn:
            return "WARN ";
        case level_enum::err:
            return "ERROR";
        case level_enum::critical:
            return "CRIT ";
        default:
            return "OFF  ";
    }
}

const char* level_color(level_enum level) {
    switch (level) {
        case level_enum::trace:
            return "\033[90m";
        case level_enum::debug:
            return "\033[36m";
        case level_enum::info:
            return "\033[32m";
        case level_enum::warn:
            return "\033[33m";
        case level_enum::err:
            return "\033[31m";
        case level_enum::critical:
            return "\033[1;31m";
        default:
            return "";
    }
}

// Stored text as printable: control characters (ESC included) become \xNN; newlines and tabs
// stay unless `one_line`.
std::string printable(const std::string& text, bool one_line) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 || u == 0x7f) && !(!one_line && (c == '\n' || c == '\t'))) {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    return out;
}

std::string json_text(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void put(std::FILE* out, const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), out);
}

}  // namespace

bool want_color(const std::string& mode, std::FILE* stream) {
    if (mode == "always") {
        return true;
    }
    if (mode == "never") {
        return false;
    }
    const char* no_color = std::getenv("NO_COLOR");
    if (no_color != nullptr && *no_color != '\0') {
        return false;
    }
    return ::isatty(::fileno(stream)) == 1;
}

std::string format_time(spdlog_ext::log_time time, bool utc) {
    const auto since_epoch = time.time_since_epoch().count();
    std::int64_t seconds = since_epoch / 1000000;
    std::int64_t micros = since_epoch % 1000000;
    if (micros < 0) {
        micros += 1000000;
        --seconds;
    }
    const auto t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    if (utc) {
        gmtime_r(&t, &tm);
    } else {
        localtime_r(&t, &tm);
    }
    char buffer[64];
    const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
    char fraction[16];
    std::snprintf(fraction, sizeof fraction, ".%06lld", static_cast<long long>(micros));
    return std::string(buffer, n) + fraction;
}

void print_row(const spdlog_ext::log_row& row, const output_style& style, std::FILE* out) {
    if (style.json) {
        put(out, json_text(row.to_json()) + "\n");
        return;
    }
    std::string line = format_time(row.timestamp, style.utc) + " ";
    if (style.color) {
        line += std::string(level_color(row.level)) + level_label(row.level) + "\033[0m";
    } else {
        line += level_label(row.level);
    }
    line += " " + printable(row.logger, true);
    if (row.hostname && !row.hostname->empty()) {
        line += "[" + printable(*row.hostname, true) + "]";
    }
    // Continuation lines of the message line up under it.
    std::string message = printable(row.message, false);
    for (std::size_t pos = 0; (pos = message.find('\n', pos)) != std::string::npos; pos += 5) {
        message.replace(pos, 1, "\n    ");
    }
    line += " " + message;
    if (row.extra.is_object() && !row.extra.empty()) {
        line += " ";
        for (auto it = row.extra.begin(); it != row.extra.end(); ++it) {
            const std::string value =
                it.value().is_string() ? it.value().get<std::string>() : json_text(it.value());
            line += " " + printable(it.key(), true) + "=" + printable(value, true);
        }
    }
    line += "\n";
    if (row.exception && !row.exception->empty()) {
        std::string exception = "    " + printable(*row.exception, false);
        for (std::size_t pos = 0; (pos = exception.find('\n', pos)) != std::string::npos;
             pos += 5) {
            exception.replace(pos, 1, "\n    ");
        }
        line += exception + "\n";
    }
    put(out, line);
}

void print_stats(const spdlog_ext::log_stats& stats, const output_style& style, std::FILE* out) {
    if (style.json) {
        put(out, json_text(stats.to_json()) + "\n");
        return;
    }
    std::string text = "window  " + format_time(stats.from, style.utc) + " .. " +
                       format_time(stats.to, style.utc) + " (buckets of " +
                       std::to_string(stats.bucket.count()) + " s)\n";
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.2f%%", stats.error_rate * 100.0);
    text += "total   " + std::to_string(stats.total) + " rows, " + std::to_string(stats.errors) +
            " errors (" + rate + "), " + std::to_string(stats.loggers) + " loggers\n";
    text += "levels ";
    for (const auto& [level, n] : stats.by_level) {
        text += " " + std::string(spdlog::level::to_string_view(level).data()) + "=" +
                std::to_string(n);
    }
    text += "\n";
    text += "top loggers\n";
    for (const auto& [name, n] : stats.by_logger) {
        text += "  " + std::to_string(n) + "\t" + printable(name, true) + "\n";
    }
    text += "hosts\n";
    for (const auto& [name, n] : stats.by_host) {
        text += "  " + std::to_string(n) + "\t" + printable(name, true) + "\n";
    }
    std::uint64_t most = 1;
    for (const auto& b : stats.buckets) {
        most = b.count > most ? b.count : most;
    }
    text += "buckets\n";
    for (const auto& b : stats.buckets) {
        const auto width = static_cast<std::size_t>(b.count * 40 / most);
        text += "  " + format_time(b.start, style.utc).substr(0, 19) + "  " +
                std::to_string(b.count) + "\t" + std::to_string(b.errors) + " err\t" +
                std::string(width, '#') + "\n";
    }
    put(out, text);
}

}  // namespace spdlog_ext_cli
