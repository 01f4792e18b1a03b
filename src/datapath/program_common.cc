#include "datapath/program_common.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

namespace kubedp::datapath {

Status ApplyMapSizes(bpf_object* object, const MapSizes& sizes) {
  for (auto [name, entries] : {std::pair{KDP_MAP_CT, sizes.ct_max_entries},
                               std::pair{KDP_MAP_NAT, sizes.nat_max_entries}}) {
    bpf_map* map = bpf_object__find_map_by_name(object, name);
    if (!map) continue;
    if (int err = bpf_map__set_max_entries(map, entries); err != 0) {
      return Status::FromErrno(err, std::string("sizing ") + name);
    }
  }
  return Status::Ok();
}

ProgramFacts FactsOf(int prog_fd) {
  ProgramFacts facts;
  bpf_prog_info info{};
  uint32_t info_len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &info_len) == 0) {
    facts.id = info.id;
    facts.verified_instructions = info.verified_insns;
  }
  return facts;
}

}  // namespace kubedp::datapath
