#include "engine/message_formats.h"

namespace spdlog_ext::detail {

namespace {
// Replaces rec.message by `formatter`'s text for the record, without the line ending. Should
// the formatter fail, the message stays the payload: a formatter must not stop the worker.
void format_message(spdlog::formatter& formatter, record& rec, spdlog::memory_buf_t& buf) {
    try {
        buf.clear();
        {
            record_scope scope(rec);
            formatter.format(rec.to_log_msg(), buf);
        }
        std::size_t n = buf.size();
        while (n > 0 && (buf.data()[n - 1] == '\n' || buf.data()[n - 1] == '\r')) {
            --n;
        }
        rec.message.assign(buf.data(), n);
    } catch (...) {
    }
}
}  // namespace

void message_formats::format_for_call(record& rec) {
    std::lock_guard<std::mutex> lock(mu_);
    if (call_formatter_) {
        spdlog::memory_buf_t buf;
        format_message(*call_formatter_, rec, buf);
    }
}

void message_formats::take(std::vector<formatter_change>& changes) {
    for (auto& change : changes) {
        worker_formatters_.push_back(std::move(change));
    }
    changes.clear();
}

bool message_formats::begin_batch(const worker_batch& b) {
    auto& fs = worker_formatters_;
    if (fs.empty() || b.count == 0) {
        return false;  // no message formatter was ever set: messages are the payload
    }
    // Records come in sequence order: a formatter followed by one that applies from this
    // batch's first record on is of no use any more.
    while (fs.size() > 1 && fs[1].from_seq <= b.seqs[0]) {
        fs.pop_front();
    }
    if (fs.size() == 1 && !fs.front().formatter && fs.front().from_seq <= b.seqs[0]) {
        fs.clear();  // back to the plain payload for good
        return false;
    }
    return true;
}

void message_formats::render(worker_batch& b, std::size_t i) {
    const auto& fs = worker_formatters_;
    const std::uint64_t seq = b.seqs[i];
    std::size_t k = 0;  // the list is short: one formatter, rarely a few
    while (k + 1 < fs.size() && fs[k + 1].from_seq <= seq) {
        ++k;
    }
    // The formatter in force when the record was logged; none before the first change.
    if (k < fs.size() && fs[k].formatter && fs[k].from_seq <= seq) {
        format_message(*fs[k].formatter, b.records[i], buf_);
    }
}

}  // namespace spdlog_ext::detail
