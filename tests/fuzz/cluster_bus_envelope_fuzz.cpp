// cluster_bus_envelope_fuzz.cpp — the cross-host bus envelope parser (docs/cluster.md, "The
// cross-host bus") on arbitrary bytes: whatever anyone with access to Redis publishes on the bus
// channel reaches decode_bus_envelope() first.
//
// Properties: decoding never crashes or reads outside the input; what it accepts is within every
// bound and rule it documents; and the format is canonical, so encoding what was decoded gives
// back the very same bytes (nothing in an accepted envelope is ignored or reinterpreted).
#include "fuzz_invariant.hpp"
#include "plugin_host/cluster_bus_envelope.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using apistudio::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char *>(data), size);
  apistudio::bus_envelope_error why = apistudio::bus_envelope_error::none;
  const auto envelope = apistudio::decode_bus_envelope(text, why);
  if (!envelope) {
    check(why != apistudio::bus_envelope_error::none, "a refusal says why");
    check(!apistudio::describe(why).empty(), "every refusal has a description");
    return 0;
  }
  check(why == apistudio::bus_envelope_error::none, "an accepted envelope has no error");
  check(apistudio::valid_bus_node_id(envelope->node_id), "the node id is valid");
  check(envelope->topic.size() <= apistudio::max_bus_topic, "the topic is within its bound");
  check(envelope->payload.size() <= apistudio::max_bus_payload, "the payload is within its bound");
  const auto slash = envelope->topic.find('/');
  check(slash != 0 && slash != std::string_view::npos, "the topic names its plugin");
  check(apistudio::encode_bus_envelope(envelope->node_id, envelope->topic, envelope->payload) ==
            text,
        "the format is canonical: encoding what was decoded gives the input back");
  return 0;
}
