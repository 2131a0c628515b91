// Settings from the environment: LOG_<BACKEND>_<OPTION>, typed, with errors that name the
// variable. Every backend (built-in or custom) reads its options through this one mapping:
//
//   spdlog_ext::env_options env("postgres");
//   auto n = env.get_size("BATCH_MAX_RECORDS", 1000);   // reads LOG_POSTGRES_BATCH_MAX_RECORDS
//   engine_config cfg; env.apply_engine(cfg);          // all engine options at once
#pragma once

#include <spdlog/common.h>

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "spdlog_ext/config_error.h"
#include "spdlog_ext/engine/engine_config.h"

namespace spdlog_ext {

// The value of an environment variable; nullopt when unset (an empty value counts as set).
std::optional<std::string> getenv_value(const std::string& name);

class env_options {
  public:
    explicit env_options(std::string backend);

    const std::string& backend() const noexcept { return backend_; }
    // LOG_<BACKEND>_<OPTION>, upper-case.
    std::string variable(std::string_view option) const;
    std::optional<std::string> raw(std::string_view option) const;

    std::string get_string(std::string_view option, std::string fallback_value) const;
    bool get_bool(std::string_view option,
                  bool fallback_value) const;  // 1/0 true/false on/off yes/no
    std::size_t get_size(std::string_view option, std::size_t fallback_value) const;
    // Sizes with an optional unit: 512, 64k, 10MB, 1GiB (k/M/G are powers of 1024).
    std::size_t get_bytes(std::string_view option, std::size_t fallback_value) const;
    // Durations with a unit: 250ms, 2s, 5m, 1h; a bare number is milliseconds.
    std::chrono::milliseconds get_duration(std::string_view option,
                                           std::chrono::milliseconds fallback_value) const;
    spdlog::level::level_enum get_level(std::string_view option,
                                        spdlog::level::level_enum fallback_value) const;
    // One of the given names (case-insensitive).
    template <typename E>
    E get_enum(std::string_view option, E fallback_value,
               std::initializer_list<std::pair<const char*, E>> names) const;

    // The engine's queue, batch, retry, timeout and fallback options (docs/configuration.md).
    void apply_engine(engine_config& cfg) const;

    // Options looked up so far (to warn about LOG_<BACKEND>_* variables nobody reads).
    const std::set<std::string>& looked_up() const noexcept { return looked_up_; }

    [[noreturn]] void fail(std::string_view option, const std::string& problem) const;

  private:
    std::string backend_;
    std::string prefix_;
    mutable std::set<std::string> looked_up_;
};

template <typename E>
E env_options::get_enum(std::string_view option, E fallback_value,
                        std::initializer_list<std::pair<const char*, E>> names) const {
    auto value = raw(option);
    if (!value) {
        return fallback_value;
    }
    std::string lowered;
    for (char c : *value) {
        if (c != ' ') {
            lowered += static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
        }
    }
    std::string choices;
    for (const auto& [name, e] : names) {
        if (lowered == name) {
            return e;
        }
        choices += choices.empty() ? "" : ", ";
        choices += name;
    }
    fail(option, "'" + *value + "' is not one of: " + choices);
}

}  // namespace spdlog_ext
