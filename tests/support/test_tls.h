// A throwaway CA and a server certificate for 127.0.0.1, made with the openssl command line.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace test {

struct test_pki {
    std::filesystem::path dir;
    std::string ca_cert, server_cert, server_key;
};

inline test_pki make_test_pki(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    test_pki p{dir, (dir / "ca.pem").string(), (dir / "server.pem").string(),
               (dir / "server.key").string()};
    const std::string d = dir.string();
    const std::string script =
        "set -e; cd '" + d +
        "';"
        " openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2"
        "   -subj '/CN=spdlog_ext test CA' 2>/dev/null;"
        " openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr"
        "   -subj '/CN=127.0.0.1' 2>/dev/null;"
        " printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext;"
        " openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
        "   -out server.pem -days 2 -extfile san.ext 2>/dev/null";
    if (std::system(("sh -c \"" + script + "\"").c_str()) != 0) {
        throw std::runtime_error("openssl could not make the test certificates in " + d);
    }
    return p;
}

}  // namespace test
