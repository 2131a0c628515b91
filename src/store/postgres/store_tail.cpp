// postgres_log_store::tail: follows committed rows (LISTEN/NOTIFY with a polling safety net).
#include "spdlog_ext/postgres_log_store.h"
#include "store/postgres/store_impl.h"

namespace spdlog_ext {

void postgres_log_store::tail(const tail_options&, const tail_callback&, const std::function<bool()>&) {
    throw store_error(store_error::kind::server, "postgres_log_store::tail: not implemented yet");
}

}  // namespace spdlog_ext
