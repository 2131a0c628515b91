#include "spdlog_ext/registry.h"

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include "core/text.h"
#include "core/warnings.h"
#include "registry/builtin_backends.h"
#include "registry/level_hook.h"
#include "spdlog_ext/engine/engine_sink.h"
#include "spdlog_ext/fields_flag.h"
#include "spdlog_ext/runtime_levels.h"

extern char** environ;  // POSIX; declared here because <unistd.h> does not always expose it

namespace spdlog_ext {

namespace {

struct registry_state {
    std::mutex mu;
    std::map<std::string, backend_factory> factories;
    // Sinks built here, so shutdown() can stop them; weak so they die with their last user.
    std::vector<std::weak_ptr<spdlog::sinks::sink>> built;
    // make_logger's shared sinks and the loggers it made.
    bool shared_built = false;
    std::vector<spdlog::sink_ptr> shared_sinks;
    std::set<std::string> made_loggers;
    bool levels_loaded = false;

    registry_state() : factories(detail::builtin_backends()) {}
};

registry_state& state() {
    static registry_state s;
    return s;
}

void warn(const std::string& message) {
    detail::warn(message);
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) {
        out += out.empty() ? "" : ", ";
        out += n;
    }
    return out;
}

// LOG_<NAME>_* variables that no option of the backend read: most likely typos.
void warn_unread_variables(const env_options& env, const std::vector<std::string>& backends) {
    const std::string prefix = "LOG_" + detail::upper(env.backend()) + "_";
    std::vector<std::string> unknown;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string entry(*e);
        std::string name = entry.substr(0, entry.find('='));
        if (name.rfind(prefix, 0) != 0) {
            continue;
        }
        // LOG_FILE_... must not be blamed on a backend named "file_x" and vice versa.
        bool other_backend = false;
        for (const auto& b : backends) {
            const std::string other = "LOG_" + detail::upper(b) + "_";
            if (other.size() > prefix.size() && name.rfind(other, 0) == 0) {
                other_backend = true;
            }
        }
        if (!other_backend && env.looked_up().count(name.substr(prefix.size())) == 0) {
            unknown.push_back(name);
        }
    }
    if (!unknown.empty()) {
        warn("ignoring " + join(unknown) + ": not an option of the '" + env.backend() +
             "' backend (see docs/configuration.md for its variables)");
    }
}

}  // namespace

void register_backend(const std::string& name, backend_factory factory) {
    std::string key;
    for (char c : name) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
            throw std::invalid_argument("spdlog_ext::register_backend: invalid name '" + name +
                                        "' (use letters, digits and '_')");
        }
        key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (key.empty() || !factory) {
        throw std::invalid_argument("spdlog_ext::register_backend: empty name or factory");
    }
    std::lock_guard<std::mutex> lock(state().mu);
    state().factories[key] = std::move(factory);
}

std::vector<std::string> registered_backends() {
    std::lock_guard<std::mutex> lock(state().mu);
    std::vector<std::string> names;
    for (const auto& [name, factory] : state().factories) {
        names.push_back(name);
    }
    return names;  // std::map keeps them sorted
}

std::vector<std::string> parse_backend_list(std::string_view list) {
    std::vector<std::string> names;
    for (const std::string_view item : detail::split_any(list, ",;")) {
        std::string name;  // without any white space: "con sole" is "console"
        for (const char c : item) {
            if (!std::isspace(static_cast<unsigned char>(c))) {
                name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
        }
        if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
            names.push_back(std::move(name));
        }
    }
    return names;
}

namespace {

bool strict_from_env() {
    const auto value = getenv_value("LOG_STRICT");
    if (!value) {
        return false;
    }
    if (const auto b = detail::boolean_word(detail::lower(detail::trim(*value)))) {
        return *b;
    }
    warn("LOG_STRICT: '" + *value +
         "' is not a boolean (use true or false); broken backends are skipped with a warning");
    return false;
}

bool is_strict(strictness mode) {
    return mode == strictness::strict || (mode == strictness::from_env && strict_from_env());
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] =
                std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0u : 1u)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// "postgress" → " (did you mean 'postgres'?)": the nearest known name within 2 edits (1 for
