// InfluxDB line protocol (influx_timeseries_sink): every line the encoder writes parses with the
// strict parser of the tests (tests/support/line_protocol_parser.h), with at least one field,
// unique tag keys, one line per record unless it is skipped, and the level-count lines, across
// retries, commits and rollbacks (as the backend runs them); the escaping primitives round-trip
// safe text.
#include <cstdint>
#include <set>
#include <string>

#include "fuzz_common.h"
#include "sinks/influx/influx_encoder.h"
#include "sinks/influx/level_counts.h"
#include "spdlog_ext/metrics.h"
#include "support/line_protocol_parser.h"

namespace {

namespace d = spdlog_ext::detail;

void check_body(const std::string& out, bool allow_unsigned, std::size_t lines_reported) {
    FUZZ_CHECK(out.empty() || out.back() == '\n', "body must end with a newline", out);
    FUZZ_CHECK(fuzz::valid_utf8(out), "body is not valid UTF-8", out);
    const auto parsed = test::lp::parse(out, allow_unsigned);
    if (!parsed.errors.empty()) {
        fuzz::fail("line protocol error: " + parsed.errors.front(), out);
    }
    // Counting '\n' would not do: string values may hold raw newlines. Every line the encoder
    // says it wrote must be a point (a line read as a comment would silently vanish).
    FUZZ_CHECK(parsed.points.size() == lines_reported,
               "the points parsed differ from the lines encode() reported (comment?)", out);
    for (const auto& point : parsed.points) {
        FUZZ_CHECK(!point.measurement.empty(), "empty measurement", out);
        FUZZ_CHECK(!point.fields.empty() && point.fields.size() <= 10000, "field count", out);
        std::set<std::string> keys;
        for (const auto& [k, v] : point.tags) {
            FUZZ_CHECK(!k.empty() && !v.empty() && keys.insert(k).second,
                       "empty or repeated tag " + k, out);
        }
        FUZZ_CHECK(point.timestamp.has_value(), "no timestamp", out);
    }
}

// A name from the fragments that matter to line protocol.
std::string token(FuzzedDataProvider& p) {
    return fuzz::hostile_string(p, 24);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider p(data, size);
    d::line_protocol_options o;
    if (p.ConsumeBool()) {
        o.measurement = token(p);
        if (o.measurement.empty()) {
            o.measurement = "logs";
        }
    }
    for (int n = p.ConsumeIntegralInRange<int>(0, 3); n > 0; --n) {
        o.tag_fields.push_back(token(p));
    }
    o.service = token(p);
    o.hostname = token(p);
    o.unsigned_integers = p.ConsumeBool();
    const std::int64_t interval_ns =
        p.ConsumeBool() ? p.ConsumeIntegralInRange<std::int64_t>(1, 1e12) : 0;
    d::line_encoder encoder(o);
    d::level_counts counts(interval_ns, "log_counts", o.hostname, o.service);

    // Escaping primitives on their own: a measurement, tag and field built from fuzz tokens.
    {
        std::string line;
        d::append_measurement(line, token(p));
        line += ',';
        // Keys start with a letter: renaming reserved keys (time, _x) is the encoder's job,
        // checked below, not the escaping primitives'.
        d::append_tag(line, "k" + token(p));
        line += '=';
        d::append_tag(line, token(p) + "v");
        line += ' ';
        d::append_field_key(line, "f" + token(p));
        line += '=';
        d::append_string_value(line, token(p));
        line += ",g=";
        const double x = fuzz::hostile_double(p);
        if (std::isfinite(x)) {
            d::append_float(line, x);
        } else {
            line += "1";
        }
        line += " 1\n";
        // An empty measurement is the one thing the primitives leave to their caller.
        if (line[0] != ',') {
            check_body(line, false, 1);
        }
    }

    std::uint64_t source = 0;
    for (int round = p.ConsumeIntegralInRange<int>(1, 3); round > 0; --round) {
        auto batch = fuzz::make_batch(p, 8);
        for (auto& r : batch) {
            if (p.ConsumeIntegralInRange<int>(0, 3) == 0) {
                nlohmann::json m = {{"measurement", token(p)},
                                    {"fields", fuzz::json_value(p, 2)},
                                    {"tags", fuzz::json_value(p, 2)}};
                if (!m["fields"].is_object()) {
                    m["fields"] = {{token(p), fuzz::json_value(p, 1)}};
                }
                if (!r.fields.is_object()) {
                    r.fields = nlohmann::json::object();
                }
                r.fields[spdlog_ext::metric_field] = std::move(m);
            }
        }
        if (p.ConsumeBool()) {
            source = p.ConsumeIntegralInRange<std::uint64_t>(0, 3);
        }
        std::string out;
        std::vector<std::size_t> skipped;
        const spdlog_ext::record_span span(batch.data(), batch.size());
        counts.begin();
        std::size_t lines = encoder.encode(span, out, source, 0, &skipped);
        counts.tally(span);
        lines += counts.append_lines(out);
        check_body(out, o.unsigned_integers, lines);
        for (const std::size_t s : skipped) {
            FUZZ_CHECK(s < batch.size(), "skipped index out of range", out);
        }
        if (p.ConsumeBool()) {
            counts.commit();
        } else {
            counts.rollback();
        }
        if (p.ConsumeBool() && batch.size() > 1) {  // a bisection half of the same source
            const std::size_t half = batch.size() / 2;
            const auto second = span.subspan(half, batch.size() - half);
            counts.begin();
            std::size_t n = encoder.encode(second, out, source, half);
            counts.tally(second);
            n += counts.append_lines(out);
            check_body(out, o.unsigned_integers, n);
            counts.rollback();
        }
    }
    return 0;
}
