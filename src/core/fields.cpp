#include "spdlog_ext/fields.h"

#include "core/limits.h"
#include "core/thread_context.h"
#include "spdlog_ext/record.h"

namespace spdlog_ext {

// A field's value sits one level below the fields object: it may nest max_field_depth - 1 deep.
// Capped when pushed, so the stack, every snapshot and every record hold bounded trees, and
// nothing after this point (copies, sizes, redaction, encoders) recurses without bound.
constexpr std::size_t value_levels = detail::max_field_depth - 1;

scoped_fields::scoped_fields(std::initializer_list<field> fields) : count_(fields.size()) {
    auto& stack = detail::field_stack();
    const std::size_t before = stack.size();
    try {
        for (const auto& f : fields) {
            // nlohmann's copy recurses: a capped, iterative copy instead.
            stack.emplace_back(f.first, detail::depth_capped_copy(f.second, value_levels));
        }
    } catch (...) {
        stack.resize(before);  // no half-pushed scope left behind (no destructor will run)
        throw;
    }
    publish();
}

scoped_fields::scoped_fields(field_list fields) : count_(fields.size()) {
    for (auto& f : fields) {
        if (detail::deeper_than(f.second, value_levels)) {
            nlohmann::json capped = detail::depth_capped_copy(f.second, value_levels);
            detail::destroy_iteratively(std::move(f.second));
            f.second = std::move(capped);
        }
    }
    auto& stack = detail::field_stack();
    stack.insert(stack.end(), std::make_move_iterator(fields.begin()),
                 std::make_move_iterator(fields.end()));
    publish();
}

void scoped_fields::publish() {
    auto snapshot = std::make_shared<detail::field_snapshot>();
    snapshot->fields = current_thread_fields();
    snapshot->bytes = approx_json_bytes(snapshot->fields);
    snapshot_ = std::move(snapshot);
    auto& context = detail::context();
    previous_ = context.snapshot;
    context.snapshot = &snapshot_;
}

scoped_fields::~scoped_fields() {
    auto& stack = detail::field_stack();
    stack.resize(stack.size() >= count_ ? stack.size() - count_ : 0);
    detail::context().snapshot = previous_;
}

nlohmann::json current_thread_fields() {
    nlohmann::json out = nlohmann::json::object();
    const field_list* stack = detail::context().fields;
    if (stack == nullptr) {
        return out;
    }
    for (const auto& [key, value] : *stack) {
        out[key] = value;  // later (inner) scopes overwrite outer ones
    }
    return out;
}

bool thread_has_fields() noexcept {
    const field_list* stack = detail::context().fields;
    return stack != nullptr && !stack->empty();
}

namespace {
void append_exception_chain(const std::exception& e, std::string& out, int depth) {
    out += e.what();
    if (depth >= 32) {  // a cycle or absurd depth: stop rather than recurse forever
        return;
    }
    try {
        std::rethrow_if_nested(e);
    } catch (const std::exception& inner) {
        out += "\ncaused by: ";
        append_exception_chain(inner, out, depth + 1);
    } catch (...) {
        out += "\ncaused by: (an exception not derived from std::exception)";
    }
}
}  // namespace

std::string describe_exception(const std::exception& e) {
    std::string text;
    append_exception_chain(e, text, 0);
    return text;
}

}  // namespace spdlog_ext
