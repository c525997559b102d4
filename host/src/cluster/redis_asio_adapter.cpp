// redis_asio_adapter.cpp — see redis_asio_adapter.hpp.
#include "cluster/redis_asio_adapter.hpp"

#include <hiredis/async.h>

#include <boost/asio/posix/stream_descriptor.hpp>

namespace apistudio::cluster {
namespace {

namespace net = boost::asio;

class asio_adapter : public std::enable_shared_from_this<asio_adapter> {
public:
  asio_adapter(redisAsyncContext *context, const net::any_io_executor &executor)
      : context_(context), descriptor_(executor, context->c.fd) {}
  ~asio_adapter() {
    // Never close hiredis' socket: it closes it itself in redisFree.
    if (descriptor_.is_open())
      descriptor_.release();
  }
  asio_adapter(const asio_adapter &) = delete;
  asio_adapter &operator=(const asio_adapter &) = delete;

  void hold_self() { self_ = shared_from_this(); }

  static void add_read(void *data) { static_cast<asio_adapter *>(data)->want(reading_want); }
  static void del_read(void *data) { static_cast<asio_adapter *>(data)->reading_ = false; }
  static void add_write(void *data) { static_cast<asio_adapter *>(data)->want(writing_want); }
  static void del_write(void *data) { static_cast<asio_adapter *>(data)->writing_ = false; }
  static void cleanup(void *data) {
    auto *self = static_cast<asio_adapter *>(data);
    // hiredis frees the context after this returns: forget it, stop waiting (release() cancels
    // the waits; their handlers see context_ == nullptr), and let the last handler free us.
    self->context_ = nullptr;
    self->reading_ = false;
    self->writing_ = false;
    if (self->descriptor_.is_open())
      self->descriptor_.release();
    const std::shared_ptr<asio_adapter> last = std::move(self->self_);
  }

private:
  enum direction { reading_want, writing_want };

  void want(direction d) {
    if (context_ == nullptr)
      return;
    if (d == reading_want) {
      reading_ = true;
      if (!read_armed_)
        arm(reading_want);
    } else {
      writing_ = true;
      if (!write_armed_)
        arm(writing_want);
    }
  }

  // One wait per direction at a time. A hook that turns the direction off while a wait is armed
  // leaves the wait running; its handler then does nothing (hiredis' hooks are idempotent).
  void arm(direction d) {
    (d == reading_want ? read_armed_ : write_armed_) = true;
    descriptor_.async_wait(
        d == reading_want ? net::posix::descriptor_base::wait_read
                          : net::posix::descriptor_base::wait_write,
        [self = shared_from_this(), d](const boost::system::error_code &ec) {
          (d == reading_want ? self->read_armed_ : self->write_armed_) = false;
          // operation_aborted: cleanup released the descriptor; the context is gone.
          if (ec || self->context_ == nullptr)
            return;
          const bool wanted = d == reading_want ? self->reading_ : self->writing_;
          if (!wanted)
            return;
          if (d == reading_want)
            redisAsyncHandleRead(self->context_); // may call cleanup (a lost connection)
          else
            redisAsyncHandleWrite(self->context_);
          if (self->context_ == nullptr)
            return;
          const bool still = d == reading_want ? self->reading_ : self->writing_;
          const bool armed = d == reading_want ? self->read_armed_ : self->write_armed_;
          if (still && !armed)
            self->arm(d);
        });
  }

  redisAsyncContext *context_;
  net::posix::stream_descriptor descriptor_;
  std::shared_ptr<asio_adapter> self_; // hiredis' reference, dropped in cleanup
  bool reading_ = false;
  bool writing_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
};

} // namespace

bool attach_asio_adapter(redisAsyncContext *context, const net::any_io_executor &executor) {
  if (context->ev.data != nullptr || context->c.fd < 0)
    return false;
  auto adapter = std::make_shared<asio_adapter>(context, executor);
  adapter->hold_self();
  context->ev.data = adapter.get();
  context->ev.addRead = &asio_adapter::add_read;
  context->ev.delRead = &asio_adapter::del_read;
  context->ev.addWrite = &asio_adapter::add_write;
  context->ev.delWrite = &asio_adapter::del_write;
  context->ev.cleanup = &asio_adapter::cleanup;
  return true;
}

} // namespace apistudio::cluster
