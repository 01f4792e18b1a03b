#include "datapath/event_reader.h"

#include <bpf/libbpf.h>

namespace kubedp::datapath {

Result<std::unique_ptr<EventReader>> EventReader::Open(int ring_fd, Handler handler) {
  std::unique_ptr<EventReader> reader(new EventReader(std::move(handler)));
  reader->ring_ = ring_buffer__new(ring_fd, &EventReader::OnRecord, reader.get(), nullptr);
  if (!reader->ring_) return Status::FromErrno(errno, "opening the event ring");
  return reader;
}

EventReader::~EventReader() {
  if (ring_) ring_buffer__free(ring_);
}

int EventReader::fd() const {
  return ring_buffer__epoll_fd(ring_);
}

void EventReader::Consume() {
  ring_buffer__consume(ring_);
}

int EventReader::OnRecord(void* ctx, void* data, size_t size) {
  static_cast<EventReader*>(ctx)->handler_(data, size);
  return 0;
}

}  // namespace kubedp::datapath
