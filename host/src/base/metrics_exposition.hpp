// metrics_exposition.hpp — a metrics_registry snapshot and the process's own figures as the
// Prometheus text exposition format, version 0.0.4 (what GET /metrics answers).
//
// Every family is written with its # HELP and # TYPE lines, also when it has no sample yet, so
// a dashboard finds every name from the first scrape. docs/operations.md lists them.
#pragma once

#include "base/metrics.hpp"
#include "base/process_stats.hpp"

#include <string>
#include <string_view>

namespace apistudio {

inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

std::string render_metrics(const metrics_registry::snapshot &metrics, const process_stats &process,
                           std::string_view version);

} // namespace apistudio
