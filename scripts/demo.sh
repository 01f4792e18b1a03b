#!/usr/bin/env bash
# Quick start, step 1: install what kubedp needs, build it, and run the demo
# lab (one node, four pods in two namespaces), printing the connectivity matrix
# observed on the wire. The lab stays up to explore; `build/bin/kubedp lab down`
# removes it.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/build.sh

kubedp=build/bin/kubedp
"$kubedp" lab down --name demo        # a demo from an earlier run, if any
"$kubedp" lab up examples/demo.yaml
echo
"$kubedp" lab probe --name demo
echo
"$kubedp" endpoint list --lab demo
cat <<'NEXT'

The demo lab is up. Look around:
  build/bin/kubedp status --lab demo            agent, programs, maps, counters
  build/bin/kubedp endpoint list --lab demo -o json
  ip netns list | grep kubedp_demo              the node and pod namespaces
Remove it with:
  build/bin/kubedp lab down --name demo
NEXT
