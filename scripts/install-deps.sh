#!/usr/bin/env bash
# Installs everything kubedp needs to build, test and run its lab on Debian 12.
# Idempotent: packages already present are left as they are.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: run as root (apt-get and the lab need it)" >&2
  exit 1
fi

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang llvm clang-format
  # BPF
  libbpf-dev bpftool libelf-dev zlib1g-dev linux-libc-dev
  # libraries
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libsqlite3-dev libnl-3-dev libnl-route-3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # lab and tests
  iproute2 iputils-ping procps psmisc util-linux
  # benchmarks
  iperf3 iptables nftables  # kube-proxy's iptables and nftables modes as baselines
  # a real container runtime calling the CNI plugin (tests)
  podman runc conmon containernetworking-plugins busybox-static
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi

# bpffs is where kubedp pins its maps; mount it once if the boot did not.
if ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
