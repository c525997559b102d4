// cluster_bus_envelope_test.cpp — the cross-host bus envelope: a round trip of any bytes, and
// every rule decode() enforces on what comes from Redis (docs/cluster.md, "The cross-host bus").
#include "plugin_host/cluster_bus_envelope.hpp"

#include <gtest/gtest.h>

namespace apistudio {
namespace {

bus_envelope_error refusal_of(std::string_view text) {
  bus_envelope_error why = bus_envelope_error::none;
  EXPECT_FALSE(decode_bus_envelope(text, why).has_value()) << text;
  return why;
}

TEST(ClusterBusEnvelope, RoundTripsAnyPayloadBytes) {
  const std::string payload("{\"a\":1}\n\0\xff binary", 17);
  const std::string text = encode_bus_envelope("node-a", "collaboration/ws:team", payload);
  EXPECT_EQ(text.rfind("APISTUDIO-BUS 1 6 21\nnode-acollaboration/ws:team", 0), 0u) << text;
  bus_envelope_error why = bus_envelope_error::not_an_envelope;
  const auto decoded = decode_bus_envelope(text, why);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(why, bus_envelope_error::none);
  EXPECT_EQ(decoded->node_id, "node-a");
  EXPECT_EQ(decoded->topic, "collaboration/ws:team");
  EXPECT_EQ(decoded->payload, payload);
  // An empty payload is a payload.
  const auto empty = decode_bus_envelope(encode_bus_envelope("n", "p/t", ""), why);
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->payload, "");
}

TEST(ClusterBusEnvelope, RefusesWhatIsNotOneOfOurs) {
  EXPECT_EQ(refusal_of(""), bus_envelope_error::not_an_envelope);
  EXPECT_EQ(refusal_of("garbage"), bus_envelope_error::not_an_envelope);
  EXPECT_EQ(refusal_of("{\"from_session\":1}"), bus_envelope_error::not_an_envelope);
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 1 3"), bus_envelope_error::not_an_envelope); // no \n
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 2 1 3\nnp/t"), bus_envelope_error::version);
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 1 3 \nnp/t"), bus_envelope_error::not_an_envelope);
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 1 3\nnp/"), bus_envelope_error::not_an_envelope); // short
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 01 3\nnp/t"), bus_envelope_error::bad_node_id);
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 0 3\np/t"), bus_envelope_error::bad_node_id);
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 -1 3\nnp/t"), bus_envelope_error::bad_node_id);
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 1 x\nnp/t"), bus_envelope_error::bad_topic);
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 1 3\n p/t"), bus_envelope_error::bad_node_id); // space
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 1 3\nnpt!"), bus_envelope_error::bad_topic);   // no '/'
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 1 3\nn/pt"), bus_envelope_error::bad_topic);   // '/' first
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 1 3\nnp\n/"), bus_envelope_error::bad_topic);  // control
}

TEST(ClusterBusEnvelope, RefusesWhatIsPastTheBounds) {
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 129 3\n" + std::string(129, 'n') + "p/t"),
            bus_envelope_error::oversize);
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 1 1025\nn" + std::string(1023, 'p') + "/t"),
            bus_envelope_error::oversize);
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 1 99999999999999999999999\nnp/t"),
            bus_envelope_error::oversize);
  const std::string big(max_bus_payload + 1, 'x');
  EXPECT_EQ(refusal_of(encode_bus_envelope("n", "p/t", big)), bus_envelope_error::oversize);
  bus_envelope_error why{};
  EXPECT_TRUE(decode_bus_envelope(encode_bus_envelope("n", "p/t", big.substr(1)), why).has_value());
  // A first line longer than any of ours is not read further.
  EXPECT_EQ(refusal_of("APISTUDIO-BUS 1 1 3" + std::string(100, ' ') + "\nnp/t"),
            bus_envelope_error::not_an_envelope);
}

TEST(ClusterBusEnvelope, NodeIdsThatCanTravel) {
  EXPECT_TRUE(valid_bus_node_id("host-a-1234"));
  EXPECT_FALSE(valid_bus_node_id(""));
  EXPECT_FALSE(valid_bus_node_id("has space"));
  EXPECT_FALSE(valid_bus_node_id(std::string(129, 'n')));
  EXPECT_TRUE(valid_bus_node_id(std::string(128, 'n')));
}

} // namespace
} // namespace apistudio
