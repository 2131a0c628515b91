#include "store/postgres/store_impl.h"

#include "core/secrets.h"
#include "sinks/postgres/postgres_config.h"
#include "sinks/postgres/postgres_ddl.h"
#include "spdlog_ext/config_error.h"

namespace spdlog_ext {

namespace {
// Identifier quoting without a connection (the rules are fixed: double the quotes).
std::string quote_ident(const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
        out += c;
        if (c == '"') out += '"';
    }
    return out + "\"";
}
}  // namespace

postgres_log_store::impl::impl(postgres_config config) : cfg(std::move(config)) {
    try {
        detail::validate_postgres_config(cfg);
    } catch (const config_error& e) {
        throw store_error(store_error::kind::config, e.what());
    }
    conninfo = detail::resolve_conninfo(cfg);
    secrets = detail::postgres_secrets(cfg);
    table_display = (cfg.schema.empty() ? std::string() : cfg.schema + ".") + cfg.table_name();
}

std::string postgres_log_store::impl::table_sql() const {
    return (cfg.schema.empty() ? std::string() : quote_ident(cfg.schema) + ".") +
           quote_ident(cfg.table_name());
}

std::string postgres_log_store::impl::derived_sql(const std::string& suffix) const {
    return (cfg.schema.empty() ? std::string() : quote_ident(cfg.schema) + ".") +
           quote_ident(detail::pg_derived_name(cfg.table_name(), suffix));
}

std::string postgres_log_store::impl::mask(std::string text) const {
    return detail::mask_secrets(std::move(text), secrets, "****");
}

void postgres_log_store::impl::rethrow(const char* doing,
                                       std::unique_ptr<pqxx::connection>& connection) const {
    const std::string prefix = std::string(doing) + ": ";
    try {
        throw;
    } catch (const store_error&) {
        throw;
    } catch (const pqxx::broken_connection& e) {
        connection.reset();
        throw store_error(store_error::kind::connection, mask(prefix + "cannot reach PostgreSQL: " + e.what()));
    } catch (const pqxx::sql_error& e) {
        const std::string state = e.sqlstate();
        if (state == "42P01" || state == "42703") {
            // The server's first line names what is missing; the rest (LINE 1: <the statement>,
            // a caret) is noise to someone who only asked for logs.
            std::string server = e.what();
            server = server.substr(0, server.find('\n'));
            throw store_error(store_error::kind::missing_table,
                              mask(prefix + "the log table " + table_display +
                                   " does not exist or lacks a column (" + server +
                                   "); check LOG_POSTGRES_SCHEMA and LOG_POSTGRES_TABLE_PREFIX, "
                                   "or let postgres_batch_sink create it"));
        }
        if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03") {
            connection.reset();
            throw store_error(store_error::kind::connection, mask(prefix + e.what()));
        }
        throw store_error(store_error::kind::server, mask(prefix + e.what()));
    } catch (const std::exception& e) {
        throw store_error(store_error::kind::server, mask(prefix + e.what()));
    }
}

}  // namespace spdlog_ext
