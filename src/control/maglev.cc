#include "control/maglev.h"

namespace kubedp::control {
namespace {

// FNV-1a, 64 bits: stable across machines and builds (std::hash is neither).
uint64_t Fnv1a(const std::string& text, uint64_t seed) {
  uint64_t hash = 14695981039346656037ull ^ seed;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

}  // namespace

std::vector<uint32_t> MaglevTable(const std::vector<std::string>& backends, uint32_t size) {
  const size_t n = backends.size();
  if (n == 0 || size == 0) return {};
  // Each backend's preference list is a permutation of the slots: offset +
  // j * skip (mod size); skip in [1, size - 1] is coprime with a prime size.
  std::vector<uint64_t> offset(n), skip(n), next(n, 0);
  for (size_t i = 0; i < n; ++i) {
    offset[i] = Fnv1a(backends[i], 0x6b7562656470ull) % size;
    skip[i] = Fnv1a(backends[i], 0x6d61676c6576ull) % (size - 1) + 1;
  }
  constexpr uint32_t kEmpty = UINT32_MAX;
  std::vector<uint32_t> table(size, kEmpty);
  uint32_t filled = 0;
  // Backends take turns claiming their next preferred free slot.
  while (true) {
    for (size_t i = 0; i < n; ++i) {
      uint64_t slot = (offset[i] + next[i] * skip[i]) % size;
      while (table[slot] != kEmpty) {
        ++next[i];
        slot = (offset[i] + next[i] * skip[i]) % size;
      }
      table[slot] = static_cast<uint32_t>(i);
      ++next[i];
      if (++filled == size) return table;
    }
  }
}

}  // namespace kubedp::control
