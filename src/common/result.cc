#include "common/result.h"

#include <cstring>

namespace kubedp {

Status Status::FromErrno(int err, const std::string& what) {
  if (err < 0) err = -err;
  if (err == 0) err = EIO;
  return Status(err, what + ": " + std::strerror(err));
}

}  // namespace kubedp
