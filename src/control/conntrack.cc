#include "control/conntrack.h"

#include <arpa/inet.h>

#include "common/ip.h"

namespace kubedp::control {

kdp_ct_timeouts DefaultCtTimeouts() {
  return kdp_ct_timeouts{.tcp_syn = 60,
                         .tcp_established = 21600,
                         .tcp_fin_wait = 60,
                         .tcp_close = 10,
                         .udp_unreplied = 30,
                         .udp_replied = 120,
                         .icmp = 30};
}

std::string CtStateName(uint8_t state) {
  switch (state) {
    case KDP_CT_UNREPLIED:
      return "unreplied";
    case KDP_CT_SYN_SENT:
      return "syn-sent";
    case KDP_CT_ESTABLISHED:
      return "established";
    case KDP_CT_FIN_WAIT:
      return "fin-wait";
    case KDP_CT_CLOSING:
      return "closing";
    case KDP_CT_CLOSED:
      return "closed";
  }
  return "state-" + std::to_string(state);
}

std::string ProtocolName(uint8_t protocol) {
  switch (protocol) {
    case 1:
      return "ICMP";
    case 6:
      return "TCP";
    case 17:
      return "UDP";
    case 132:
      return "SCTP";
  }
  return std::to_string(protocol);
}

CtRow ToCtRow(const kdp_ct_key& key, const kdp_ct_entry& entry, uint64_t now_ns) {
  bool a_started = entry.flags & KDP_CT_F_INITIATOR_IS_A;
  uint32_t source = a_started ? key.addr_a : key.addr_b;
  uint32_t destination = a_started ? key.addr_b : key.addr_a;
  uint16_t source_port = a_started ? key.port_a : key.port_b;
  uint16_t destination_port = a_started ? key.port_b : key.port_a;
  constexpr int64_t kNsPerSecond = 1000000000;
  return CtRow{
      .protocol = ProtocolName(key.protocol),
      .source = FormatIpv4(ntohl(source)),
      .source_port = ntohs(source_port),
      .destination = FormatIpv4(ntohl(destination)),
      .destination_port = ntohs(destination_port),
      .state = CtStateName(entry.state),
      .packets_original = entry.packets_original,
      .packets_reply = entry.packets_reply,
      .bytes_original = entry.bytes_original,
      .bytes_reply = entry.bytes_reply,
      .age_seconds = static_cast<int64_t>(now_ns - entry.created_ns) / kNsPerSecond,
      .expires_in_seconds =
          (static_cast<int64_t>(entry.expires_ns) - static_cast<int64_t>(now_ns)) / kNsPerSecond};
}

bool CtFilter::Matches(const CtRow& row) const {
  if (address && row.source != *address && row.destination != *address) return false;
  if (port && row.source_port != *port && row.destination_port != *port) return false;
  if (protocol && row.protocol != *protocol) return false;
  return true;
}

}  // namespace kubedp::control
