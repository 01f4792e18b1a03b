// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer", NSDI 2016, section 3.4): a lookup table of
// a prime size where every backend owns an almost equal share of the slots,
// and a change of the backend set moves few slots between the backends that
// stay. Every node computes the same table from the same backends, so a
// connection's hash picks the same backend wherever it lands.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kubedp::control {

// The table for backends named by stable identities ("10.244.1.3:8080"): each
// slot holds an index into `backends`. size must be prime and at least the
// number of backends; empty when there are no backends.
std::vector<uint32_t> MaglevTable(const std::vector<std::string>& backends, uint32_t size);

}  // namespace kubedp::control
