#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running local gongji cluster with demo
# data: install what is missing, build, start every node of deploy/cluster/, load demo
# people and bindings, and walk settlements. Every link is TLS: the first start makes a
# federation CA and the credentials (deploy/pki.sh).  Stop it with: deploy/cluster.sh stop
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" 2>&1 | tail -1
bash deploy/cluster.sh start
bash deploy/demo.sh
cat <<TXT

The cluster is running; data, logs and credentials (pki/) are in ${GONGJI_CLUSTER_DIR:-$PWD/demo-cluster}.
Every link is TLS: the CLI calls with a certificate, which says who you are.
Try:   eval "\$(deploy/cluster.sh creds 430100)"     # Changsha's operator, at Changsha's node
       build/client/gongji balance --psn-no 4301000003
       build/client/gongji records --psn-no 4301000001
       deploy/cluster.sh creds                      # the other identities (auditor, institutions, app)
       deploy/cluster.sh status
       # a hospital system's 1101 through the HTTP/JSON gateway (docs/his.md):
       deploy/his-curl.sh http://127.0.0.1:7280 cd-hospital-1 3f6b1c0e9d2a4b7c H51010000001 1101 '{"data":{"psn_no":"5101000001"}}'
Stop:  deploy/cluster.sh stop
TXT
