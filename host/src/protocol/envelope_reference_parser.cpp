// envelope_reference_parser.cpp — parse_command_reference(): every client command the scanner
// declines (nested protocols/headers, escaped keys, syntax errors...) goes through nlohmann's
// SAX parser here. SAX rather than the DOM: nlohmann's parser is iterative, so refusing to open
// level 65 bounds the work on a 100,000-deep "[[[[" frame; headers keep the order they were sent
// in; and no tree of unknown fields is built only to be thrown away.
#include "protocol/envelope_parser_detail.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <exception>

namespace apistudio::detail {

namespace {

using json = nlohmann::json;
constexpr auto field_count = static_cast<std::size_t>(envelope_field::count);

class reference_handler final : public nlohmann::json_sax<json> {
public:
  explicit reference_handler(client_command &out) : out_(out) {}

  bool null() override { return on_value(json_kind::null, nullptr, false); }
  bool boolean(bool value) override { return on_value(json_kind::boolean, nullptr, value); }
  bool number_integer(number_integer_t) override {
    return on_value(json_kind::number, nullptr, false);
  }
  bool number_unsigned(number_unsigned_t) override {
    return on_value(json_kind::number, nullptr, false);
  }
  bool number_float(number_float_t, const string_t &) override {
    return on_value(json_kind::number, nullptr, false);
  }
  bool string(string_t &value) override { return on_value(json_kind::string, &value, false); }
  bool binary(binary_t &) override { return on_value(json_kind::string, nullptr, false); }

  bool start_object(std::size_t) override { return on_open(json_kind::object); }
  bool start_array(std::size_t) override { return on_open(json_kind::array); }
  bool end_object() override { return on_close(); }
  bool end_array() override { return on_close(); }

  bool key(string_t &name) override {
    if (depth_ == 1)
      top_field_ = field_from_key(name);
    else if (depth_ == 2 && collecting_ == envelope_field::headers)
      header_name_ = std::move(name);
    return true;
  }

  bool parse_error(std::size_t, const std::string &, const nlohmann::detail::exception &) override {
    return false;
  }

  bool too_deep() const { return too_deep_; }
  bool not_object() const { return not_object_; }

  // The collected fields, their text pointing into this handler.
  envelope_fields fields() const {
    envelope_fields result = fields_;
    for (std::size_t i = 0; i < field_count; ++i) {
      if (result.values[i].kind == json_kind::string)
        result.values[i].text = strings_[i];
    }
    return result;
  }

private:
  field_value *top_slot() {
    return top_field_ == envelope_field::count ? nullptr : &fields_[top_field_];
  }

  bool on_value(json_kind kind, string_t *text, bool flag) {
    if (depth_ == 0) {
      not_object_ = true;
    } else if (depth_ == 1) {
      if (field_value *slot = top_slot()) {
        *slot = field_value{};
        slot->kind = kind;
        slot->boolean = flag;
        if (text != nullptr)
          strings_[static_cast<std::size_t>(top_field_)] = std::move(*text);
      }
    } else if (depth_ == 2 && collecting_ != envelope_field::count) {
      add_element(kind, text);
    }
    return true;
  }

  void add_element(json_kind kind, string_t *text) {
    field_value &list = fields_[collecting_];
    if (kind != json_kind::string || text == nullptr) {
      list.elements_ok = false;
      return;
    }
    if (collecting_ == envelope_field::protocols) {
      if (out_.protocols.size() == max_list_entries)
        list.too_many = true;
      else
        out_.protocols.push_back(std::move(*text));
      return;
    }
    // A repeated header name: the last value wins, in the place of the first (like a JSON object).
    auto same = std::find_if(out_.headers.begin(), out_.headers.end(),
                             [&](const auto &header) { return header.first == header_name_; });
    if (same != out_.headers.end())
      same->second = std::move(*text);
    else if (out_.headers.size() == max_list_entries)
      list.too_many = true;
    else
      out_.headers.emplace_back(std::move(header_name_), std::move(*text));
  }

  bool on_open(json_kind kind) {
    if (depth_ == max_nesting_depth) {
      too_deep_ = true;
      return false; // stop before nlohmann descends any further
    }
    if (depth_ == 0 && kind != json_kind::object) {
      not_object_ = true;
    } else if (depth_ == 1) {
      collecting_ = envelope_field::count;
      if (field_value *slot = top_slot()) {
        *slot = field_value{};
        slot->kind = kind;
        if (top_field_ == envelope_field::protocols && kind == json_kind::array) {
          collecting_ = top_field_;
          out_.protocols.clear();
        } else if (top_field_ == envelope_field::headers && kind == json_kind::object) {
          collecting_ = top_field_;
          out_.headers.clear();
        }
      }
    } else if (depth_ == 2 && collecting_ != envelope_field::count) {
      fields_[collecting_].elements_ok = false; // a nested array/object where a string belongs
    }
    ++depth_;
    return true;
  }

  bool on_close() {
    --depth_;
    if (depth_ == 1)
      collecting_ = envelope_field::count;
    return true;
  }

  client_command &out_;
  std::size_t depth_ = 0;
  envelope_field top_field_ = envelope_field::count;  // key of the value being read at level 1
  envelope_field collecting_ = envelope_field::count; // protocols/headers being filled
  std::string header_name_;
  bool too_deep_ = false;
  bool not_object_ = false;
  envelope_fields fields_;
  std::array<std::string, field_count> strings_;
};

} // namespace

bool parse_command_reference(std::string_view frame, client_command &out) {
  reference_handler handler(out);
  bool parsed = false;
  try {
    parsed = json::sax_parse(frame.begin(), frame.end(), &handler, json::input_format_t::json,
                             /*strict=*/true, /*ignore_comments=*/false);
  } catch (const std::exception &) {
    parsed = false; // only std::bad_alloc in practice: the handler never throws
  }
  if (!parsed) {
    // The request_id may have been read before the syntax error: echo it if it is usable.
    const field_value request_id = handler.fields()[envelope_field::request_id];
    if (request_id.kind == json_kind::string && request_id.text.size() <= max_request_id_bytes) {
      if (!out.request_id)
        out.request_id.emplace(std::move(out.spare_request_id_));
      out.request_id->assign(request_id.text);
    }
    set_command_error(out, handler.too_deep()
                               ? "Invalid message format: nesting deeper than 64 levels"
                               : "Invalid message format: not valid JSON");
    return false;
  }
  if (handler.not_object()) {
    set_command_error(out, "Invalid message format: expected a JSON object");
    return false;
  }
  return apply_command_rules(handler.fields(), out);
}

} // namespace apistudio::detail
