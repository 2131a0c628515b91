// Page cursors (postgres_log_store): any text either decodes or is refused with
// store_error(bad_cursor), never another exception or a crash; what decodes re-encodes to a cursor
// that decodes to the same values; base64url decode ∘ encode is the identity, and decode accepts
// only the canonical encoding (decode(x) = b ⇒ encode(b) = x).
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "store/postgres/store_cursor.h"

namespace store = spdlog_ext::detail::store;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);

    if (const auto bytes = store::base64url_decode(input)) {
        FUZZ_CHECK(store::base64url_encode(*bytes) == input, "base64url decode is not canonical",
                   input);
    }
    const std::string encoded = store::base64url_encode(input);
    FUZZ_CHECK(store::base64url_decode(encoded) == input, "base64url round trip", encoded);

    spdlog_ext::log_filter filter;
    filter.search = input;  // hostile text must hash, never throw
    const std::string fingerprint = store::filter_fingerprint(filter);
    FUZZ_CHECK(fingerprint.size() == 16, "fingerprint size", fingerprint);

    // The input both as raw cursor text and wrapped as a cursor's JSON payload.
    for (const std::string& text : {input, "p1." + store::base64url_encode(input)}) {
        for (const auto order : {spdlog_ext::log_order::id, spdlog_ext::log_order::time}) {
            store::page_cursor c;
            bool decoded = false;
            try {
                c = store::decode_page_cursor(text, order, "0123456789abcdef");
                decoded = true;
            } catch (const spdlog_ext::store_error& e) {
                FUZZ_CHECK(e.what_kind() == spdlog_ext::store_error::kind::bad_cursor,
                           "an error of another kind", e.what());
            }
            if (!decoded)
                continue;
            FUZZ_CHECK(c.id >= 1 && c.order == order, "decoded values out of range", text);
            const auto again =
                store::decode_page_cursor(store::encode_page_cursor(c), order, c.filter);
            FUZZ_CHECK(
                again.id == c.id && again.timestamp == c.timestamp && again.filter == c.filter,
                "re-encoded cursor differs", text);
        }
    }
    return 0;
}
