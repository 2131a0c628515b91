// Sets environment variables for one test and restores them afterwards.
#pragma once

#include <cstdlib>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace test {

class env_guard {
  public:
    env_guard() = default;
    env_guard(std::initializer_list<std::pair<const char*, const char*>> vars) {
        for (const auto& [name, value] : vars) {
            set(name, value);
        }
    }
    // Sets `name` (or unsets it when `value` is null), remembering the first value it had.
    void set(const char* name, const char* value) {
        if (saved_.count(name) == 0) {
            const char* old = std::getenv(name);
            saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
        }
        if (value) {
            setenv(name, value, 1);
        } else {
            unsetenv(name);
        }
    }
    void set(const std::string& name, const std::string& value) {
        set(name.c_str(), value.c_str());
    }
    void unset(const std::string& name) { set(name.c_str(), nullptr); }
    ~env_guard() {
        for (const auto& [name, value] : saved_) {
            if (value) {
                setenv(name.c_str(), value->c_str(), 1);
            } else {
                unsetenv(name.c_str());
            }
        }
    }

  private:
    std::map<std::string, std::optional<std::string>> saved_;
};

}  // namespace test
