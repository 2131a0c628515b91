#include "core/secret_values.h"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace spdlog_ext::detail::redaction {
namespace {

bool scheme_char(char c) {
    return is_alnum(c) || c == '+' || c == '-' || c == '.';
}

bool authority_stop(char c) {
    return is_space(c) || c == '/' || c == '?' || c == '#' || c == '"' || c == '\'' || c == '<' ||
           c == '>' || c == '`';
}

bool base64url_char(char c) {
    return is_alnum(c) || c == '-' || c == '_';
}

}  // namespace

// scheme://user:password@host → scheme://user:[REDACTED]@host (any scheme: https, postgresql,
// rtsp, amqp, redis, ...). A user without a password is left alone: it is not a secret.
void url_credentials(std::string_view text, span_list& spans) {
    std::size_t pos = 0;
    while ((pos = text.find("://", pos)) != std::string_view::npos) {
        // The scheme: scheme characters never include ':' or '/', so this never reads back
        // past the previous "://".
        std::size_t scheme = pos;
        while (scheme > 0 && scheme_char(text[scheme - 1])) {
            --scheme;
        }
        const std::size_t authority = pos + 3;
        pos = authority;
        if (scheme == authority - 3) {
            continue;
        }
        // The authority, read once: the last '@' in it and the first ':' before that.
        std::size_t at = std::string_view::npos;
        std::size_t colon = std::string_view::npos;
        std::size_t i = authority;
        for (; i < text.size() && !authority_stop(text[i]); ++i) {
            if (text[i] == '@') {
                at = i;
            } else if (text[i] == ':' && colon == std::string_view::npos) {
                colon = i;
            }
        }
        if (at == std::string_view::npos && colon != std::string_view::npos && i < text.size() &&
            text[i] == '/' && i > colon + 1 &&
            !std::all_of(text.begin() + static_cast<std::ptrdiff_t>(colon + 1),
                         text.begin() + static_cast<std::ptrdiff_t>(i), is_digit)) {
            // user:pa/ss@host: a password with a raw '/' (not a port: digits). Read on up to the
            // '@', stopping where a URL part or another URL could start, so that this reads
            // nothing the next URL reads.
            std::size_t j = i;
            while (j < text.size() && !is_space(text[j]) && text[j] != '@' && text[j] != ':' &&
                   std::strchr("?#\"'<>`", text[j]) == nullptr) {
                ++j;
            }
            if (j < text.size() && text[j] == '@') {
                at = j;
            }
        }
        if (at != std::string_view::npos && colon != std::string_view::npos && colon < at) {
            add_span(spans, colon + 1, at);
            pos = at + 1;
        }
        // Else the next search starts in this authority: a "://" right after it (its ':' is
        // inside) is still found, and no authority is read twice.
    }
}

// "Authorization: <anything to the end of the line>" (also Proxy-Authorization).
void authorization_headers(std::string_view text, span_list& spans) {
    constexpr std::string_view word = "authorization";
    for (std::size_t pos = 0; pos + word.size() < text.size(); ++pos) {
        if (lower(text[pos]) != 'a' || !matches_at(text, pos, word)) {
            continue;
        }
        std::size_t p = pos + word.size();
        if (p < text.size() && (text[p] == '"' || text[p] == '\'')) {
            ++p;  // "Authorization": "..."
        }
        while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) {
            ++p;
        }
        if (p >= text.size() || text[p] != ':') {
            continue;
        }
        ++p;
        while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) {
            ++p;
        }
        std::size_t end = p;
        const char quote =
            (p < text.size() && (text[p] == '"' || text[p] == '\'')) ? text[p] : '\0';
        if (masked_at(text, quote != '\0' ? p + 1 : p)) {
            pos = p;
            continue;
        }
        if (quote != '\0') {
            end = ++p;
            while (end < text.size() && text[end] != quote && text[end] != '\n') {
                ++end;
            }
        } else {
            while (end < text.size() && text[end] != '\r' && text[end] != '\n') {
                ++end;
            }
        }
        if (end > p) {
            add_span(spans, p, end);
            pos = end - 1;
        } else {
            pos = p - 1;
        }
    }
}

