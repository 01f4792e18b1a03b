// Routes libbpf's messages into kubedp's structured log.
#pragma once

namespace kubedp::datapath {

// Warnings go to the log as warnings, except the kernel's extended ack text
// that accompanies an error libbpf also returns (the caller reports that one).
void RouteLibbpfLogs();

}  // namespace kubedp::datapath
