// Internal: the live tail's resume cursor ("t1." + base64url of a small JSON object) and the
// state arithmetic of its rounds (docs/log-tail.md). Pure: no connection, no libpqxx; unit-tested
// (tests/test_store_tail_cursor.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace spdlog_ext::detail::store {

// Where a tail stands. Invariant: every committed row with txid < x and txid not in pending has
// been delivered (if it matched the filter).
struct tail_state {
    std::int64_t system_id = 0;         // pg_control_system().system_identifier (0: unknown)
    std::int64_t started_us = 0;        // pg_postmaster_start_time(), µs since the epoch (UTC)
    std::int64_t x = 1;                 // the first xid not yet read (a snapshot's xmax)
    std::vector<std::int64_t> pending;  // xids < x still running at the last snapshot (sorted)
    std::int64_t delivered = 0;         // the largest txid delivered so far (< x)
    std::string filter;                 // the fingerprint of the filter it follows

    bool operator==(const tail_state& o) const {
        return system_id == o.system_id && started_us == o.started_us && x == o.x &&
               pending == o.pending && delivered == o.delivered && filter == o.filter;
    }
};

inline constexpr std::size_t max_tail_pending = 10000;

std::string encode_tail_cursor(const tail_state& state);
// Throws store_error(bad_cursor, "malformed tail cursor: <why>") for anything encode did not
// make: prefix, alphabet, size, keys, types, ranges (pending sorted, unique, all < x; delivered <
// x).
tail_state decode_tail_cursor(const std::string& cursor);

// The state after a round that read with snapshot (snap_xmax, snap_xip) and delivered every
// readable visible row with txid <= cut (see docs/log-tail.md): x' = max(x, cut + 1),
// pending' = {p in pending : p > cut} ∪ {p in pending ∪ [x, cut] : p in snap_xip}.
// `last_delivered` (0: none) raises `delivered`.
tail_state advance_tail(const tail_state& state, std::int64_t cut,
                        const std::vector<std::int64_t>& snap_xip, std::int64_t last_delivered);

// After the server restarted (its start time differs from the cursor's): xids after the last
// delivered one may be reused by recovery, so they are read again (x := min(x, delivered + 1),
// pending entries >= x dropped); started_us becomes the new start time.
tail_state after_server_restart(const tail_state& state, std::int64_t new_started_us);

// Base64url without padding (RFC 4648 §5); decode returns false on a character outside the
// alphabet or an impossible length.
std::string base64url_encode(const std::string& bytes);
bool base64url_decode(const std::string& text, std::string& bytes);

}  // namespace spdlog_ext::detail::store
