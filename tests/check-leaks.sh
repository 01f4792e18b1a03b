#!/usr/bin/env bash
# Runs after every kernel-touching test: fails if the suite left anything of
# its own behind (network namespaces, links, pins, processes, state dirs).
# Only the names tests use are checked, so a user's running demo lab is fine.
set -u
leaks=()

ns=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^kubedp_e2e-' || true)
[[ -n $ns ]] && leaks+=("network namespaces: $(echo $ns)")

pins=$(find /sys/fs/bpf/kubedp -maxdepth 1 -mindepth 1 \( -name 'e2e-*' -o -name 'kubedp-bpftest-*' \) 2>/dev/null || true)
[[ -n $pins ]] && leaks+=("pinned BPF objects: $(echo $pins)")

labs=$(find /run/kubedp/lab -maxdepth 1 -mindepth 1 -name 'e2e-*' 2>/dev/null || true)
[[ -n $labs ]] && leaks+=("lab state: $(echo $labs)")

procs=$(pgrep -af 'kubedp-agent .*--datapath-id e2e-|kubedp lab echo --lab e2e-' 2>/dev/null | grep -v pgrep || true)
[[ -n $procs ]] && leaks+=("processes: $procs")

links=$(ip -o link show 2>/dev/null | grep -c 'kubedp' || true)
((links > 0)) && leaks+=("$links link(s) named kubedp* in the host namespace")

# Socket hooks live as long as their pinned links: with the pins gone, none
# of kubedp's may stay attached to the cgroup v2 root (a demo lab's excepted
# only when one runs).
cgroup_root=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
if [[ -n $cgroup_root ]] && ! find /sys/fs/bpf/kubedp -maxdepth 1 -mindepth 1 2>/dev/null | grep -q .; then
  hooks=$(bpftool cgroup show "$cgroup_root" 2>/dev/null | grep -c 'kdp_sock' || true)
  ((hooks > 0)) && leaks+=("$hooks socket hook(s) still attached to $cgroup_root")
fi

if ((${#leaks[@]})); then
  printf 'left behind by the tests:\n' >&2
  printf '  %s\n' "${leaks[@]}" >&2
  exit 1
fi
echo "nothing left behind"
