#include "sinks/postgres/postgres_conninfo.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "core/secrets.h"
#include "core/url_parts.h"
#include "spdlog_ext/env_options.h"
#include "spdlog_ext/redaction.h"

namespace spdlog_ext::detail {

namespace {

// The userinfo of a URI (user[:password]@host): up to the last '@' before the query, so that a
// raw '@' or '/' in a password (which libpq would split at: the rest would become the host and
// appear in its errors) is still all masked. npos when there is none.
std::size_t uri_userinfo_end(const std::string& conninfo) {
    return userinfo_end(conninfo, userinfo_scope::before_query);
}

// The password of a URI (user:password@host) or keyword string (password=...), to mask it.
std::string password_of(const std::string& conninfo) {
    if (pg_is_uri(conninfo)) {
        const auto start = authority_start(conninfo);
        const auto at = uri_userinfo_end(conninfo);
        const auto colon = conninfo.find(':', start);
        if (at != std::string::npos && colon != std::string::npos && colon < at) {
            return conninfo.substr(colon + 1, at - colon - 1);
        }
        const auto key = conninfo.find("password=");
        if (key != std::string::npos) {
            const auto end = conninfo.find('&', key);
            return conninfo.substr(key + 9, end == std::string::npos ? end : end - key - 9);
        }
        return {};
    }
    const auto key = conninfo.find("password");
    if (key == std::string::npos) {
        return {};
    }
    auto pos = conninfo.find('=', key);
    if (pos == std::string::npos) {
        return {};
    }
    ++pos;
    while (pos < conninfo.size() && conninfo[pos] == ' ') {
        ++pos;
    }
    if (pos < conninfo.size() && conninfo[pos] == '\'') {
        const auto end = conninfo.find('\'', pos + 1);
        return conninfo.substr(pos + 1, end == std::string::npos ? end : end - pos - 1);
    }
    const auto end = conninfo.find(' ', pos);
    return conninfo.substr(pos, end == std::string::npos ? end : end - pos);
}

std::string percent_decoded(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() &&
            std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
            out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

}  // namespace

bool pg_is_uri(const std::string& conninfo) {
    return conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
}

// libpq splits the userinfo at the first '@' and ends the host part at the first '/'. The
// userinfo is taken up to the last '@' (an '@' in a database name after a user must be
// percent-encoded too).
bool pg_raw_reserved_in_userinfo(const std::string& conninfo) {
    const auto start = authority_start(conninfo);
    const auto at = uri_userinfo_end(conninfo);
    if (at == std::string::npos) {
        return false;
    }
    const std::string userinfo = conninfo.substr(start, at - start);
    if (userinfo.find('@') != std::string::npos) {
        return true;
    }
    const auto slash = userinfo.find('/');
    if (slash == std::string::npos) {
        return false;
    }
    // "host:5432/db@x" names a database with an '@' after a host and port: no password there.
    const std::string authority = userinfo.substr(0, slash);
    const auto colon = authority.rfind(':');
    if (colon == std::string::npos || authority.find(']', colon) != std::string::npos) {
        return false;
    }
    const std::string after = authority.substr(colon + 1);
    return after.empty() || !std::all_of(after.begin(), after.end(), [](unsigned char c) {
               return std::isdigit(c) != 0 || c == ',';
           });
}

// The password and, when a keyword string's password is malformed (unquoted, with spaces), the
// words after it up to the next keyword=value.
std::vector<std::string> pg_secrets_of(const std::string& conninfo) {
    std::vector<std::string> secrets;
    const std::string password = password_of(conninfo);
    if (!password.empty()) {
        secrets.push_back(password);
        if (pg_is_uri(conninfo) && password.find('%') != std::string::npos) {
            secrets.push_back(percent_decoded(password));  // what libpq sends and may echo
        }
        if (!pg_is_uri(conninfo)) {
            auto pos = conninfo.find(password, conninfo.find("password"));
            pos = pos == std::string::npos ? pos : pos + password.size();
            while (pos != std::string::npos && pos < conninfo.size()) {
                const auto start = conninfo.find_first_not_of(' ', pos);
                if (start == std::string::npos) {
                    break;
                }
                const auto end = conninfo.find(' ', start);
                const std::string word =
                    conninfo.substr(start, end == std::string::npos ? end : end - start);
                if (word.find('=') != std::string::npos) {
                    break;
                }
                secrets.push_back(word);
                pos = end;
            }
        }
    }
    if (auto pgpassword = getenv_value("PGPASSWORD"); pgpassword && !pgpassword->empty()) {
        secrets.push_back(*pgpassword);
    }
    return secrets;
}

std::string pg_masked(std::string text, const std::vector<std::string>& secrets) {
    text = mask_secrets(std::move(text), secrets, redactor::mask);
    redactor::defaults()->redact_text(text);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

}  // namespace spdlog_ext::detail
