// Internal: masks (redaction) and renders (message formatter) each record of the worker's batch
// once, when delivery or a streaming backend first needs it, so that a backend which streams
// (backend::prepares_records) sends the first records while the rest are still being masked.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/batch.h"
#include "engine/message_formats.h"
#include "spdlog_ext/engine/backend.h"

namespace spdlog_ext {
class redactor;
}

namespace spdlog_ext::detail {

class batch_preparation final : public record_preparer {
  public:
    // `redaction` may be null (records go out as logged); both must outlive this.
    batch_preparation(const redactor* redaction, message_formats& formats)
        : redaction_(redaction), formats_(formats) {}

    // A new batch: none of its records is prepared yet.
    void begin(worker_batch& b);
    // Records [first, first + count) of the batch; those already done are skipped.
    void prepare(std::size_t first, std::size_t count) override;

  private:
    const redactor* redaction_;
    message_formats& formats_;
    worker_batch* batch_ = nullptr;
    bool render_ = false;              // a message formatter applies to this batch
    std::vector<unsigned char> done_;  // done_[i]: record i is prepared
};

}  // namespace spdlog_ext::detail
