// Names of the datapath's verdicts and drop reasons, generated from the one
// registry in the ABI header (KDP_REASONS), for logs, metrics and the CLI.
#pragma once

#include <cstdint>
#include <string_view>

#include "kubedp/abi.h"

namespace kubedp {

// "forwarded", "unknown-destination", ...; "reason-<code>" for codes not in the list.
std::string_view ReasonLabel(uint32_t code);
bool IsDrop(uint32_t code);
bool IsKnownReason(uint32_t code);
std::string_view DirectionLabel(uint32_t direction);

}  // namespace kubedp
