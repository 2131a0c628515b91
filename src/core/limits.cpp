#include "core/limits.h"

#include <utility>
#include <vector>

#include "core/utf8.h"
#include "spdlog_ext/record.h"

namespace spdlog_ext::detail {

namespace {
using json = nlohmann::json;
}  // namespace

bool deeper_than(const json& value, std::size_t levels) {
    if (!value.is_structured()) {
        return false;
    }
    std::vector<std::pair<const json*, std::size_t>> todo{{&value, 1}};
    while (!todo.empty()) {
        const auto [node, level] = todo.back();
        todo.pop_back();
        if (level > levels) {
            return true;
        }
        for (const auto& child : *node) {  // arrays and objects alike: the values
            if (child.is_structured()) {
                todo.emplace_back(&child, level + 1);
            }
        }
    }
    return false;
}

json depth_capped_copy(const json& value, std::size_t levels) {
    if (!value.is_structured()) {
        return value;
    }
    if (levels == 0) {
        return std::string(depth_marker);
    }
    // Each container is created empty, then filled from the stack; an array is given all its
    // elements at once (reserved), so the pointers to them stay valid.
    json out = value.is_object() ? json::object() : json::array();
    struct step {
        const json* from;
        json* to;
        std::size_t level;
    };
    std::vector<step> todo{{&value, &out, 1}};
    while (!todo.empty()) {
        const step s = todo.back();
        todo.pop_back();
        auto copy_child = [&](const json& child, json& slot) {
            if (!child.is_structured()) {
                slot = child;
            } else if (s.level + 1 > levels) {
                slot = std::string(depth_marker);
            } else {
                slot = child.is_object() ? json::object() : json::array();
                todo.push_back({&child, &slot, s.level + 1});
            }
        };
        if (s.from->is_object()) {
            for (auto it = s.from->begin(); it != s.from->end(); ++it) {
                copy_child(it.value(), (*s.to)[it.key()]);  // std::map: references are stable
            }
        } else {
            auto& array = s.to->get_ref<json::array_t&>();
            array.resize(s.from->size());
            std::size_t i = 0;
            for (const auto& child : *s.from) {
                copy_child(child, array[i++]);
            }
        }
    }
    return out;
}

void destroy_iteratively(json&& value) noexcept {
    if (!value.is_structured()) {
        return;
    }
    try {
        std::vector<json> todo;
        todo.push_back(std::move(value));
        while (!todo.empty()) {
            json node = std::move(todo.back());
            todo.pop_back();
            for (auto& child : node) {
                if (child.is_structured()) {
                    todo.push_back(std::move(child));  // leaves null behind
                }
            }
        }  // each node dies with scalar children only
    } catch (...) {
        // Out of memory for the stack: nothing left but the ordinary destructor.
    }
}

std::string truncation_marker(std::size_t cut_bytes) {
    return "\u2026[truncated " + std::to_string(cut_bytes) + " bytes]";
}

json cut_fields(const json& fields, std::size_t budget) {
    if (!fields.is_object()) {
        return fields;
    }
    // Sizes as approx_json_bytes() counts them: 48 an object or member, 48 + size a string.
    constexpr std::size_t member = 48;
    constexpr std::size_t string = 48;
    constexpr std::size_t marker = 40;      // truncation_marker() is shorter
    constexpr std::size_t min_string = 64;  // less room than this: leave the string out
    json out = json::object();
    std::size_t used = 48 + member + std::char_traits<char>::length(fields_truncated_field) +
                       string + marker;  // the object, and room for the fields_truncated field
    std::size_t cut = 0;
    for (auto it = fields.begin(); it != fields.end(); ++it) {
        const std::size_t size = member + it.key().size() + approx_json_bytes(it.value());
        if (used + size <= budget) {
            out[it.key()] = it.value();
            used += size;
            continue;
        }
        const std::size_t room = budget > used ? budget - used : 0;
        const std::size_t fixed = member + it.key().size() + string + marker;
        if (it.value().is_string() && room >= fixed + min_string) {
            const auto& text = it.value().get_ref<const std::string&>();
            const std::string_view kept = utf8::truncate(text, room - fixed);
            out[it.key()] = std::string(kept) + truncation_marker(text.size() - kept.size());
            used += fixed + kept.size();
            cut += text.size() - kept.size();
        } else {
            cut += size;
        }
    }
    if (cut > 0) {
        out[fields_truncated_field] = truncation_marker(cut);
    }
    return out;
}

}  // namespace spdlog_ext::detail
