// libFuzzer: the strict level spec parser. Never crashes; what it accepts is within the limits,
// and its canonical text parses back to the same spec.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "spdlog_ext/runtime_levels.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string error;
    const auto spec = spdlog_ext::parse_level_spec(text, &error);
    if (!spec) {
        if (error.empty())
            std::abort();  // a refusal always says why
        return 0;
    }
    if (text.size() > spdlog_ext::max_level_spec_bytes)
        std::abort();
    for (const auto& entry : spec->loggers) {
        if (entry.first.empty() || entry.first.find_first_of(",=") != std::string::npos)
            std::abort();
    }
    // The canonical names ("warning", "error") may make it longer than the limit: compare then.
    const std::string canonical = spec->to_string();
    if (canonical.size() > spdlog_ext::max_level_spec_bytes)
        return 0;
    const auto again = spdlog_ext::parse_level_spec(canonical);
    if (!again || !(*again == *spec))
        std::abort();
    return 0;
}
