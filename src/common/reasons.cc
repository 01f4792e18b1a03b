#include "common/reasons.h"

#include <array>
#include <string>

namespace kubedp {
namespace {

struct ReasonName {
  uint32_t code;
  std::string_view label;
};

#define KDP_REASON_NAME_ENTRY(name, code, label) ReasonName{code, label},
constexpr std::array kReasonNames = {KDP_REASONS(KDP_REASON_NAME_ENTRY)};
#undef KDP_REASON_NAME_ENTRY

const ReasonName* Find(uint32_t code) {
  for (const auto& reason : kReasonNames) {
    if (reason.code == code) return &reason;
  }
  return nullptr;
}

}  // namespace

std::string_view ReasonLabel(uint32_t code) {
  if (const ReasonName* reason = Find(code)) return reason->label;
  static thread_local std::string unknown;
  unknown = "reason-" + std::to_string(code);
  return unknown;
}

bool IsDrop(uint32_t code) {
  return code >= KDP_FIRST_DROP;
}

bool IsKnownReason(uint32_t code) {
  return Find(code) != nullptr;
}

std::string_view DirectionLabel(uint32_t direction) {
  return direction == KDP_DIR_TO_POD ? "to-pod" : "from-pod";
}

}  // namespace kubedp