// short names); "console|file" → a hint about the separators.
std::string hint_for(const std::string& unknown, const std::vector<std::string>& known) {
    std::string best;
    std::size_t best_distance = 3;
    for (const auto& name : known) {
        const std::size_t d = edit_distance(unknown, name);
        if (d < best_distance && d < std::max<std::size_t>(2, name.size() / 2)) {
            best = name;
            best_distance = d;
        }
    }
    if (!best.empty()) {
        return " (did you mean '" + best + "'?)";
    }
    const bool odd_char = std::any_of(unknown.begin(), unknown.end(), [](unsigned char c) {
        return !(std::isalnum(c) || c == '_');
    });
    return odd_char ? " (separate backend names with ',')" : "";
}

// One warning for the unknown names of a list, or a config_error in strict mode.
void report_unknown(const std::vector<std::string>& unknown, bool strict) {
    const auto known = registered_backends();
    std::string listed;
    for (const auto& name : unknown) {
        listed += listed.empty() ? "" : ", ";
        listed += "'" + name + "'" + hint_for(name, known);
    }
    const std::string message = "LOG_BACKENDS: unknown backend" +
                                std::string(unknown.size() > 1 ? "s " : " ") + listed +
                                "; known backends: " + join(known);
    if (strict) {
        throw config_error("LOG_BACKENDS", message);
    }
    warn(message + ". Skipped; the other backends are built");
}

// Builds one backend with its LOG_<NAME>_LEVEL / _PATTERN; throws what the factory throws.
spdlog::sink_ptr build_backend(const std::string& name, const backend_factory& factory,
                               const std::vector<std::string>& names) {
    env_options env(name);
    // Checked before the factory runs, so that a bad value does not start (and stop) a sink.
    (void)env.get_level("LEVEL", spdlog::level::trace);
    spdlog::sink_ptr sink = factory(env);
    if (!sink) {
        throw config_error("LOG_BACKENDS",
                           "LOG_BACKENDS: the factory of backend '" + name + "' returned no sink");
    }
    // A sink may choose its own default (slack: err).
    sink->set_level(env.get_level("LEVEL", sink->level()));
    if (auto pattern = env.raw("PATTERN")) {
        if (auto* engine = dynamic_cast<engine_sink*>(sink.get())) {
            engine->set_message_pattern(*pattern);  // set_formatter() is the logger's
        } else {
            sink->set_formatter(make_pattern_formatter(*pattern));
        }
    }
    if (name == "postgres") {  // the runtime levels' switches (level_hook.cpp), not the sink's
        (void)env.raw("LEVELS");
        (void)env.raw("LEVELS_SERVICE");
    }
    warn_unread_variables(env, names);
    return sink;
}

// The sink used when a list names backends but none of them could be built.
spdlog::sink_ptr fallback_console(const std::vector<std::string>& names) {
    backend_factory factory;
    {
        std::lock_guard<std::mutex> lock(state().mu);
        auto it = state().factories.find("console");
        if (it != state().factories.end()) {
            factory = it->second;
        }
    }
    if (factory) {
        try {
            return build_backend("console", factory, names);
        } catch (const std::exception&) {
            // its own settings are broken too (already reported): the plain default below
        }
    }
    auto plain = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
    plain->set_formatter(make_pattern_formatter(default_text_pattern));
    return plain;
}

}  // namespace

std::vector<spdlog::sink_ptr> sinks_from_string(std::string_view list, strictness mode) {
    const bool strict = is_strict(mode);
    auto names = parse_backend_list(list);
    if (names.empty()) {
        names.push_back("console");  // as for an unset or blank LOG_BACKENDS
    }
    std::vector<std::pair<std::string, backend_factory>> chosen;
    std::vector<std::string> unknown;
    {
        std::lock_guard<std::mutex> lock(state().mu);
        for (const auto& name : names) {
            auto it = state().factories.find(name);
            if (it == state().factories.end()) {
                unknown.push_back(name);
            } else {
                chosen.emplace_back(name, it->second);
            }
        }
    }
    if (!unknown.empty()) {
        report_unknown(unknown, strict);
    }
    std::vector<spdlog::sink_ptr> sinks;
    for (const auto& [name, factory] : chosen) {
        if (strict) {
            sinks.push_back(build_backend(name, factory, names));
            continue;
        }
        // Lenient: one broken backend must not take the others (or the program) down.
        try {
            sinks.push_back(build_backend(name, factory, names));
        } catch (const config_error& e) {
            warn("backend '" + name + "' not started: " + e.what() +
                 " (the other backends run; LOG_STRICT=true makes this fatal)");
        } catch (const std::exception& e) {
            warn("backend '" + name + "' not started: its factory threw: " + e.what() +
                 " (the other backends run)");
        }
    }
    if (sinks.empty()) {
        warn("LOG_BACKENDS: no backend of '" + std::string(list) +
             "' could be built; logging to 'console' instead");
        sinks.push_back(fallback_console(names));
    }
    std::lock_guard<std::mutex> lock(state().mu);
    auto& built = state().built;
    built.erase(
        std::remove_if(built.begin(), built.end(), [](const auto& w) { return w.expired(); }),
        built.end());
    built.insert(built.end(), sinks.begin(), sinks.end());
    return sinks;
}

