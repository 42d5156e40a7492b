#!/usr/bin/env bash
# The clearing benchmark (issue target: a month of clearing for a node with a million
# settlements summarised in at most 2 s). One Chengdu node; its store is given ROWS
# cross-region clearing rows spread over November 2026 and five counterparties in its
# province
# (gongji-store-tool clearing-fill, as a month of payments would leave them); then
# `gongji clearing --window 2026-11` is timed, three times, through TLS as an operator
# calls it. Prints each time and a RESULT line.
#
#   bash tests/bench/bench_clearing.sh [ROWS]        (default 1000000)
# Binaries from $GONGJI_NODE_BIN, $GONGJI_CLI_BIN, $GONGJI_STORE_TOOL_BIN, or build/.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
rows=${1:-1000000}
node_bin=${GONGJI_NODE_BIN:-$here/build/node/gongji-node}
cli=${GONGJI_CLI_BIN:-$here/build/client/gongji}
tool=${GONGJI_STORE_TOOL_BIN:-$here/build/tests/tools/gongji-store-tool}
pki=${GONGJI_PKI:-$here/deploy/pki.sh}
unset GONGJI_NODE GONGJI_CA GONGJI_CERT GONGJI_KEY GONGJI_CRL GONGJI_CLIENT_CONFIG
dir=$(mktemp -d /tmp/gongji-clearing-bench-XXXXXX)
pid='' url=''
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$dir"' EXIT
bash "$pki" cluster "$dir/pki" 510100 >/dev/null || { echo "pki.sh cluster failed"; exit 1; }
g() { "$cli" --node "$url" --ca "$dir/pki/ca.crt" --crl "$dir/pki/crl.pem" --cert "$dir/pki/operator-510100-ops1.pem" "$@"; }
# shellcheck source=tests/support/one_node.sh
. "$here/tests/support/one_node.sh"

node_start "$dir/data" || exit 1
node_stop
t0=$(date +%s%N)
"$tool" "$dir/data" clearing-fill 20261101 30 "$rows" 5 || { echo "clearing-fill failed"; exit 1; }
echo "clearing: $rows rows over 30 days and 5 counterparties written in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
node_start "$dir/data" || exit 1
best=''
for i in 1 2 3; do
  t0=$(date +%s%N)
  out=$(g --timeout 60000 --json clearing --window 2026-11) || { echo "clearing failed: $out"; exit 1; }
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  n=$(grep -o '"owed_to_us_count": *[0-9]*' <<<"$out" | grep -o '[0-9]*$' | paste -sd+ | bc)
  m=$(grep -o '"we_owe_count": *[0-9]*' <<<"$out" | grep -o '[0-9]*$' | paste -sd+ | bc)
  echo "clearing month summary, run $i: $ms ms for $((n + m)) rows"
  [ "$((n + m))" -eq "$rows" ] || { echo "the summary counts $((n + m)) rows, not $rows"; exit 1; }
  if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
printf 'RESULT clearing_month_rows=%s clearing_month_s=%s clearing_month_vs_target=%s\n' "$rows" \
  "$(awk -v m="$best" 'BEGIN { printf "%.2f", m / 1000 }')" "$(awk -v m="$best" 'BEGIN { printf "%.2f", m / 2000 }')"
