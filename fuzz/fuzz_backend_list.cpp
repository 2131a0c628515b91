// LOG_BACKENDS (parse_backend_list): names come out lower-case, non-empty, without white space,
// commas or semicolons, unique, and equal to an independent reading of the list; the only exception
// allowed is config_error.
#include <cctype>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/registry.h"

namespace {

// The documented rule, written independently: split at ',' and ';', drop white space, lower-case,
// skip empty items and repeats.
std::vector<std::string> model(const std::string& list) {
    std::vector<std::string> names;
    std::set<std::string> seen;
    std::string item;
    for (std::size_t i = 0; i <= list.size(); ++i) {
        if (i == list.size() || list[i] == ',' || list[i] == ';') {
            if (!item.empty() && seen.insert(item).second) {
                names.push_back(item);
            }
            item.clear();
        } else if (!std::isspace(static_cast<unsigned char>(list[i]))) {
            const char c = list[i];
            item += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
        }
    }
    return names;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string list(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> names;
    try {
        names = spdlog_ext::parse_backend_list(list);
    } catch (const spdlog_ext::config_error&) {
        return 0;
    }
    std::set<std::string> seen;
    for (const auto& n : names) {
        FUZZ_CHECK(!n.empty(), "empty name", list);
        for (const char c : n) {
            FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), "upper-case letter in " + n, list);
            FUZZ_CHECK(c != ',' && c != ';' && !std::isspace(static_cast<unsigned char>(c)),
                       "separator or space in " + n, list);
        }
        FUZZ_CHECK(seen.insert(n).second, "repeated name " + n, list);
    }
    FUZZ_CHECK(names == model(list), "differs from the documented reading", list);
    return 0;
}
