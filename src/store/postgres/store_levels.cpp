// postgres_log_store's runtime levels: the <table>_levels table.
#include "spdlog_ext/postgres_log_store.h"
#include "store/postgres/store_impl.h"

namespace spdlog_ext {

std::string postgres_log_store::get_levels(const std::string&, const std::string&) {
    throw store_error(store_error::kind::server, "postgres_log_store::get_levels: not implemented yet");
}
void postgres_log_store::set_levels(const std::string&, const std::string&, const std::string&) {
    throw store_error(store_error::kind::server, "postgres_log_store::set_levels: not implemented yet");
}

}  // namespace spdlog_ext
