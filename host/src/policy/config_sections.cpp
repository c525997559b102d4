// config_sections.cpp — the sections of the operator's YAML, read into host_config
// (config_sections.hpp).
#include "policy/config_sections.hpp"

#include "policy/config_values.hpp"
#include "policy/yaml_to_json.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace apistudio::config_detail {
namespace {

namespace fs = std::filesystem;

// One reader per section, all sharing the YAML mechanics and the host_config being filled.
class section_reader {
public:
  section_reader(const yaml_reader &yaml, host_config &config) : yaml_(yaml), config_(config) {}

  void read_top_level(const YAML::Node &root);

private:
  void read_server(const located &section);
  void read_admin(const located &section);
  void read_limits(const located &section);
  void read_keepalive(const located &section);
  void read_shutdown(const located &section);
  void read_tls(const located &section);
  void read_egress(const located &section);
  void read_metrics(const located &section);
  void read_resolver(const located &section);
  void read_security(const located &section);
  void read_log(const located &section);
  void read_cluster(const located &section);
  void read_plugins(const located &list);
  std::vector<egress_rule> read_rules(const located &list) const;

  const yaml_reader &yaml_;
  host_config &config_;
};

void section_reader::read_top_level(const YAML::Node &root) {
  const located top{root, root.Mark(), ""};
  yaml_.read_mapping(top,
                     {
                         {"server", [this](const located &v) { read_server(v); }},
                         {"admin", [this](const located &v) { read_admin(v); }},
                         {"limits", [this](const located &v) { read_limits(v); }},
                         {"keepalive", [this](const located &v) { read_keepalive(v); }},
                         {"metrics", [this](const located &v) { read_metrics(v); }},
                         {"shutdown", [this](const located &v) { read_shutdown(v); }},
                         {"tls", [this](const located &v) { read_tls(v); }},
                         {"egress", [this](const located &v) { read_egress(v); }},
                         {"resolver", [this](const located &v) { read_resolver(v); }},
                         {"security", [this](const located &v) { read_security(v); }},
                         {"log", [this](const located &v) { read_log(v); }},
                         {"cluster", [this](const located &v) { read_cluster(v); }},
                         {"debug", [this](const located &v) { config_.debug = yaml_.boolean(v); }},
                         {"plugin_dir",
                          [this](const located &v) {
                            const std::string dir = yaml_.path_text(v);
                            if (dir.empty())
                              yaml_.fail(v.mark(), v.path,
                                         "empty directory (remove the key for the "
                                         "default)");
                            config_.plugin_dir = yaml_.resolve(dir).string();
                          }},
                         {"plugins", [this](const located &v) { read_plugins(v); }},
                     });
}

void section_reader::read_server(const located &section) {
  yaml_.read_mapping(section,
                     {
                         {"listen",
                          [this](const located &v) {
                            const std::string word = yaml_.text(v, "HOST:PORT");
                            try {
                              host_port parsed = parse_listen(word);
                              config_.listen.host = std::move(parsed.host);
                              config_.listen.port = parsed.port;
                            } catch (const std::invalid_argument &e) {
                              yaml_.fail(
                                  v.mark(), v.path,
                                  "invalid address " + shown(word) + ": " + e.what() +
                                      " (expected HOST:PORT, e.g. 127.0.0.1:58123 or [::1]:58123)");
                            }
                          }},
                         {"worker_threads",
                          [this](const located &v) {
                            config_.worker_threads = static_cast<int>(yaml_.integer(v, 0, 256));
                          }},
                         {"allow_public_without_auth",
                          [this](const located &v) {
                            config_.listen.allow_public_without_auth = yaml_.boolean(v);
                          }},
                     });
}

void section_reader::read_admin(const located &section) {
  yaml_.read_mapping(
      section,
      {
          {"listen",
           [this](const located &v) {
             const std::string word = yaml_.text(v, "HOST:PORT");
             host_port parsed;
             try {
               parsed = parse_listen(word);
             } catch (const std::invalid_argument &e) {
               yaml_.fail(v.mark(), v.path,
                          "invalid address " + shown(word) + ": " + e.what() +
                              " (expected HOST:PORT, e.g. 127.0.0.1:9901 or [::1]:9901)");
             }
             // It answers without a token: only this machine may reach it.
             boost::system::error_code ec;
             const auto address = boost::asio::ip::make_address(parsed.host, ec);
             if (parsed.host != "localhost" && (ec || !address.is_loopback()))
               yaml_.fail(v.mark(), v.path,
                          "the admin listener must be a loopback address (127.0.0.1, [::1]); " +
                              shown(word) +
                              " is not: it serves metrics and reload without a token");
             config_.admin.host = parsed.host == "localhost" ? "127.0.0.1" : parsed.host;
             config_.admin.port = parsed.port;
           }},
      });
}

void section_reader::read_limits(const located &section) {
  limits_config &l = config_.limits;
  yaml_.read_mapping(
      section,
      {
          {"connect_timeout",
           [&](const located &v) { l.connect_timeout = yaml_.duration(v, 10min); }},
          {"max_message_size",
           [&](const located &v) { l.max_message_bytes = yaml_.size(v, 1, 64 * mib); }},
          {"max_connections_per_client",
           [&](const located &v) {
             l.max_connections_per_client = static_cast<std::size_t>(yaml_.integer(v, 1, 1000));
           }},
          {"max_total_connections",
           [&](const located &v) {
             l.max_total_connections = static_cast<std::size_t>(yaml_.integer(v, 1, 1'000'000));
           }},
          {"max_connection_tests_per_address",
           [&](const located &v) {
             l.max_connection_tests_per_address =
                 static_cast<std::size_t>(yaml_.integer(v, 1, 1000));
           }},
          {"max_outbound_queue",
           [&](const located &v) { l.max_outbound_queue_bytes = yaml_.size(v, 64 * kib, gib); }},
          {"max_http_header_size",
           [&](const located &v) { l.max_http_header_bytes = yaml_.size(v, kib, mib); }},
          {"max_http_body_size",
           [&](const located &v) { l.max_http_body_bytes = yaml_.size(v, kib, 64 * mib); }},
          {"max_handshake_headers",
           [&](const located &v) {
             l.max_handshake_headers = static_cast<std::size_t>(yaml_.integer(v, 0, 1000));
           }},
          {"max_header_value_size",
           [&](const located &v) { l.max_header_value_bytes = yaml_.size(v, 1, mib); }},
          {"http_header_timeout",
           [&](const located &v) { l.http_header_timeout = yaml_.duration(v, 10min); }},
          {"write_stall_timeout",
           [&](const located &v) { l.write_stall_timeout = yaml_.duration(v, 1h); }},
      });
}

void section_reader::read_keepalive(const located &section) {
  // The keep-alive (keepalive.hpp) pings after idle_timeout / 2 of silence and drops the peer
  // after idle_timeout: one setting says both, so there is no separate ping interval to contradict.
  yaml_.read_mapping(section, {
                                  {"idle_timeout",
                                   [&](const located &v) {
                                     config_.keepalive.idle_timeout = yaml_.duration(v, 24h);
                                   }},
                              });
}

void section_reader::read_metrics(const located &section) {
  yaml_.read_mapping(
      section,
      {
          {"enabled", [&](const located &v) { config_.metrics.enabled = yaml_.boolean(v); }},
      });
}

void section_reader::read_log(const located &section) {
  yaml_.read_mapping(
      section, {
                   {"format",
                    [this](const located &v) {
                      const std::string word = yaml_.text(v, "text or json");
                      if (word == "text")
                        config_.log.format = log_format::text;
                      else if (word == "json")
                        config_.log.format = log_format::json;
                      else
                        yaml_.fail(v.mark(), v.path,
                                   "unknown format " + shown(word) + " (expected text or json)");
                    }},
                   {"level",
                    [this](const located &v) {
                      const std::string word = yaml_.text(v, "a log level");
                      if (word == "debug")
                        config_.log.level = log_level::debug;
                      else if (word == "info")
                        config_.log.level = log_level::info;
                      else if (word == "warn")
                        config_.log.level = log_level::warn;
                      else if (word == "error")
                        config_.log.level = log_level::error;
                      else
                        yaml_.fail(v.mark(), v.path,
                                   "unknown level " + shown(word) +
                                       " (expected debug, info, warn or error)");
                    }},
                   {"repeat_window",
                    [this](const located &v) {
                      // "off" writes every repeat; a duration is checked like every other one.
                      const std::string word = yaml_.text(v, "a duration or off");
                      config_.log.repeat_window = word == "off" ? 0ms : yaml_.duration(v, 1h);
                    }},
               });
}

void section_reader::read_cluster(const located &section) {
  cluster_config &c = config_.cluster;
  bool url_written = false;
  // A duration of the cluster section with a floor of its own: the reason is beside each key.
  const auto at_least = [this](const located &v, const char *key, std::chrono::milliseconds min,
                               std::chrono::milliseconds max) {
    const auto d = yaml_.duration(v, max);
    if (d < min)
      yaml_.fail(v.mark(), v.path,
                 std::string(key) + " " + format_duration(d) + " out of range (expected at least " +
                     format_duration(min) + " and at most " + format_duration(max) + ")");
    return d;
  };
  yaml_.read_mapping(
      section,
      {
          {"backend",
           [&](const located &v) {
             const std::string word = yaml_.text(v, "local or redis");
             if (word == "local")
               c.backend = cluster_backend::local;
             else if (word == "redis")
               c.backend = cluster_backend::redis;
             else
               yaml_.fail(v.mark(), v.path,
                          "unknown backend " + shown(word) + " (expected local or redis)");
           }},
          {"url",
           [&](const located &v) {
             const std::string word = yaml_.text(v, "a URL such as redis://127.0.0.1:6379/0");
             try {
               const redis_endpoint parsed = parse_redis_url(word);
               c.redis_host = parsed.host;
               c.redis_port = parsed.port;
               c.redis_db = parsed.db;
             } catch (const std::invalid_argument &e) {
               yaml_.fail(v.mark(), v.path,
                          "invalid URL " + shown(word) + ": " + e.what() +
                              " (expected redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0)");
             }
             c.url = word;
             url_written = true;
           }},
          // A secret: messages about it never repeat it.
          {"password", [&](const located &v) { c.password = yaml_.text(v, "a password"); }},
          {"node_id",
           [&](const located &v) {
             const std::string word = yaml_.text(v, "a node name");
             const bool ok =
                 !word.empty() && word.size() <= 128 &&
                 std::all_of(word.begin(), word.end(), [](char ch) {
                   return is_alpha(ch) || is_digit(ch) || ch == '_' || ch == '.' || ch == '-';
                 });
             if (!ok)
               yaml_.fail(v.mark(), v.path,
                          "invalid node id " + shown(word) +
                              " (expected 1 to 128 letters, digits, '_', '.' and '-', e.g. "
                              "host-a; remove the key for host name + pid)");
             c.node_id = word;
           }},
          {"key_prefix",
           [&](const located &v) {
             const std::string word = yaml_.text(v, "a key prefix");
             const bool ok =
                 word.size() <= 64 && std::all_of(word.begin(), word.end(), [](char ch) {
                   return static_cast<unsigned char>(ch) > 0x20 &&
                          static_cast<unsigned char>(ch) < 0x7F;
                 });
             if (!ok)
               yaml_.fail(v.mark(), v.path,
                          "invalid key prefix " + shown(word) +
                              " (expected at most 64 printable characters without spaces, e.g. "
                              "apistudio:)");
             c.key_prefix = word;
           }},
          {"connect_timeout",
           [&](const located &v) { c.connect_timeout = yaml_.duration(v, 5min); }},
          {"command_timeout",
           [&](const located &v) { c.command_timeout = yaml_.duration(v, 5min); }},
          // Renewed every ttl/3: below a second, a renewal would race its own expiry.
          {"lease_ttl", [&](const located &v) { c.lease_ttl = at_least(v, "lease_ttl", 1s, 1h); }},
          // Heartbeats every ttl/3 and sweeps every ttl/4: below a second they would race the
          // expiry they guard against on an ordinary network.
          {"presence_ttl",
           [&](const located &v) { c.presence_ttl = at_least(v, "presence_ttl", 1s, 1h); }},
          // Below 10 ms a host would send a batch per few messages: the round trip per message
          // the batching is there to avoid.
          {"counter_sync_interval",
           [&](const located &v) {
             c.counter_sync_interval = at_least(v, "counter_sync_interval", 10ms, 1min);
           }},
          {"start_without_engine",
           [&](const located &v) { c.start_without_engine = yaml_.boolean(v); }},
      });
  if (c.backend == cluster_backend::redis && !url_written)
    yaml_.fail(section.mark(), section.path,
               "backend redis needs url (e.g. url: redis://127.0.0.1:6379/0)");
}

void section_reader::read_shutdown(const located &section) {
  yaml_.read_mapping(section, {
                                  {"drain_timeout",
                                   [&](const located &v) {
                                     config_.shutdown.drain_timeout =
                                         yaml_.duration(v, 10min, /*zero_allowed=*/true);
                                   }},
                              });
}

void section_reader::read_tls(const located &section) {
  yaml_.read_mapping(
      section,
      {
          {"verify", [this](const located &v) { config_.tls.verify = yaml_.boolean(v); }},
          {"ca_file",
           [this](const located &v) {
             const std::string file = yaml_.path_text(v);
             if (file.empty()) {
               config_.tls.ca_file.clear();
               return;
             }
             const fs::path resolved = yaml_.resolve(file);
             std::error_code ec;
             if (!fs::is_regular_file(resolved, ec))
               yaml_.fail(v.mark(), v.path,
                          "CA file " + shown(file) + " (" + shown(resolved.string()) +
                              ") does not exist or is not a file (relative paths start at "
                              "the config file's directory)");
             config_.tls.ca_file = resolved.string();
           }},
          {"allow_insecure_opt_out",
           [this](const located &v) { config_.tls.allow_insecure_opt_out = yaml_.boolean(v); }},
      });
}

std::vector<egress_rule> section_reader::read_rules(const located &list) const {
  std::vector<egress_rule> rules;
  for (const located &item : yaml_.read_list(list)) {
    std::string pattern = yaml_.text(item, "a host, address or CIDR pattern");
    const bool blank = pattern.find_first_of(" \t\r\n") != std::string::npos;
    if (pattern.empty() || blank)
      yaml_.fail(item.mark(), item.path,
                 "invalid pattern " + shown(pattern) +
                     " (expected a host, address or CIDR such as *.example.com or 10.0.0.0/8)");
    rules.push_back(egress_rule{std::move(pattern), item.mark().line + 1});
  }
  return rules;
}

void section_reader::read_egress(const located &section) {
  yaml_.read_mapping(
      section, {
                   {"preset",
                    [this](const located &v) {
                      const std::string preset = yaml_.text(v, "a preset name");
                      if (preset != "local-dev" && preset != "public-only")
                        yaml_.fail(v.mark(), v.path,
                                   "unknown preset " + shown(preset) +
                                       " (expected local-dev or public-only)");
                      config_.egress.preset = preset;
                    }},
                   {"allow", [this](const located &v) { config_.egress.allow = read_rules(v); }},
                   {"deny", [this](const located &v) { config_.egress.deny = read_rules(v); }},
               });
}

void section_reader::read_resolver(const located &section) {
  resolver_config &r = config_.resolver;
  yaml_.read_mapping(
      section,
      {
          {"servers",
           [&](const located &v) {
             r.servers.clear();
             for (const located &item : yaml_.read_list(v)) {
               const std::string word = yaml_.text(item, "a name server address");
               try {
                 host_port parsed = parse_name_server(word);
                 r.servers.push_back(name_server{std::move(parsed.host), parsed.port});
               } catch (const std::invalid_argument &e) {
                 yaml_.fail(item.mark(), item.path,
                            "invalid name server " + shown(word) + ": " + e.what() +
                                " (expected IP or IP:PORT, e.g. 127.0.0.1:5353 or [::1]:53)");
               }
             }
           }},
          {"max_lookups_per_client",
           [&](const located &v) {
             r.max_lookups_per_client = static_cast<std::size_t>(yaml_.integer(v, 1, 64));
           }},
          {"max_lookups_per_worker",
           [&](const located &v) {
             r.max_lookups_per_worker = static_cast<std::size_t>(yaml_.integer(v, 1, 10000));
           }},
      });
}

void section_reader::read_security(const located &section) {
  security_config &s = config_.security;
  const auto origin = [this](const located &item, std::string word) {
    try {
      return canonical_origin(word);
    } catch (const std::invalid_argument &e) {
      yaml_.fail(item.mark(), item.path,
                 std::string(e.what()) +
                     " (expected scheme://host[:port], e.g. https://app.example.com)");
    }
  };
  // Tokens are secrets: messages say what is wrong without repeating them.
  const auto token = [this](const located &item, std::string word) {
    if (word.empty())
      yaml_.fail(item.mark(), item.path, "empty access token (an unset ${VAR:-} default?)");
    for (char c : word)
      if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) == 0x7F)
        yaml_.fail(item.mark(), item.path,
                   "an access token cannot contain spaces or control characters (expected the bare "
                   "token, without \"Bearer \")");
    return word;
  };
  const auto host = [this](const located &item, std::string word) {
    const bool url = word.find('/') != std::string::npos;
    const bool ok = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
      return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_' || c == ':' ||
             c == '[' || c == ']';
    });
    if (url || !ok)
      yaml_.fail(
          item.mark(), item.path,
          "invalid host name " + shown(word) +
              " (expected a name as sent in the Host header, e.g. studio.example.com, not a URL)");
    return lower(word);
  };
  yaml_.read_mapping(
      section, {
                   {"allowed_origins",
                    [&](const located &v) { s.allowed_origins = yaml_.read_strings(v, origin); }},
                   {"allow_missing_origin",
                    [&](const located &v) { s.allow_missing_origin = yaml_.boolean(v); }},
                   {"access_tokens",
                    [&](const located &v) { s.access_tokens = yaml_.read_strings(v, token); }},
                   {"allowed_hosts",
                    [&](const located &v) { s.allowed_hosts = yaml_.read_strings(v, host); }},
               });
}

