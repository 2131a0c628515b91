#include "engine/batch_preparation.h"

#include <algorithm>

#include "spdlog_ext/redaction.h"

namespace spdlog_ext::detail {

void batch_preparation::begin(worker_batch& b) {
    batch_ = &b;
    done_.assign(b.count, 0);
    render_ = formats_.begin_batch(b);
}

void batch_preparation::prepare(std::size_t first, std::size_t count) {
    if (batch_ == nullptr || first >= done_.size()) {
        return;
    }
    const std::size_t end = first + std::min(count, done_.size() - first);
    for (std::size_t i = first; i < end; ++i) {
        if (done_[i] != 0) {
            continue;
        }
        // Masked first: a message formatter then formats the masked record.
        if (redaction_ != nullptr) {
            redaction_->apply(batch_->records[i]);
        }
        if (render_) {
            formats_.render(*batch_, i);
        }
        done_[i] = 1;
    }
}

}  // namespace spdlog_ext::detail
