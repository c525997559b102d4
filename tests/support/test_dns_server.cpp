#include "test_dns_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <stdexcept>

namespace apistudio::testing {

test_dns_server::test_dns_server(std::map<std::string, std::string> a_records, std::uint16_t port)
    : a_records_(std::move(a_records)) {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0)
    throw std::runtime_error("test_dns_server: socket");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd_, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0) {
    ::close(fd_);
    throw std::runtime_error("test_dns_server: bind");
  }
  socklen_t len = sizeof sa;
  ::getsockname(fd_, reinterpret_cast<sockaddr *>(&sa), &len);
  port_ = ntohs(sa.sin_port);
  thread_ = std::thread([this] { serve(); });
}

test_dns_server::~test_dns_server() {
  stopping_ = true;
  thread_.join();
  ::close(fd_);
}

std::vector<std::string> test_dns_server::queries() const {
  std::lock_guard lock(mutex_);
  return queries_;
}

void test_dns_server::serve() {
  char buffer[1500];
  while (!stopping_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0)
      continue;
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    const ssize_t n =
        ::recvfrom(fd_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr *>(&from), &from_len);
    if (n < 12)
      continue;
    const std::string query(buffer, static_cast<std::size_t>(n));
    // The question: labels up to a zero byte, then type and class.
    std::string name;
    std::size_t at = 12;
    while (at < query.size() && query[at] != 0) {
      const auto length = static_cast<unsigned char>(query[at]);
      if (at + 1 + length > query.size())
        break;
      if (!name.empty())
        name += '.';
      for (std::size_t i = 0; i < length; ++i)
        name += static_cast<char>(std::tolower(static_cast<unsigned char>(query[at + 1 + i])));
      at += 1 + length;
    }
    if (at + 5 > query.size())
      continue;
    const auto type = static_cast<std::uint16_t>((static_cast<unsigned char>(query[at + 1]) << 8) |
                                                 static_cast<unsigned char>(query[at + 2]));
    {
      std::lock_guard lock(mutex_);
      queries_.push_back(name);
    }
    if (a_records_.empty())
      continue; // silent
    const std::string reply = answer(query.substr(0, at + 5), name, type);
    ::sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr *>(&from), from_len);
  }
}

std::string test_dns_server::answer(const std::string &question, const std::string &name,
                                    std::uint16_t type) const {
  const auto found = a_records_.find(name);
  in_addr address{};
  const bool a = found != a_records_.end() && type == 1 &&
                 ::inet_pton(AF_INET, found->second.c_str(), &address) == 1;
  std::string out = question;       // the id and the question as asked, with a new header
  out[2] = static_cast<char>(0x81); // QR, RD
  out[3] = static_cast<char>(found == a_records_.end() ? 0x83 : 0x80); // RA, NXDOMAIN / NOERROR
  out[4] = 0;
  out[5] = 1; // one question
  out[6] = 0;
  out[7] = a ? 1 : 0;
  for (int i = 8; i < 12; ++i)
    out[static_cast<std::size_t>(i)] = 0;
  if (a) {
    const unsigned char record[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
    out.append(reinterpret_cast<const char *>(record), sizeof record);
    out.append(reinterpret_cast<const char *>(&address), 4);
  }
  return out;
}

} // namespace apistudio::testing
