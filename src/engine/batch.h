// Internal: what crosses between the engine's pieces: a logging call's captured data (to the
// queue), a batch of records (queue to worker), and a message-formatter change (to the worker).
#pragma once

#include <spdlog/formatter.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "core/thread_context.h"
#include "spdlog_ext/record.h"

namespace spdlog_ext::detail {

// What the logging call takes from a log_msg: the message (cut to max_record_bytes, then
// `marker` follows it), the fields (cut too when over), and the record's queue bytes.
struct captured_call {
    capture_info info;
    std::string_view payload;
    std::shared_ptr<const field_snapshot> fields;
    std::size_t bytes = 0;
    std::size_t marker_len = 0;
    char marker_text[48];  // filled only when cut: no string to build on the logging path
    std::string_view marker() const noexcept { return {marker_text, marker_len}; }
};

// Records the worker took from the queue, in sequence order.
struct worker_batch {
    // Records [0, count) are this batch; the vector keeps its elements (and their string
    // capacity) between batches so the worker does not allocate per record.
    std::vector<record> records;
    std::vector<std::uint64_t> seqs;  // seqs[i]: the sequence number of records[i]
    std::size_t count = 0;
    std::size_t bytes = 0;
    std::uint64_t last_seq = 0;
};

// A message formatter and the first sequence number it applies to.
struct formatter_change {
    std::uint64_t from_seq = 0;
    std::unique_ptr<spdlog::formatter> formatter;  // null: the plain payload
};

}  // namespace spdlog_ext::detail