// "Bearer <token>" anywhere in text.
void bearer_tokens(std::string_view text, span_list& spans) {
    constexpr std::string_view word = "bearer";
    for (std::size_t pos = 0; pos + word.size() < text.size(); ++pos) {
        if (lower(text[pos]) != 'b' || !matches_at(text, pos, word) ||
            (pos > 0 && is_alnum(text[pos - 1]))) {
            continue;
        }
        std::size_t p = pos + word.size();
        if (p >= text.size() || (text[p] != ' ' && text[p] != '\t')) {
            continue;
        }
        while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) {
            ++p;
        }
        std::size_t end = p;
        while (end < text.size() && token_char(text[end])) {
            ++end;
        }
        // Real tokens are long; "the bearer of bad news" is prose.
        constexpr std::size_t min_token = 8;
        if (end - p >= min_token) {
            add_span(spans, p, end);
            pos = end - 1;
        } else {
            pos = p - 1;  // "Bearer Bearer <token>": the second one still counts
        }
    }
}

// AWS access key ids: a known four-letter prefix and 16 more upper-case letters or digits.
void aws_access_keys(std::string_view text, span_list& spans) {
    static constexpr std::string_view prefixes[] = {"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA",
                                                    "AIPA", "ANPA", "ANVA", "APKA", "AROA", "ASCA"};
    constexpr std::size_t length = 20;
    for (std::size_t pos = 0; pos + length <= text.size(); ++pos) {
        if (text[pos] != 'A' || (pos > 0 && is_alnum(text[pos - 1]))) {
            continue;
        }
        const std::string_view head = text.substr(pos, 4);
        if (std::find(std::begin(prefixes), std::end(prefixes), head) == std::end(prefixes)) {
            continue;
        }
        bool key = pos + length == text.size() || !is_alnum(text[pos + length]);
        for (std::size_t i = pos + 4; key && i < pos + length; ++i) {
            key = (text[i] >= 'A' && text[i] <= 'Z') || (text[i] >= '0' && text[i] <= '9');
        }
        if (key) {
            add_span(spans, pos, pos + length);
            pos += length - 1;
        }
    }
}

// JSON Web Tokens: eyJ<header>.<payload>.<signature> (base64url; the header is a JSON object,
// hence "eyJ"). The signature may be empty (alg "none").
void json_web_tokens(std::string_view text, span_list& spans) {
    constexpr std::size_t min_part = 10;
    const auto part_end = [&](std::size_t from) {
        while (from < text.size() && base64url_char(text[from])) {
            ++from;
        }
        return from;
    };
    // Found by its 'J' ('e' is the commonest letter of prose, 'J' a rare one); every search
    // starts past what the previous candidate read.
    std::size_t next = 2;
    while ((next = text.find('J', next)) != std::string_view::npos) {
        const std::size_t pos = next - 2;
        if (text[pos] != 'e' || text[pos + 1] != 'y' ||
            (pos > 0 && (base64url_char(text[pos - 1]) || text[pos - 1] == '.'))) {
            ++next;
            continue;
        }
        const std::size_t header = part_end(pos);
        if (header - pos < min_part || header >= text.size() || text[header] != '.') {
            next = header + 2;
            continue;
        }
        const std::size_t payload = part_end(header + 1);
        if (payload - (header + 1) < min_part || payload >= text.size() || text[payload] != '.') {
            next = payload + 2;
            continue;
        }
        const std::size_t signature = part_end(payload + 1);
        add_span(spans, pos, signature);
        next = signature + 2;
    }
}

// Tokens with a published prefix: GitHub (ghp_ gho_ ghu_ ghs_ ghr_, github_pat_), GitLab
// (glpat-), Slack (xoxa- xoxb- xoxp- xoxr-).
void prefixed_tokens(std::string_view text, span_list& spans) {
    struct shape {
        std::string_view prefix;
        std::size_t min;  // characters after the prefix
        bool underscore;
        bool dash;
    };
    static constexpr shape shapes[] = {
        {"ghp_", 36, false, false}, {"gho_", 36, false, false}, {"ghu_", 36, false, false},
        {"ghs_", 36, false, false}, {"ghr_", 36, false, false}, {"github_pat_", 22, true, false},
        {"glpat-", 20, true, true}, {"xoxa-", 10, false, true}, {"xoxb-", 10, false, true},
        {"xoxp-", 10, false, true}, {"xoxr-", 10, false, true}};
    for (std::size_t pos = 0; pos < text.size(); ++pos) {
        const char c = text[pos];
        if ((c != 'g' && c != 'x') || (pos > 0 && (is_alnum(text[pos - 1]) ||
                                                   text[pos - 1] == '_' || text[pos - 1] == '-'))) {
            continue;
        }
        const char second = pos + 1 < text.size() ? text[pos + 1] : '\0';
        if (second != 'h' && second != 'i' && second != 'l' && second != 'o') {
            continue;  // gh, gi(thub_pat_), gl(pat-), xo(x): the rest is prose
        }
        for (const shape& s : shapes) {
            if (text.compare(pos, s.prefix.size(), s.prefix) != 0) {
                continue;
            }
            std::size_t end = pos + s.prefix.size();
            while (end < text.size() &&
                   (is_alnum(text[end]) || (s.underscore && text[end] == '_') ||
                    (s.dash && text[end] == '-'))) {
                ++end;
            }
            const bool whole = end == text.size() || !(is_alnum(text[end]) || text[end] == '_');
            if (whole && end - pos - s.prefix.size() >= s.min) {
                add_span(spans, pos, end);
                pos = end - 1;
            }
            break;
        }
    }
}

