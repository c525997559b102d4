// log_redaction.hpp — hides secrets in free text before it becomes a log line.
//
// The logger passes every message through redact_secrets(), whoever wrote it: the host itself,
// an exception's what(), a plugin through the SDK's log function. The rules are the debug_logger
// plugin's (plugins/debug_logger/redaction.hpp), applied to text instead of parsed frames:
//   - URLs (scheme://...): userinfo ("user:pass@") and the values of sensitive query and fragment
//     parameters (names containing token, key, secret, pass, pwd, auth, session, sig, jwt,
//     credential or code) become [REDACTED];
//   - name=value and name: value pairs (also "name":"value" in JSON) whose name is a sensitive
//     header or parameter name (Authorization, Proxy-Authorization, Cookie, Set-Cookie, or
//     containing token, key, secret, pass, pwd, auth, session, jwt, credential, sig) lose their
//     value;
//   - "Bearer X" and "Basic X" lose X.
// Over-matching is on purpose: a hidden harmless value costs nothing, a leaked one does. Text
// that carries a secret with no marker at all cannot be recognised: the host keeps such values
// (access tokens, header values) out of its messages at the source.
#pragma once

#include <string>
#include <string_view>

namespace apistudio {

inline constexpr std::string_view redacted_marker = "[REDACTED]";

// A query or fragment parameter name whose value is hidden (already percent-decoded).
bool is_secret_parameter_name(std::string_view decoded_name) noexcept;
// A header name whose value is hidden.
bool is_secret_header_name(std::string_view name) noexcept;

// `text` with every secret it visibly carries replaced by [REDACTED] (see above). Linear in the
// text's length; only lines that are written pay for it.
std::string redact_secrets(std::string_view text);

} // namespace apistudio
