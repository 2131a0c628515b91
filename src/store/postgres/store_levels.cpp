// postgres_log_store's runtime levels: the <table>_levels table, one row per (service, host),
// '' meaning any.
#include <pqxx/pqxx>

#include "sinks/postgres/postgres_ddl.h"
#include "spdlog_ext/postgres_log_store.h"
#include "spdlog_ext/runtime_levels.h"
#include "store/postgres/levels_table_source.h"
#include "store/postgres/store_impl.h"

namespace spdlog_ext {

namespace detail::store {

std::string levels_channel(const postgres_config& cfg) {
    const std::string qualified =
        (cfg.schema.empty() ? std::string() : cfg.schema + ".") + cfg.table_name();
    return pg_derived_name(qualified, "levels");
}

namespace {

bool relation_exists(pqxx::connection& conn, const std::string& quoted_name) {
    pqxx::nontransaction tx(conn);
    const auto r = exec(tx, "SELECT to_regclass($1) IS NOT NULL", {quoted_name});
    return r.size() == 1 && std::string(r[0][0].c_str()) == "t";
}

}  // namespace

void ensure_levels_table(pqxx::connection& conn, const postgres_config& cfg,
                         const std::string& levels_table) {
    if (relation_exists(conn, levels_table))
        return;
    try {
        pqxx::work tx(conn);
        tx.exec("SET LOCAL client_min_messages TO warning");  // no "already exists" notices
        if (!cfg.schema.empty())
            tx.exec("CREATE SCHEMA IF NOT EXISTS " + tx.quote_name(cfg.schema));
        tx.exec("CREATE TABLE IF NOT EXISTS " + levels_table +
                " (service TEXT NOT NULL DEFAULT '', host TEXT NOT NULL DEFAULT '',"
                " spec TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
                " updated_by TEXT NOT NULL DEFAULT session_user, PRIMARY KEY (service, host))");
        tx.commit();
    } catch (const pqxx::sql_error& e) {
        // Two sessions creating the same table (or schema) at once: the loser gets a unique
        // violation on the catalog (23505) or "already exists" for the relation (42P07), the
        // schema (42P06) or the table's row type (42710, 'type "..." already exists').
        const std::string state = e.sqlstate();
        if ((state != "23505" && state != "42P07" && state != "42P06" && state != "42710") ||
            !relation_exists(conn, levels_table)) {
            throw;
        }
    }
}

std::optional<std::string> read_levels(pqxx::connection& conn, const std::string& levels_table,
                                       const std::string& service, const std::string& host) {
    pqxx::nontransaction tx(conn);
    const auto r = exec(tx,
                        "SELECT spec FROM " + levels_table +
                            " WHERE service IN ($1, '') AND host IN ($2, '')"
                            " ORDER BY (service <> '') DESC, (host <> '') DESC LIMIT 1",
                        {service, host});
    if (r.empty())
        return std::nullopt;
    return text(r[0][0]).value_or(std::string());
}

}  // namespace detail::store

namespace {

void check_key(const char* what, const std::string& value) {
    if (value.find('\0') != std::string::npos) {
        throw store_error(store_error::kind::bad_filter,
                          std::string("levels: the ") + what + " contains a NUL byte");
    }
}

}  // namespace

std::string postgres_log_store::get_levels(const std::string& service, const std::string& host) {
    check_key("service", service);
    check_key("host", host);
    const std::string table = impl_->derived_sql("levels");
    return impl_->with_connection("get_levels", [&](pqxx::connection& conn) -> std::string {
        try {
            return detail::store::read_levels(conn, table, service, host).value_or("");
        } catch (const pqxx::sql_error& e) {
            if (e.sqlstate() == "42P01")
                return "";  // no table yet: no levels were ever set
            throw;
        }
    });
}

void postgres_log_store::set_levels(const std::string& spec, const std::string& service,
                                    const std::string& host) {
    std::string error;
    if (!parse_level_spec(spec, &error)) {
        throw store_error(store_error::kind::bad_level_spec,
                          "set_levels: invalid level spec: " + error);
    }
    check_key("service", service);
    check_key("host", host);
    const std::string table = impl_->derived_sql("levels");
    const std::string channel = detail::store::levels_channel(impl_->cfg);
    impl_->with_connection("set_levels", [&](pqxx::connection& conn) {
        detail::store::ensure_levels_table(conn, impl_->cfg, table);
        pqxx::work tx(conn);
        detail::store::exec(tx,
                            "INSERT INTO " + table +
                                " (service, host, spec) VALUES ($1, $2, $3)"
                                " ON CONFLICT (service, host) DO UPDATE SET spec = EXCLUDED.spec,"
                                " updated_at = now(), updated_by = session_user",
                            {service, host, spec});
        // Delivered on commit only, in the same transaction as the row.
        detail::store::exec(tx, "SELECT pg_notify($1, $2)", {channel, service + "@" + host});
        tx.commit();
    });
}

}  // namespace spdlog_ext
