#!/usr/bin/env bash
# Quick start, step 2: the whole test suite. Installs what is missing, builds,
# runs unit tests (also under AddressSanitizer/UBSan), BPF tests in the kernel,
# end-to-end lab tests, and the leak check. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/build.sh

echo "== unit, bpf and e2e tests"
(cd build && ctest --output-on-failure)

echo "== unit tests under AddressSanitizer and UBSan"
cmake -S . -B build-asan -G Ninja -DKUBEDP_UNIT_ONLY=ON -DKUBEDP_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=Debug >/dev/null
ninja -C build-asan
(cd build-asan && ctest --output-on-failure -L unit)
