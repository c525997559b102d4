// redaction.hpp — what the debug_logger hides before anything reaches a log line.
//
// Headers: Authorization, Proxy-Authorization, Cookie, Set-Cookie, any name containing key,
// token, secret, password, auth or session (case-insensitive), and the operator's extra names.
// Query parameters (of session paths and upstream URLs, and of URL fragments): any name
// containing token, key, secret, pass, pwd, auth, session, sig, jwt, credential or code. URLs
// also lose their userinfo ("user:pass@"). A client frame that is a JSON object with a "url" or
// "headers" member (connect_external, and any envelope shaped like it) has that url redacted and
// the values of its sensitive headers replaced; a frame that mentions connect_external, "url" or
// "headers" but is not a JSON object (or nests deeper than 64) is withheld entirely: it cannot
// be redacted reliably.
// Redaction over-matches on purpose: a hidden harmless value costs nothing, a leaked one does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace apistudio::plugins::debug_logger {

inline constexpr std::string_view redacted = "[REDACTED]";

class redactor {
public:
  explicit redactor(std::vector<std::string> extra_header_names = {});

  bool sensitive_header(std::string_view name) const noexcept;
  static bool sensitive_query_name(std::string_view decoded_name) noexcept;

  // Same bytes, except the values of sensitive parameters become [REDACTED].
  static std::string redact_query(std::string_view query);
  // Userinfo, sensitive query and fragment parameters redacted; a URL that cannot be split is
  // replaced by "[unparseable URL, N bytes]".
  static std::string redact_url(std::string_view url);
  // A client frame as it may be logged (see the header comment).
  std::string redact_client_frame(std::string_view payload) const;

private:
  std::vector<std::string> extra_lower_;
};

} // namespace apistudio::plugins::debug_logger
