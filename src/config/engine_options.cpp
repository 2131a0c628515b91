// env_options::apply_engine: the engine options every engine-backed backend understands
// (LOG_<BACKEND>_QUEUE_MAX_RECORDS, ..._OVERFLOW, ..._REDACT, ..._FALLBACK, ..._SHED_LEVEL),
// mapped once here.
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "config/fallback_spec.h"
#include "core/text.h"
#include "spdlog_ext/env_options.h"
#include "spdlog_ext/redaction.h"

namespace spdlog_ext {

namespace {

struct size_option {
    const char* name;
    std::size_t engine_config::*member;
    bool bytes;
    std::size_t minimum;
};
struct duration_option {
    const char* name;
    std::chrono::milliseconds engine_config::*member;
};

const size_option size_options[] = {
    {"QUEUE_MAX_RECORDS", &engine_config::queue_max_records, false, 1},
    {"QUEUE_MAX_BYTES", &engine_config::queue_max_bytes, true, 1024},
    {"BATCH_MAX_RECORDS", &engine_config::batch_max_records, false, 1},
    {"BATCH_MAX_BYTES", &engine_config::batch_max_bytes, true, 1},
    {"RETRY_MAX_ATTEMPTS", &engine_config::retry_max_attempts, false, 0},
    {"MAX_RECORD_BYTES", &engine_config::max_record_bytes, true, 1024},
};
const duration_option duration_options[] = {
    {"BLOCK_TIMEOUT", &engine_config::block_timeout},
    {"BATCH_MAX_DELAY", &engine_config::batch_max_delay},
    {"MIN_WRITE_INTERVAL", &engine_config::min_write_interval},
    {"RETRY_INITIAL", &engine_config::retry_initial},
    {"RETRY_MAX_DELAY", &engine_config::retry_max_delay},
    {"RETRY_MAX_ELAPSED", &engine_config::retry_max_elapsed},
    {"FLUSH_TIMEOUT", &engine_config::flush_timeout},
    {"SHUTDOWN_TIMEOUT", &engine_config::shutdown_timeout},
};

// A fraction in (0, 1]: 0.8 or 80%.
double fraction_of(const env_options& env, std::string_view option, const std::string& value) {
    std::string v = detail::trim(value);
    const bool percent = !v.empty() && v.back() == '%';
    if (percent) {
        v = detail::trim(v.substr(0, v.size() - 1));
    }
    // Digits by hand: std::stod follows the host program's locale (a decimal comma).
    double f = 0;
    double scale = 1;
    bool digits = false;
    bool well_formed = true;
    bool point = false;
    for (char c : v) {
        if (c >= '0' && c <= '9') {
            digits = true;
            if (point) {
                scale /= 10;
                f += (c - '0') * scale;
            } else {
                f = f * 10 + (c - '0');
            }
        } else if (c == '.' && !point) {
            point = true;
        } else {
            well_formed = false;
        }
    }
    if (percent) {
        f /= 100;
    }
    if (!digits || !well_formed || !(f > 0.0 && f <= 1.0)) {
        env.fail(option,
                 "'" + value + "' is not a fraction in (0, 1] of the queue (e.g. 0.8 or 80%)");
    }
    return f;
}

}  // namespace

namespace detail {

std::optional<fallback_spec> fallback_spec_from(const env_options& env) {
    auto fallback = env.raw("FALLBACK");
    if (!fallback) {
        return std::nullopt;
    }
    const std::string v = trim(*fallback);
    fallback_spec spec;
    if (lower(v) == "stderr") {
        spec.sink = fallback_spec::kind::engine_default;
    } else if (lower(v) == "stdout") {
        spec.sink = fallback_spec::kind::standard_output;
    } else if (lower(v) == "null") {
        spec.sink = fallback_spec::kind::discard;
    } else if (lower(v.substr(0, 5)) == "file:" && v.size() > 5) {
        spec.sink = fallback_spec::kind::jsonl_file;
        spec.path = v.substr(5);
    } else {
        env.fail("FALLBACK", "'" + v + "' is not one of: stderr, stdout, null, file:<path>");
    }
    return spec;
}

}  // namespace detail

void env_options::apply_engine(engine_config& cfg) const {
    if (cfg.name.empty()) {
        cfg.name = backend_;
    }
    for (const auto& opt : size_options) {
        const std::size_t current = cfg.*opt.member;
        const std::size_t value =
            opt.bytes ? get_bytes(opt.name, current) : get_size(opt.name, current);
        if (value < opt.minimum) {
            fail(opt.name, "must be at least " + std::to_string(opt.minimum));
        }
        cfg.*opt.member = value;
    }
    for (const auto& opt : duration_options) {
        cfg.*opt.member = get_duration(opt.name, cfg.*opt.member);
    }
    cfg.overflow = get_enum<overflow_policy>("OVERFLOW", cfg.overflow,
                                             {{"fallback", overflow_policy::fallback},
                                              {"block", overflow_policy::block},
                                              {"drop_newest", overflow_policy::drop_newest},
                                              {"drop_oldest", overflow_policy::drop_oldest}});
    if (auto spec = raw("REDACT")) {
        cfg.redaction = redactor::from_spec(*spec, variable("REDACT"));
    }
    if (auto fallback = detail::fallback_spec_from(*this)) {
        cfg.fallback = detail::make_fallback_sink(*fallback);
    }
    cfg.shed_level = get_level("SHED_LEVEL", cfg.shed_level);
    if (auto watermark = raw("SHED_WATERMARK")) {
        cfg.shed_watermark = fraction_of(*this, "SHED_WATERMARK", *watermark);
    }
    cfg.urgent_level = get_level("URGENT_LEVEL", cfg.urgent_level);
}

}  // namespace spdlog_ext
