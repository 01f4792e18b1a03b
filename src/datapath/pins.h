// Where a node's datapath lives in bpffs: /sys/fs/bpf/kubedp/<node>/<map>.
// The directory outlives the agent (so traffic flows through restarts) and is
// removed only by an explicit uninstall (`kubedp-agent --uninstall`, `kubedp lab down`).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace kubedp::datapath {

inline constexpr std::string_view kBpffsRoot = "/sys/fs/bpf";
inline constexpr std::string_view kPinParent = "/sys/fs/bpf/kubedp";

Status EnsureBpffsMounted();
std::string NodePinDir(std::string_view node_name);
Status CreateNodePinDir(std::string_view node_name);
// Unpins every object of the node and removes its directory (and the parent
// when it is left empty). Succeeds when nothing is there.
Status RemoveNodePinDir(std::string_view node_name);

}  // namespace kubedp::datapath
