#include "core/utf8.h"

#include <cstdint>
#include <cstring>

namespace spdlog_ext::utf8 {

namespace {

using byte = unsigned char;

constexpr std::uint64_t high_bits = 0x8080808080808080ULL;
constexpr std::uint64_t low_bits = 0x0101010101010101ULL;

// U+FFFD REPLACEMENT CHARACTER.
constexpr char replacement[] = "\xEF\xBF\xBD";
constexpr std::size_t replacement_size = 3;

inline std::uint64_t load8(const byte* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Index of the first byte at or after `i` that is not plain ASCII (>= 0x80), or, with
// `stop_at_nul`, that is NUL; `n` when there is none. Eight bytes per step on the common path.
inline std::size_t skip_plain(const byte* p, std::size_t i, std::size_t n,
                              bool stop_at_nul) noexcept {
    if (stop_at_nul) {
        while (i + 8 <= n) {
            const std::uint64_t v = load8(p + i);
            // High bit set, or a zero byte (the classic "has zero byte" test).
            if (((v | ((v - low_bits) & ~v)) & high_bits) != 0) {
                break;
            }
            i += 8;
        }
        while (i < n && p[i] < 0x80 && p[i] != 0) {
            ++i;
        }
    } else {
        while (i + 8 <= n) {
            if ((load8(p + i) & high_bits) != 0) {
                break;
            }
            i += 8;
        }
        while (i < n && p[i] < 0x80) {
            ++i;
        }
    }
    return i;
}

inline bool is_continuation(byte b) noexcept {
    return (b & 0xC0) == 0x80;
}

// Examines the sequence that starts with the non-ASCII byte p[i] (i < n). Returns its length when
// it is well-formed (Unicode Table 3-7). Otherwise returns 0 and sets `bad` to the length of the
// maximal ill-formed subpart there: the longest prefix of a well-formed sequence, at least 1.
inline std::size_t check_sequence(const byte* p, std::size_t i, std::size_t n,
                                  std::size_t& bad) noexcept {
    const byte lead = p[i];
    std::size_t len;
    byte lo = 0x80;  // allowed range of the second byte
    byte hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        len = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        len = 3;
        if (lead == 0xE0) {
            lo = 0xA0;  // no overlongs
        } else if (lead == 0xED) {
            hi = 0x9F;  // no surrogates D800..DFFF
        }
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        len = 4;
        if (lead == 0xF0) {
            lo = 0x90;  // no overlongs
        } else if (lead == 0xF4) {
            hi = 0x8F;  // nothing above U+10FFFF
        }
    } else {
        // 80..BF (stray continuation), C0, C1 (overlong), F5..FF: never start a sequence.
        bad = 1;
        return 0;
    }
    if (i + 1 >= n || p[i + 1] < lo || p[i + 1] > hi) {
        bad = 1;
        return 0;
    }
    for (std::size_t k = 2; k < len; ++k) {
        if (i + k >= n || !is_continuation(p[i + k])) {
            bad = k;
            return 0;
        }
    }
    return len;
}

// Index of the first byte at or after `i` that sanitize would change: the start of an ill-formed
// subpart, or a NUL when `nul_too`; `n` when there is none.
std::size_t first_change(const byte* p, std::size_t i, std::size_t n, bool nul_too) noexcept {
    for (;;) {
        i = skip_plain(p, i, n, nul_too);
        if (i >= n || p[i] == 0) {
            return i;
        }
        std::size_t bad = 0;
        const std::size_t len = check_sequence(p, i, n, bad);
        if (len == 0) {
            return i;
        }
        i += len;
    }
}

// Appends the sanitized form of p[i, n) to `out`, where p[i] is the first byte to change.
void sanitize_from(const byte* p, std::size_t i, std::size_t n, bool nul_too, std::string& out) {
    while (i < n) {
        const std::size_t start = i;
        i = first_change(p, i, n, nul_too);
        out.append(reinterpret_cast<const char*>(p) + start, i - start);
        if (i >= n) {
            break;
        }
        if (p[i] == 0) {  // only stops here when NULs are replaced
            out.append(replacement, replacement_size);
            ++i;
            continue;
        }
        std::size_t bad = 1;
        check_sequence(p, i, n, bad);
        out.append(replacement, replacement_size);
        i += bad;
    }
}

}  // namespace

bool is_valid(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const byte*>(s.data());
    return first_change(p, 0, s.size(), false) == s.size();
}

std::string sanitize(std::string_view s, nul_policy nul) {
    const auto* p = reinterpret_cast<const byte*>(s.data());
    const std::size_t n = s.size();
    const bool nul_too = nul == nul_policy::replace;
    const std::size_t first = first_change(p, 0, n, nul_too);
    if (first == n) {
        return std::string(s);
    }
    std::string out;
    out.reserve(n + n / 8 + replacement_size);
    out.append(s.data(), first);
    sanitize_from(p, first, n, nul_too, out);
    return out;
}

bool sanitize_in_place(std::string& s, nul_policy nul) {
    const auto* p = reinterpret_cast<const byte*>(s.data());
    const std::size_t n = s.size();
    const bool nul_too = nul == nul_policy::replace;
    const std::size_t first = first_change(p, 0, n, nul_too);
    if (first == n) {
        return false;  // the common case: nothing allocated, nothing written
    }
    std::string out;
    out.reserve(n + n / 8 + replacement_size);
    out.append(s.data(), first);
    sanitize_from(p, first, n, nul_too, out);
    s.swap(out);
    return true;
}

std::string_view truncate(std::string_view s, std::size_t max_bytes) noexcept {
    if (s.size() <= max_bytes) {
        return s;
    }
    const auto* p = reinterpret_cast<const byte*>(s.data());
    std::size_t cut = max_bytes;
    if (!is_continuation(p[max_bytes])) {
        return s.substr(0, cut);  // the first byte dropped starts something new
    }
    // p[max_bytes] continues a sequence: if its lead byte is at most 3 bytes earlier, cut before
    // that lead byte instead.
    for (std::size_t k = 1; k <= 3 && k <= max_bytes; ++k) {
        const byte b = p[max_bytes - k];
        if (is_continuation(b)) {
            continue;
        }
        std::size_t len = 1;
        if (b >= 0xC2 && b <= 0xDF) {
            len = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            len = 3;
        } else if (b >= 0xF0 && b <= 0xF4) {
            len = 4;
        }
        if (len > k) {
            cut = max_bytes - k;
        }
        break;
    }
    return s.substr(0, cut);
}

}  // namespace spdlog_ext::utf8
