#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running local gongji cluster with demo
# data: install what is missing, build, start every node of deploy/cluster/, load demo
# people and bindings, and walk settlements.  Stop it with: deploy/cluster.sh stop
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" 2>&1 | tail -1
bash deploy/cluster.sh start
bash deploy/demo.sh
cat <<TXT

The cluster is running; data and logs are in ${GONGJI_CLUSTER_DIR:-$PWD/demo-cluster}.
Try:   build/client/gongji --node tcp://127.0.0.1:7101 balance --psn-no 4301000003
       deploy/cluster.sh status
Stop:  deploy/cluster.sh stop
TXT