std::vector<spdlog::sink_ptr> sinks_from_env(strictness mode) {
    auto value = getenv_value("LOG_BACKENDS");
    auto sinks = sinks_from_string(value ? *value : std::string("console"), mode);
    start_level_watcher_from_env();  // LOG_POSTGRES_LEVELS / LOG_LEVELS_FILE, once per process
    return sinks;
}

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, strictness mode) {
    auto& s = state();
    std::unique_lock<std::mutex> lock(s.mu);
    if (auto existing = spdlog::get(name)) {
        return existing;
    }
    if (!s.shared_built) {
        lock.unlock();  // factories may take time (connections) and use the registry
        auto sinks = sinks_from_env(mode);
        lock.lock();
        if (!s.shared_built) {
            s.shared_sinks = std::move(sinks);
            s.shared_built = true;
        }
    }
    if (!s.levels_loaded) {
        // Let spdlog's cfg parse SPDLOG_LEVEL and keep the levels in its registry.
        spdlog::cfg::load_env_levels();
        detail::reapply_env_levels();  // the runtime levels stay on top of SPDLOG_LEVEL
        s.levels_loaded = true;
    }
    // spdlog's initialize_logger() applies the global settings (level with SPDLOG_LEVEL's
    // per-logger levels, flush level, error handler, backtrace) but also replaces every sink's
    // formatter with the global pattern, which the shared sinks must keep. So a sink-less probe
    // is initialised, and its clone (the copy has the probe's settings) gets the sinks.
    auto probe = std::make_shared<spdlog::logger>(name);
    try {
        spdlog::initialize_logger(probe);  // registers it when automatic registration is on
    } catch (const spdlog::spdlog_ex&) {
        if (auto existing = spdlog::get(name)) {  // another thread registered the name
            return existing;
        }
        throw;
    }
    if (spdlog::get(name) == probe) {
        spdlog::drop(name);
    }
    auto logger = probe->clone(name);
    logger->sinks() = s.shared_sinks;
    try {
        spdlog::register_logger(logger);
    } catch (const spdlog::spdlog_ex&) {
        if (auto existing = spdlog::get(name)) {  // another thread won the race
            return existing;
        }
        throw;
    }
    s.made_loggers.insert(name);
    detail::apply_env_levels_to(*logger);  // a level change between the probe and now
    return logger;
}

bool shutdown(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<spdlog::sink_ptr> sinks;
    std::set<std::string> loggers;
    {
        std::lock_guard<std::mutex> lock(state().mu);
        for (auto& w : state().built) {
            if (auto sink = w.lock()) {
                sinks.push_back(sink);
            }
        }
        state().built.clear();
        loggers.swap(state().made_loggers);
        state().shared_sinks.clear();
        state().shared_built = false;
        state().levels_loaded = false;  // the next make_logger reads SPDLOG_LEVEL again
    }
    bool drained = true;
    for (auto& sink : sinks) {
        if (auto* engine = dynamic_cast<engine_sink*>(sink.get())) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            drained = engine->shutdown(std::max(left, std::chrono::milliseconds(0))) && drained;
        } else {
            try {
                sink->flush();
            } catch (const std::exception&) {
                drained = false;
            }
        }
    }
    for (const auto& name : loggers) {
        spdlog::drop(name);
    }
    detail::stop_env_level_watcher();
    return drained;
}

void set_warning_handler(std::function<void(const std::string&)> handler) {
    detail::set_warning_handler(std::move(handler));
}

}  // namespace spdlog_ext
