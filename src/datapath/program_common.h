// What every kubedp BPF object shares when it is loaded: the sizes of maps
// that several objects pin under one name, and the facts status reports.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "kubedp/abi.h"

struct bpf_object;

namespace kubedp::datapath {

// Sizes of the pinned maps that follow configuration. Every object that
// declares such a map must ask for the same size: a pinned map of another
// size is refused (resizing needs an uninstall: the table would be lost).
struct MapSizes {
  uint32_t ct_max_entries = KDP_CT_DEFAULT_MAX;
  uint32_t nat_max_entries = KDP_NAT_DEFAULT_MAX;
};

Status ApplyMapSizes(bpf_object* object, const MapSizes& sizes);

struct ProgramFacts {
  uint32_t id = 0;
  uint32_t verified_instructions = 0;  // the complexity budget tests track
};

ProgramFacts FactsOf(int prog_fd);

}  // namespace kubedp::datapath
