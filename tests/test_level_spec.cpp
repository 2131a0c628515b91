// The strict level spec parser (spdlog's "info,db=debug" syntax) and the spec file's text.
#include <doctest/doctest.h>

#include <string>

#include "config/levels/file_level_source.h"
#include "spdlog_ext/runtime_levels.h"

using spdlog::level::level_enum;
using spdlog_ext::parse_level_spec;

namespace {

std::string error_of(const std::string& text) {
    std::string error;
    const auto spec = parse_level_spec(text, &error);
    CHECK_MESSAGE(!spec, "accepted: ", text);
    CHECK_MESSAGE(!error.empty(), "no reason for: ", text);
    return error;
}

}  // namespace

TEST_SUITE("levels") {
    TEST_CASE("a global level and per-logger levels parse") {
        const auto spec = parse_level_spec("info,db=debug");
        REQUIRE(spec);
        CHECK(spec->global == level_enum::info);
        REQUIRE(spec->loggers.size() == 1);
        CHECK(spec->loggers.at("db") == level_enum::debug);
        CHECK(spec->to_string() == "info,db=debug");
    }

    TEST_CASE("level names are case-insensitive and take spdlog's aliases") {
        const auto spec =
            parse_level_spec(" WARN , a=Warning,b=err , c=ERROR,d=Critical,e=off,f=TRACE ");
        REQUIRE(spec);
        CHECK(spec->global == level_enum::warn);
        CHECK(spec->loggers.at("a") == level_enum::warn);
        CHECK(spec->loggers.at("b") == level_enum::err);
        CHECK(spec->loggers.at("c") == level_enum::err);
        CHECK(spec->loggers.at("d") == level_enum::critical);
        CHECK(spec->loggers.at("e") == level_enum::off);
        CHECK(spec->loggers.at("f") == level_enum::trace);
        // The canonical text parses to the same spec.
        CHECK(parse_level_spec(spec->to_string()) == spec);
    }

    TEST_CASE("an empty or blank spec is valid and sets nothing") {
        for (const char* text : {"", "  ", "\t"}) {
            const auto spec = parse_level_spec(text);
            REQUIRE(spec);
            CHECK(!spec->global);
            CHECK(spec->loggers.empty());
            CHECK(spec->to_string().empty());
        }
    }

    TEST_CASE("loggers alone leave the global level unset") {
        const auto spec = parse_level_spec("db=debug,net.http=trace");
        REQUIRE(spec);
        CHECK(!spec->global);
        CHECK(spec->loggers.size() == 2);
        CHECK(spec->to_string() == "db=debug,net.http=trace");
    }

    TEST_CASE("unknown level names are errors not skipped") {
        // spdlog::cfg::helpers::load_levels (1.10) would apply "info" and skip "verbose".
        CHECK(error_of("info,db=verbose").find("verbose") != std::string::npos);
        CHECK(error_of("inf").find("unknown level") != std::string::npos);
        error_of("db=");
        error_of("db");  // a bare name is a global level, and "db" is none
        error_of("info,db=debug!");
    }

    TEST_CASE("malformed specs are errors") {
        CHECK(error_of("info,warn").find("more than one global") != std::string::npos);
        CHECK(error_of("db=debug,db=info").find("twice") != std::string::npos);
        CHECK(error_of(" db = debug ,db=info").find("twice") != std::string::npos);
        CHECK(error_of("=debug").find("empty") != std::string::npos);
        CHECK(error_of("info,,db=debug").find("empty item") != std::string::npos);
        CHECK(error_of("info,").find("empty item") != std::string::npos);
        CHECK(error_of(",info").find("empty item") != std::string::npos);
        CHECK(error_of(std::string("d\nb=debug")).find("control") != std::string::npos);
        CHECK(error_of(std::string("d\0b=debug", 9)).find("control") != std::string::npos);
        CHECK(error_of("a=b=info").find("unknown level") != std::string::npos);
    }

    TEST_CASE("a spec longer than 512 bytes is refused") {
        std::string name(500, 'x');
        const std::string fits = name + "=info";  // 505 bytes
        CHECK(parse_level_spec(fits));
        const std::string longer = "info," + name + "=debug,y=info";  // 518 bytes
        CHECK(error_of(longer).find("512") != std::string::npos);
    }

    TEST_CASE("odd but legal logger names are kept verbatim") {
        const auto spec = parse_level_spec("my app.db/pool=debug,\xC3\xA9t\xC3\xA9=warn,'q\"=off");
        REQUIRE(spec);
        CHECK(spec->loggers.at("my app.db/pool") == level_enum::debug);
        CHECK(spec->loggers.at("\xC3\xA9t\xC3\xA9") == level_enum::warn);
        CHECK(spec->loggers.at("'q\"") == level_enum::off);
    }

    TEST_CASE("a spec file drops comments and blank lines and joins lines") {
        using spdlog_ext::detail::spec_from_file_text;
        CHECK(spec_from_file_text("info\n# db is noisy\n\n  db=warn  # for now\r\n") ==
              "info,db=warn");
        CHECK(spec_from_file_text("# nothing\n\n") == "");
        CHECK(spec_from_file_text("") == "");
        CHECK(spec_from_file_text("debug") == "debug");
    }

}  // TEST_SUITE
