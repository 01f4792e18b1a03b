#!/usr/bin/env bash
# Only the datapath layer talks to libbpf: the pure core and the binaries go
# through src/datapath's typed interfaces.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
offenders=$(grep -rlE '#include <bpf/(libbpf|bpf)\.h>' "$root/src" --include='*.cc' --include='*.h' \
  | grep -v "^$root/src/datapath/" || true)
if [[ -n $offenders ]]; then
  echo "libbpf included outside src/datapath:" >&2
  echo "$offenders" >&2
  exit 1
fi
echo "libbpf only in src/datapath"