void section_reader::read_plugins(const located &list) {
  std::map<std::string, int, std::less<>> first_line;
  for (const located &entry : yaml_.read_list(list)) {
    if (!entry.node.IsMap())
      yaml_.fail(entry.mark(), entry.path,
                 std::string("expected a mapping such as '- name: rate_limiter', got ") +
                     kind(entry.node));
    plugin_config plugin;
    const YAML::Mark at = entry.mark();
    plugin.location = yaml_.where(at);
    bool named = false;
    yaml_.read_mapping(
        entry,
        {
            {"name",
             [&](const located &v) {
               plugin.name = yaml_.text(v, "a plugin name");
               const bool ok =
                   !plugin.name.empty() &&
                   std::all_of(plugin.name.begin(), plugin.name.end(), [](char c) {
                     return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-';
                   });
               if (!ok)
                 yaml_.fail(v.mark(), v.path,
                            "invalid plugin name " + shown(plugin.name) +
                                " (expected letters, digits, '_', '.' and '-', e.g. rate_limiter)");
               named = true;
             }},
            {"path",
             [&](const located &v) {
               plugin.path = yaml_.path_text(v);
               if (plugin.path.empty())
                 yaml_.fail(v.mark(), v.path,
                            "empty path (remove the key to load lib<name>.so from plugin_dir)");
             }},
            {"enabled", [&](const located &v) { plugin.enabled = yaml_.boolean(v); }},
            {"settings",
             [&](const located &v) {
               if (v.node.IsNull()) {
                 plugin.setting_locations[""] = yaml_.where(v.key_mark);
                 return; // "settings:" with nothing under it
               }
               if (!v.node.IsMap())
                 yaml_.fail(v.mark(), v.path,
                            std::string("expected a mapping, got ") + kind(v.node) +
                                " (write settings: {} for none)");
               // Where each setting is, so a plugin's refusal points at its key, not the entry.
               plugin.settings = yaml_to_json(yaml_, v, plugin.setting_locations);
             }},
        });
    if (!named)
      yaml_.fail(at, entry.path, "missing required key 'name' (e.g. - name: rate_limiter)");
    // The name identifies the plugin in logs and errors; two entries would be indistinguishable.
    if (const auto previous = first_line.find(plugin.name); previous != first_line.end())
      yaml_.fail(at, entry.path,
                 "plugin " + shown(plugin.name) + " is listed twice (first at line " +
                     std::to_string(previous->second) + ")");
    first_line.emplace(plugin.name, at.line + 1);
    config_.plugins.push_back(std::move(plugin));
  }
}

} // namespace

void read_sections(const yaml_reader &reader, const YAML::Node &root, host_config &config) {
  section_reader(reader, config).read_top_level(root);
}

} // namespace apistudio::config_detail