// PEM private keys: the body between -----BEGIN ... PRIVATE KEY----- and -----END (to the end of
// the text when the block is cut off); certificates and public keys are not secret.
void pem_private_keys(std::string_view text, span_list& spans) {
    constexpr std::string_view begin_marker = "-----BEGIN ";
    constexpr std::string_view end_marker = "-----END ";
    std::size_t pos = 0;
    while ((pos = text.find(begin_marker, pos)) != std::string_view::npos) {
        const std::size_t label = pos + begin_marker.size();
        const std::size_t close = text.find("-----", label);
        if (close == std::string_view::npos) {
            return;
        }
        const std::string_view name = text.substr(label, close - label);
        pos = close;
        if (name.size() > 64 || name.size() < 11 ||
            name.substr(name.size() - 11) != "PRIVATE KEY") {
            continue;
        }
        const std::size_t body = close + 5;
        const std::size_t end = text.find(end_marker, body);
        if (end == std::string_view::npos) {
            add_span(spans, body, text.size());
            return;
        }
        add_span(spans, body, end);
        pos = end + end_marker.size();
    }
}

// Payment card numbers: 13-19 digits, whole or in groups split by single spaces or dashes
// (4-4-4-4, 4-6-5, ...: a first group of 4), starting like a card (2221-2720, 3, 4, 5, 6) and
// passing the Luhn check. Timestamps (1...), order numbers that fail Luhn, UUIDs and hashes
// (digits next to letters) stay.
void card_numbers(std::string_view text, span_list& spans) {
    for (std::size_t pos = 0; pos < text.size(); ++pos) {
        if (!is_digit(text[pos])) {
            continue;
        }
        const std::size_t start = pos;
        std::size_t end = pos;
        while (end < text.size() && is_digit(text[end])) {
            ++end;
        }
        const char before = pos > 0 ? text[pos - 1] : ' ';
        if (is_alnum(before) || before == '-' || before == '.' || before == '_' || before == '+' ||
            before == '/') {
            pos = end - 1;
            continue;
        }
        char digits[19];
        std::size_t count = 0;
        const auto take = [&](std::size_t from, std::size_t to) {
            for (std::size_t i = from; i < to && count < sizeof digits; ++i) {
                digits[count++] = text[i];
            }
        };
        std::size_t total = end - pos;
        take(pos, end);
        if (end - pos == 4) {
            // Grouped: the same separator throughout, groups of 3 to 6 digits.
            char sep = '\0';
            while (end + 1 < text.size() && (text[end] == ' ' || text[end] == '-') &&
                   (sep == '\0' || text[end] == sep) && is_digit(text[end + 1])) {
                std::size_t group_end = end + 1;
                while (group_end < text.size() && is_digit(text[group_end])) {
                    ++group_end;
                }
                const std::size_t group = group_end - end - 1;
                if (group < 3 || group > 6 || total + group > 19) {
                    break;  // read again as a candidate of its own
                }
                sep = text[end];
                take(end + 1, group_end);
                total += group;
                end = group_end;
            }
        }
        pos = end - 1;
        const char after = end < text.size() ? text[end] : ' ';
        const bool more = end + 1 < text.size() && is_digit(text[end + 1]);
        if (total < 13 || total > 19 || is_alnum(after) || after == '_' ||
            ((after == '.' || after == '-' || after == ',') && more)) {
            continue;
        }
        const int head = (digits[0] - '0') * 1000 + (digits[1] - '0') * 100 +
                         (digits[2] - '0') * 10 + (digits[3] - '0');
        if (!(digits[0] >= '3' && digits[0] <= '6') && !(head >= 2221 && head <= 2720)) {
            continue;
        }
        int sum = 0;
        for (std::size_t i = 0; i < count; ++i) {
            int d = digits[count - 1 - i] - '0';
            if (i % 2 == 1) {
                d *= 2;
                d -= d > 9 ? 9 : 0;
            }
            sum += d;
        }
        if (sum % 10 == 0) {
            add_span(spans, start, end);
        }
    }
}

}  // namespace spdlog_ext::detail::redaction
