// client_command.cpp — parse_client_command(): the scanner first, nlohmann when it declines, and
// the protocol rules both of them feed (see envelope_parser_detail.hpp).
#include "protocol/envelope_codec.hpp"
#include "protocol/envelope_parser_detail.hpp"

#include <cstring>

namespace apistudio {

namespace {

using detail::envelope_field;
using detail::field_value;
using detail::json_kind;

// Moves the buffer of an optional id into its spare so the next parse can take it back.
void park(std::optional<std::string> &slot, std::string &spare) {
  if (slot) {
    slot->clear();
    spare = std::move(*slot);
    slot.reset();
  }
}

void assign_text(std::string &target, const field_value &value) {
  target.clear();
  if (value.escaped)
    detail::append_unescaped(target, value.text);
  else
    target.append(value.text);
}

void assign_kept(std::optional<std::string> &slot, std::string &spare, const field_value &value) {
  if (!slot)
    slot.emplace(std::move(spare));
  assign_text(*slot, value);
}

// The text of a short string field; decodes into storage only when it holds escapes.
std::string_view text_of(const field_value &value, std::string &storage) {
  if (!value.escaped)
    return value.text;
  assign_text(storage, value);
  return storage;
}

bool is_absent(const field_value &value) {
  return value.kind == json_kind::absent || value.kind == json_kind::null;
}

bool fail(client_command &out, std::string_view message) {
  detail::set_command_error(out, message);
  return false;
}

// An unknown type is echoed in the error, cut to a sane length on a UTF-8 boundary.
std::string_view echo_prefix(std::string_view text) {
  constexpr std::size_t max_echo = 64;
  if (text.size() <= max_echo)
    return text;
  std::size_t cut = max_echo;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return text.substr(0, cut);
}

bool read_id(const field_value &value, std::optional<std::string> &slot, std::string &spare,
             std::size_t max_bytes, std::string_view not_string, std::string_view too_long,
             client_command &out) {
  if (is_absent(value))
    return true;
  if (value.kind != json_kind::string)
    return fail(out, not_string);
  assign_kept(slot, spare, value);
  if (slot->size() > max_bytes) {
    park(slot, spare);
    return fail(out, too_long);
  }
  return true;
}

bool read_send_message(const detail::envelope_fields &fields, client_command &out) {
  const field_value &content = fields[envelope_field::content];
  if (content.kind == json_kind::absent)
    return fail(out, "Invalid message format: missing field 'content'");
  if (content.kind != json_kind::string)
    return fail(out, "Invalid message format: field 'content' must be a string");
  const field_value &message_type = fields[envelope_field::message_type];
  if (!is_absent(message_type)) {
    std::string storage;
    const std::string_view name =
        message_type.kind == json_kind::string ? text_of(message_type, storage) : "";
    if (name == "binary")
      out.binary = true;
    else if (name != "text")
      return fail(out, "Invalid message format: field 'message_type' must be 'text' or 'binary'");
  }
  assign_text(out.content, content);
  return true;
}

bool read_connect_external(const detail::envelope_fields &fields, client_command &out) {
  const field_value &url = fields[envelope_field::url];
  if (url.kind == json_kind::absent)
    return fail(out, "Invalid message format: missing field 'url'");
  if (url.kind != json_kind::string)
    return fail(out, "Invalid message format: field 'url' must be a string");

  const field_value &protocols = fields[envelope_field::protocols];
  if (is_absent(protocols)) {
    out.protocols.clear();
  } else if (protocols.kind != json_kind::array || !protocols.elements_ok) {
    return fail(out, "Invalid message format: field 'protocols' must be an array of strings");
  } else if (protocols.too_many) {
    return fail(out, "Invalid message format: field 'protocols' has more than 64 entries");
  }

  const field_value &headers = fields[envelope_field::headers];
  if (is_absent(headers)) {
    out.headers.clear();
  } else if (headers.kind != json_kind::object || !headers.elements_ok) {
    return fail(out, "Invalid message format: field 'headers' must be an object of strings");
  } else if (headers.too_many) {
    return fail(out, "Invalid message format: field 'headers' has more than 64 entries");
  }

  const field_value &tls_verify = fields[envelope_field::tls_verify];
  if (tls_verify.kind == json_kind::boolean)
    out.tls_verify = tls_verify.boolean;
  else if (!is_absent(tls_verify))
    return fail(out, "Invalid message format: field 'tls_verify' must be true or false");

  assign_text(out.url, url);
  return true;
}

} // namespace

void client_command::reset() {
  kind = command_kind::invalid;
  content.clear();
  binary = false;
  url.clear();
  protocols.clear();
  headers.clear();
  tls_verify.reset();
  park(connection_id, spare_connection_id_);
  park(request_id, spare_request_id_);
  error.clear();
}

bool parse_client_command(std::string_view frame, client_command &out) {
  out.reset();
  if (detail::scan_flat_command(frame, out) == detail::scan_result::parsed)
    return out.kind != command_kind::invalid;
  out.reset();
  return detail::parse_command_reference(frame, out);
}

namespace detail {

envelope_field field_from_key(std::string_view key) noexcept {
  switch (key.size()) {
  case 3:
    return key == "url" ? envelope_field::url : envelope_field::count;
  case 4:
    return key == "type" ? envelope_field::type : envelope_field::count;
  case 7:
    if (key == "content")
      return envelope_field::content;
    return key == "headers" ? envelope_field::headers : envelope_field::count;
  case 9:
    return key == "protocols" ? envelope_field::protocols : envelope_field::count;
  case 10:
    if (key == "request_id")
      return envelope_field::request_id;
    return key == "tls_verify" ? envelope_field::tls_verify : envelope_field::count;
  case 12:
    return key == "message_type" ? envelope_field::message_type : envelope_field::count;
  case 13:
    return key == "connection_id" ? envelope_field::connection_id : envelope_field::count;
  default:
    return envelope_field::count;
  }
}

void set_command_error(client_command &out, std::string_view message) {
  out.kind = command_kind::invalid;
  out.content.clear();
  out.binary = false;
  out.url.clear();
  out.protocols.clear();
  out.headers.clear();
  out.tls_verify.reset();
  park(out.connection_id, out.spare_connection_id_);
  out.error.assign(message);
}

// The order of the checks is the contract: request_id first so that every later error can echo
// it, then type, then connection_id, then the fields of the type.
bool apply_command_rules(const envelope_fields &fields, client_command &out) {
  if (!read_id(fields[envelope_field::request_id], out.request_id, out.spare_request_id_,
               max_request_id_bytes, "Invalid message format: field 'request_id' must be a string",
               "Invalid message format: field 'request_id' is longer than 256 bytes", out))
    return false;

  const field_value &type = fields[envelope_field::type];
  if (type.kind == json_kind::absent)
    return fail(out, "Invalid message format: missing field 'type'");
  if (type.kind != json_kind::string)
    return fail(out, "Invalid message format: field 'type' must be a string");
  std::string storage;
  const std::string_view type_name = text_of(type, storage);
  command_kind kind = command_kind::invalid;
  if (type_name == "send_message")
    kind = command_kind::send_message;
  else if (type_name == "connect_external")
    kind = command_kind::connect_external;
  else if (type_name == "disconnect_external")
    kind = command_kind::disconnect_external;
  else {
    std::string message = "Invalid message format: unknown type '";
    message.append(echo_prefix(type_name));
    message.push_back('\'');
    return fail(out, message);
  }

  if (!read_id(fields[envelope_field::connection_id], out.connection_id, out.spare_connection_id_,
               max_connection_id_bytes,
               "Invalid message format: field 'connection_id' must be a string",
               "Invalid message format: field 'connection_id' is longer than 128 bytes", out))
    return false;

  if (kind == command_kind::send_message) {
    if (!read_send_message(fields, out))
      return false;
  } else if (kind == command_kind::connect_external) {
    if (!read_connect_external(fields, out))
      return false;
  }
  if (kind != command_kind::connect_external) {
    out.protocols.clear();
    out.headers.clear();
  }
  out.kind = kind;
  return true;
}

} // namespace detail
} // namespace apistudio
