// json.hpp — the JSON type of the shipped plugins: ordered, so that what a plugin re-serialises
// keeps the order it was written in. The same type as the SDK's settings (apistudio/settings.hpp).
#pragma once

#include <nlohmann/json.hpp>

namespace apistudio::plugins::common {

using json = nlohmann::ordered_json;

} // namespace apistudio::plugins::common
