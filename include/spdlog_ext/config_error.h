#pragma once

#include <stdexcept>
#include <string>

namespace spdlog_ext {

// A missing or malformed setting. what() names the variable and how to fix it; variable()
// gives the name alone. Never contains the value of a secret. Manual: docs/configuration.md.
class config_error : public std::runtime_error {
  public:
    config_error(std::string variable, const std::string& message)
        : std::runtime_error(message), variable_(std::move(variable)) {}
    const std::string& variable() const noexcept { return variable_; }

  private:
    std::string variable_;
};

}  // namespace spdlog_ext
