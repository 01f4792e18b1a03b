// Reads the datapath's event ring (kdp_events) from the agent's poll loop.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "common/result.h"

struct ring_buffer;

namespace kubedp::datapath {

class EventReader {
 public:
  // Called with each record, in the order the datapath submitted them.
  using Handler = std::function<void(const void* record, size_t size)>;

  static Result<std::unique_ptr<EventReader>> Open(int ring_fd, Handler handler);
  ~EventReader();
  EventReader(const EventReader&) = delete;
  EventReader& operator=(const EventReader&) = delete;

  // Readable (for poll) when records wait.
  int fd() const;
  // Hands every waiting record to the handler.
  void Consume();

 private:
  explicit EventReader(Handler handler) : handler_(std::move(handler)) {}
  static int OnRecord(void* ctx, void* data, size_t size);
  Handler handler_;
  ring_buffer* ring_ = nullptr;
};

}  // namespace kubedp::datapath
