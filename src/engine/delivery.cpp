#include "engine/delivery.h"

#include <algorithm>
#include <exception>
#include <unordered_set>

namespace spdlog_ext::detail {

delivery::delivery(backend& backend, const engine_config& cfg, reporter& report,
                   engine_counters& counters, delivery_host& host, record_preparer* preparer)
    : backend_(backend),
      cfg_(cfg),
      report_(report),
      counters_(counters),
      host_(host),
      preparer_(preparer),
      backoff_(cfg.retry_initial, cfg.retry_max_delay) {}

void delivery::send(record* first, std::size_t n) {
    ++source_id_;
    send_range(first, 0, n, 0);
}

void delivery::send_range(record* records, std::size_t begin, std::size_t end,
                          std::size_t unknown_before) {
    range r{records, begin, end, next_range_id_++, host_.now()};
    r.unknown = unknown_before;
    struct settle {  // on every exit: the possible duplicates of writes with unknown outcome
        const range& r;
        std::atomic<std::uint64_t>& counter;
        ~settle() {
            if (!r.to_halves && r.unknown > 0) {
                counter.fetch_add(r.size() * r.unknown, std::memory_order_relaxed);
            }
        }
    } settle_on_exit{r, counters_.possible_duplicates};
    using outcome = batch_result::outcome;
    for (;;) {
        if (auto why = stop_reason(r)) {
            give_up(r, *why);
            return;
        }
        if (!wait_for_write_slot()) {
            continue;  // the shutdown deadline passed: stop_reason() sends it to the fallback
        }
        batch_result result = write_once(r);
        switch (result.kind) {
            case outcome::delivered:
            case outcome::partial:
                on_accepted(r, result);
                return;
            case outcome::retry:
                if (on_retry(r, result)) {
                    continue;
                }
                return;
            case outcome::split:
            case outcome::isolate:
                on_split_or_isolate(r, result);
                return;
            case outcome::rejected:
                on_rejected(r, result);
                return;
            case outcome::disable:
                on_disable(result);
                continue;  // stop_reason() sends this range to the fallback
        }
    }
}

std::optional<std::string> delivery::stop_reason(const range& r) {
    if (counters_.disabled.load(std::memory_order_relaxed)) {
        return "backend disabled: " + report_.disabled_reason();
    }
    if (!host_.deadline_passed()) {
        return std::nullopt;
    }
    // Say why it was not delivered: the retried error (a wrong password, a database that does
    // not exist) is what the reader of the fallback needs.
    std::string why = "not delivered before the shutdown deadline";
    if (r.attempts > 0 || host_.failing()) {
        const std::string last = report_.last_error();
        if (!last.empty()) {
            why += "; last error: " + last;
        }
    }
    return why;
}

bool delivery::wait_for_write_slot() {
    if (cfg_.min_write_interval.count() > 0 && last_write_) {
        return host_.sleep_until(*last_write_ + cfg_.min_write_interval);
    }
    return true;
}

batch_result delivery::write_once(range& r) {
    batch_result result;
    try {
        spdlog_ext::write_context context{r.id, r.attempts, source_id_, r.begin};
        if (backend_.prepares_records()) {
            context.preparer = preparer_;  // the backend masks each part before reading it
        } else {
            prepare(r.begin, r.size());
        }
        result = backend_.write(record_span(r.first(), r.size()), context);
    } catch (const std::exception& e) {
        result = batch_result::retry(std::string("backend error: ") + e.what());
    } catch (...) {
        result = batch_result::retry("backend error: unknown exception");
    }
    // The interval counts from the end of a write: a request that took long to arrive (a slow
    // network, a loaded host) must not bring the next one closer to it at the receiver, whose
    // rate limit counts arrivals.
    last_write_ = host_.now();
    ++r.attempts;
    result.reason = report_.mask(std::move(result.reason));
    return result;
}

void delivery::on_accepted(const range& r, batch_result& result) {
    const std::size_t n = r.size();
    std::size_t refused = 0;
    if (result.kind == batch_result::outcome::partial) {
        std::unordered_set<std::size_t> seen;
        if (!result.rejected.empty()) {
            report_.note_error(std::to_string(result.rejected.size()) +
                               " record(s) refused, to the fallback: " +
                               report_.mask(result.rejected.front().reason));
        }
        for (auto& rejected : result.rejected) {
            if (rejected.index < n && seen.insert(rejected.index).second) {
                prepare(r.begin + rejected.index, 1);
                report_.to_fallback(r.first() + rejected.index, 1,
                                    report_.mask(std::move(rejected.reason)));
                ++refused;
            }
        }
        if (refused > 0) {
            counters_.failed_batches.fetch_add(1, std::memory_order_relaxed);
        }
    }
    counters_.delivered.fetch_add(n - refused, std::memory_order_relaxed);
    counters_.batches.fetch_add(1, std::memory_order_relaxed);
    host_.set_failing(false);
    report_.mark_success();
}

bool delivery::on_retry(range& r, const batch_result& result) {
    // A write that failed once the shutdown deadline had passed was most likely cut short by
    // the shutdown itself ("interrupted"): it must not hide the error that kept the records
    // from going out, which the fallback reason quotes.
    if (!host_.deadline_passed()) {
        report_.note_error(result.reason);
    }
    host_.set_failing(true);
    r.unknown += result.outcome_unknown ? 1 : 0;
    const auto now = host_.now();
    const bool out_of_attempts =
        cfg_.retry_max_attempts > 0 && r.attempts >= cfg_.retry_max_attempts;
    const bool out_of_time = now - r.started >= cfg_.retry_max_elapsed;
    if (out_of_attempts || out_of_time) {
        give_up(r, "gave up after " + std::to_string(r.attempts) + " attempts: " + result.reason);
        return false;
    }
    // A server's delay is capped like ours: one Retry-After must not stop the sink.
    const auto delay = result.retry_after ? std::min(*result.retry_after, cfg_.retry_max_delay)
                                          : backoff_.delay(r.attempts - 1);
    if (now + delay - r.started > cfg_.retry_max_elapsed) {
        // The next try would come after the limit: give up now, not after the wait.
        give_up(r, "gave up after " + std::to_string(r.attempts) +
                       " attempts (the next would pass RETRY_MAX_ELAPSED): " + result.reason);
        return false;
    }
    counters_.retries.fetch_add(1, std::memory_order_relaxed);
    // A shutdown shortens the wait to its deadline, which then ends the retries.
    host_.sleep_until(now + delay);
    return true;
}

void delivery::on_split_or_isolate(range& r, const batch_result& result) {
    if (r.size() == 1) {
        const std::string why =
            (result.kind == batch_result::outcome::split ? "too large to send: " : "refused: ") +
            result.reason;
        report_.note_error("a record went to the fallback: " + why);
        give_up(r, why);
        return;
    }
    r.to_halves = true;
    const std::size_t middle = r.begin + r.size() / 2;
    send_range(r.records, r.begin, middle, r.unknown);
    send_range(r.records, middle, r.end, r.unknown);
}

void delivery::on_rejected(const range& r, const batch_result& result) {
    report_.note_error(result.reason);
    give_up(r, "refused: " + result.reason);
}

void delivery::on_disable(const batch_result& result) {
    report_.set_disabled_reason(result.reason);
    counters_.disabled.store(true, std::memory_order_relaxed);
    host_.set_failing(true);
    report_.note_error("backend disabled, every record now goes to the fallback: " + result.reason,
                       true);
}

void delivery::give_up(const range& r, const std::string& reason) {
    prepare(r.begin, r.size());  // a streaming backend may not have reached them
    report_.to_fallback(r.first(), r.size(), reason);
    counters_.failed_batches.fetch_add(1, std::memory_order_relaxed);
}

void delivery::prepare(std::size_t first, std::size_t n) {
    if (preparer_ != nullptr) {
        preparer_->prepare(first, n);
    }
}

}  // namespace spdlog_ext::detail
