// local_message_bus.cpp — the in-process message_bus: topic -> subscribed session ids.
//
// The mutex guards only the two maps. publish() copies the recipients under it and posts to
// their ports after releasing it, so a session's thread never runs (and never blocks) while the
// bus is locked, and a port calling back into the bus cannot deadlock.
#include "plugin_host/message_bus.hpp"

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace apistudio {

namespace {

// Lets publish() look a topic up by string_view without building a std::string.
struct topic_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

class local_message_bus final : public message_bus {
public:
  explicit local_message_bus(session_directory &directory) : directory_(directory) {}

  void subscribe(std::string_view topic, apistudio_session_id session) override {
    std::lock_guard lock(mutex_);
    auto it = subscribers_.find(topic);
    if (it == subscribers_.end())
      it = subscribers_.emplace(std::string(topic), id_set{}).first;
    it->second.insert(session);
    topics_of_[session].insert(it->first);
  }

  void unsubscribe(std::string_view topic, apistudio_session_id session) override {
    std::lock_guard lock(mutex_);
    auto it = subscribers_.find(topic);
    if (it == subscribers_.end())
      return;
    it->second.erase(session);
    if (auto own = topics_of_.find(session); own != topics_of_.end()) {
      own->second.erase(it->first);
      if (own->second.empty())
        topics_of_.erase(own);
    }
    if (it->second.empty())
      subscribers_.erase(it);
  }

  void unsubscribe_all(apistudio_session_id session) override {
    std::lock_guard lock(mutex_);
    auto own = topics_of_.find(session);
    if (own == topics_of_.end())
      return;
    for (const auto &topic : own->second) {
      auto it = subscribers_.find(topic);
      if (it == subscribers_.end())
        continue;
      it->second.erase(session);
      if (it->second.empty())
        subscribers_.erase(it);
    }
    topics_of_.erase(own);
  }

  void publish(std::string_view topic, std::string_view payload) override {
    std::vector<apistudio_session_id> recipients;
    {
      std::lock_guard lock(mutex_);
      auto it = subscribers_.find(topic);
      if (it == subscribers_.end())
        return;
      recipients.assign(it->second.begin(), it->second.end());
    }
    // One immutable delivery shared by every recipient: the payload is copied once, whatever
    // the number of subscribers.
    auto delivery = std::make_shared<const bus_delivery>(
        bus_delivery{std::string(topic), std::string(payload)});
    for (const auto id : recipients) {
      if (auto port = directory_.find(id))
        port->post_bus(delivery);
    }
  }

private:
  using id_set = std::unordered_set<apistudio_session_id>;

  session_directory &directory_;
  std::mutex mutex_;
  std::unordered_map<std::string, id_set, topic_hash, std::equal_to<>> subscribers_;
  // The reverse index, so unsubscribe_all (every session end) does not scan every topic.
  std::unordered_map<apistudio_session_id, std::unordered_set<std::string>> topics_of_;
};

} // namespace

std::unique_ptr<message_bus> make_local_message_bus(session_directory &directory) {
  return std::make_unique<local_message_bus>(directory);
}

} // namespace apistudio
