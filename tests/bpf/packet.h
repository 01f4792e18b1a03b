// Crafted frames for BPF_PROG_TEST_RUN: Ethernet + IPv4 + TCP/UDP headers with
// a correct IPv4 header checksum, and accessors for checking rewritten output.
#pragma once

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace kubedp::testing {

using Mac = std::array<uint8_t, 6>;

inline uint16_t Ipv4Checksum(const iphdr& ip) {
  const auto* words = reinterpret_cast<const uint16_t*>(&ip);
  uint32_t sum = 0;
  for (size_t i = 0; i < sizeof(iphdr) / 2; ++i) sum += words[i];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

struct PacketSpec {
  Mac src_mac{0x02, 0xaa, 0, 0, 0, 1};
  Mac dst_mac{0x02, 0xbb, 0, 0, 0, 1};
  uint32_t saddr = 0;  // host byte order
  uint32_t daddr = 0;
  uint8_t protocol = IPPROTO_UDP;
  uint16_t sport = 40000;
  uint16_t dport = 8080;
  uint8_t ttl = 64;
  uint16_t ethertype = ETH_P_IP;
  uint8_t tcp_flags = 0;  // for TCP: FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10
  uint8_t icmp_type = 8;  // for ICMP: echo request
  uint16_t icmp_id = 0;
};

inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;

// The TCP/UDP checksum of a frame (pseudo header + segment), 0 when valid
// over a frame whose checksum field is filled in.
inline uint16_t L4Checksum(const std::vector<uint8_t>& frame) {
  const auto* ip = reinterpret_cast<const iphdr*>(frame.data() + sizeof(ethhdr));
  size_t l4_len = frame.size() - sizeof(ethhdr) - ip->ihl * 4;
  const uint8_t* l4 = frame.data() + sizeof(ethhdr) + ip->ihl * 4;
  uint32_t sum = 0;
  auto add16 = [&sum](const uint8_t* p) { sum += (p[0] << 8) | p[1]; };
  add16(reinterpret_cast<const uint8_t*>(&ip->saddr));
  add16(reinterpret_cast<const uint8_t*>(&ip->saddr) + 2);
  add16(reinterpret_cast<const uint8_t*>(&ip->daddr));
  add16(reinterpret_cast<const uint8_t*>(&ip->daddr) + 2);
  sum += ip->protocol;
  sum += static_cast<uint32_t>(l4_len);
  for (size_t i = 0; i + 1 < l4_len; i += 2) add16(l4 + i);
  if (l4_len % 2) sum += l4[l4_len - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

inline std::vector<uint8_t> BuildPacket(const PacketSpec& spec) {
  std::vector<uint8_t> frame(sizeof(ethhdr) + sizeof(iphdr) + sizeof(udphdr) + 16, 0);
  auto* eth = reinterpret_cast<ethhdr*>(frame.data());
  std::memcpy(eth->h_dest, spec.dst_mac.data(), 6);
  std::memcpy(eth->h_source, spec.src_mac.data(), 6);
  eth->h_proto = htons(spec.ethertype);
  auto* ip = reinterpret_cast<iphdr*>(eth + 1);
  ip->version = 4;
  ip->ihl = 5;
  ip->tot_len = htons(static_cast<uint16_t>(frame.size() - sizeof(ethhdr)));
  ip->ttl = spec.ttl;
  ip->protocol = spec.protocol;
  ip->saddr = htonl(spec.saddr);
  ip->daddr = htonl(spec.daddr);
  ip->check = Ipv4Checksum(*ip);
  auto* l4 = reinterpret_cast<uint8_t*>(ip + 1);
  if (spec.protocol == IPPROTO_ICMP) {
    l4[0] = spec.icmp_type;
    uint16_t id = htons(spec.icmp_id);
    std::memcpy(l4 + 4, &id, sizeof(id));
    return frame;
  }
  uint16_t ports[2] = {htons(spec.sport), htons(spec.dport)};
  std::memcpy(l4, ports, sizeof(ports));
  size_t checksum_at = 0;
  if (spec.protocol == IPPROTO_TCP) {
    l4[12] = 5 << 4;  // data offset: 20 bytes
    l4[13] = spec.tcp_flags;
    checksum_at = 16;
  } else if (spec.protocol == IPPROTO_UDP) {
    uint16_t length = htons(static_cast<uint16_t>(frame.size() - sizeof(ethhdr) - sizeof(iphdr)));
    std::memcpy(l4 + 4, &length, sizeof(length));
    checksum_at = 6;
  }
  if (checksum_at) {
    uint16_t checksum = htons(L4Checksum(frame));
    std::memcpy(l4 + checksum_at, &checksum, sizeof(checksum));
  }
  return frame;
}

// A TCP/UDP packet of a flow: the fields tests vary, the rest as PacketSpec's.
inline std::vector<uint8_t> FlowPacket(uint32_t saddr, uint32_t daddr, uint16_t sport,
                                       uint16_t dport, uint8_t protocol, uint8_t tcp_flags = 0) {
  PacketSpec spec;
  spec.saddr = saddr;
  spec.daddr = daddr;
  spec.sport = sport;
  spec.dport = dport;
  spec.protocol = protocol;
  spec.tcp_flags = tcp_flags;
  return BuildPacket(spec);
}

inline const ethhdr& EthOf(const std::vector<uint8_t>& frame) {
  return *reinterpret_cast<const ethhdr*>(frame.data());
}
inline const iphdr& IpOf(const std::vector<uint8_t>& frame) {
  return *reinterpret_cast<const iphdr*>(frame.data() + sizeof(ethhdr));
}
inline Mac MacOf(const unsigned char* bytes) {
  Mac mac;
  std::memcpy(mac.data(), bytes, 6);
  return mac;
}

}  // namespace kubedp::testing
