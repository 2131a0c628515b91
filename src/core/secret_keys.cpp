#include "core/secret_keys.h"

#include <algorithm>
#include <initializer_list>

namespace spdlog_ext::detail::redaction {
namespace {

bool one_of(std::string_view word, std::initializer_list<std::string_view> words) {
    return std::find(words.begin(), words.end(), word) != words.end();
}

// A word after the secret word that makes the key a measurement of it, not it: tokens_used,
// session_count, password_length, token_expires_at, token_type.
bool quantity_after(std::string_view word) {
    return one_of(
        word,
        {"count",     "counts",     "used",    "total",    "num",     "number", "limit",   "max",
         "min",       "size",       "len",     "length",   "ttl",     "expiry", "expires", "expire",
         "expired",   "expiration", "age",     "duration", "type",    "kind",   "rate",    "ratio",
         "remaining", "left",       "created", "updated",  "version", "index",  "idx",     "ms"});
}

// A word before a plural that makes the key a count of them: max_tokens, active_sessions.
bool quantity_before(std::string_view word) {
    return one_of(word, {"max", "min", "num", "total", "active", "used", "remaining", "count",
                         "prompt", "completion", "input", "output", "cached", "reasoning", "open",
                         "idle", "expired", "live"});
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

// A run of whole words, its plural, or the end of one long word: see secret_keys.h.
bool names_secret(const key_words& words, std::string_view secret) {
    for (std::size_t first = 0; first < words.count(); ++first) {
        for (std::size_t last = first; last < words.count(); ++last) {
            const std::string_view run = words.run(first, last);
            if (run.size() > secret.size() + 3) {
                break;
            }
            bool plural = false;
            bool match = run == secret;
            if (!match && run.size() == secret.size() + 1 && run.back() == 's' &&
                run.substr(0, secret.size()) == secret) {
                match = plural = true;
            }
            if (!match) {
                continue;
            }
            if (last + 1 < words.count() && quantity_after(words.word(last + 1))) {
                continue;
            }
            if (plural && first > 0 && quantity_before(words.word(first - 1))) {
                continue;
            }
            return true;
        }
        // Inside one word: [anything]secret[s|id|ids].
        const std::string_view word = words.word(first);
        if (secret.size() >= 5 && word.size() > secret.size() &&
            word.find(secret) != std::string_view::npos) {
            for (const std::string_view tail : {"", "s", "id", "ids"}) {
                // Something before it, or an id after it: tokens is a plural (handled above).
                const bool framed = word.size() > secret.size() + tail.size() || tail.size() > 1;
                if (framed && word.size() >= secret.size() + tail.size() && ends_with(word, tail) &&
                    ends_with(word.substr(0, word.size() - tail.size()), secret)) {
                    const bool measured =
                        first + 1 < words.count() && quantity_after(words.word(first + 1));
                    if (!measured) {
                        return true;
                    }
                }
            }
        }
    }
    return false;
}

}  // namespace spdlog_ext::detail::redaction
