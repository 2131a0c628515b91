// Internal: the redactor's URL rule alone, for texts that are not records (errors, reasons,
// stats): scheme://user:password@host → scheme://user:[REDACTED]@host, userinfo ending at the
// last '@' before the host.
#pragma once

#include <string>

namespace spdlog_ext::detail {

std::string mask_url_credentials(std::string text);

}  // namespace spdlog_ext::detail
