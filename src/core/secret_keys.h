// Internal: does a field key name a secret? The key split into words (key_words), and one of the
// redactor's normalised keys matched against them, quantity words excepted (names_secret).
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>

#include "core/redaction_scan.h"

namespace spdlog_ext::detail::redaction {

// A key's words, lower-cased: split at every byte that is not a letter or digit, between a
// lower-case letter or digit and an upper-case one (refreshToken), before the last capital of a
// run followed by lower case (APIKey: API Key) and between letters and digits (oauth2: oauth 2).
// Only the last `max_chars` bytes and `max_words` words of a key count (a key is short; the part
// next to its value is what names it).
class key_words {
  public:
    static constexpr std::size_t max_chars = 256;
    static constexpr std::size_t max_words = 64;

    explicit key_words(std::string_view key) {
        if (key.size() > max_chars) {
            key.remove_prefix(key.size() - max_chars);
        }
        bool boundary = true;
        for (std::size_t i = 0; i < key.size(); ++i) {
            const char c = key[i];
            if (!is_alnum(c)) {
                boundary = true;
                continue;
            }
            if (i > 0 && is_alnum(key[i - 1]) && !boundary) {
                const char prev = key[i - 1];
                const bool next_lower = i + 1 < key.size() && is_lower(key[i + 1]);
                boundary = ((is_lower(prev) || is_digit(prev)) && is_upper(c)) ||
                           (is_upper(prev) && is_upper(c) && next_lower) ||
                           (is_digit(prev) != is_digit(c));
            }
            if (boundary) {
                if (count_ == max_words) {
                    // Drop the first word: the last ones name the value.
                    const std::size_t cut = starts_[1];
                    std::memmove(text_, text_ + cut, size_ - cut);
                    size_ -= cut;
                    for (std::size_t w = 1; w < count_; ++w) {
                        starts_[w - 1] = starts_[w] - cut;
                    }
                    --count_;
                }
                starts_[count_++] = size_;
                boundary = false;
            }
            text_[size_++] = lower(c);
        }
        starts_[count_] = size_;
    }

    std::size_t count() const noexcept { return count_; }
    std::string_view word(std::size_t i) const noexcept {
        return {text_ + starts_[i], starts_[i + 1] - starts_[i]};
    }
    // Words [first, last] joined.
    std::string_view run(std::size_t first, std::size_t last) const noexcept {
        return {text_ + starts_[first], starts_[last + 1] - starts_[first]};
    }

  private:
    char text_[max_chars];
    std::size_t starts_[max_words + 1];
    std::size_t size_ = 0;
    std::size_t count_ = 0;
};

// Does the normalised key `secret` (api_key: "apikey") name the key split into `words`? A run of
// whole words spells it (X-Api-Key, refreshToken, db_password, aws_access_key_id), or its plural
// (credentials); a single word of 5+ letters may end with it, or with it and "id"/"s"
// (authtoken, jsessionid, sessionid). Unless a quantity word says the key measures the secret
// rather than holds it (tokens_used, session_count, max_tokens, active_sessions).
bool names_secret(const key_words& words, std::string_view secret);

}  // namespace spdlog_ext::detail::redaction
