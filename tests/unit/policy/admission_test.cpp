// admission_policy's loopback checks on the exact bytes a client may send in Host and Origin.
#include "policy/admission.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

using apistudio::admission_policy;
using namespace std::string_literals;

TEST(Admission, LoopbackHostsAreRecognised) {
  for (const std::string_view host : {"localhost", "localhost:58123", "LOCALHOST.",
                                      "127.0.0.1:58123", "127.9.9.9", "[::1]", "[::1]:58123"})
    EXPECT_TRUE(admission_policy::is_loopback_host(host)) << host;
}

TEST(Admission, HostsThatOnlyStartLikeLoopbackAreNot) {
  for (const std::string &host :
       {"localhost.evil.example"s, "127.0.0.1.evil.example"s, "[::1%eth0]"s, "[::1%25x]:58123"s,
        "[::1\0@evil]:58123"s, "127.0.0.1\0.evil"s, "localhost\0"s, "[::1 ]"s, "127.0.0.1:58123x"s,
        "evil@127.0.0.1"s, "127.0.0.1/x"s})
    EXPECT_FALSE(admission_policy::is_loopback_host(host)) << host;
}

TEST(Admission, OriginsFollowTheSameRule) {
  EXPECT_TRUE(admission_policy::is_loopback_origin("http://localhost:3000"));
  EXPECT_TRUE(admission_policy::is_loopback_origin("https://[::1]:8443"));
  EXPECT_FALSE(admission_policy::is_loopback_origin("http://[::1\0@evil]"s));
  EXPECT_FALSE(admission_policy::is_loopback_origin("http://127.0.0.1\0x"s));
}
