#!/usr/bin/env bash
# The quick start's cluster, as a newcomer runs it (README): deploy/cluster.sh starts
# every node of deploy/cluster/ and the HIS gateway over TLS with a fresh federation CA,
# deploy/demo.sh loads the demo and walks its settlements and refusals, a second run of
# it moves nothing again, the gateway answers an HIS, and deploy/cluster.sh stop leaves
# no process behind. The demo's ports are fixed (deploy/cluster/*.ini): when one is
# already taken (a demo cluster running), the test is skipped, not failed.
set -uo pipefail
src=${GONGJI_SOURCE:?} build=${GONGJI_BUILD_DIR:?}
unset GONGJI_NODE GONGJI_CA GONGJI_CERT GONGJI_KEY GONGJI_CRL GONGJI_CLIENT_CONFIG
# shellcheck source=tests/support/check.sh
. "$(dirname "$0")/../support/check.sh"

ports=$(sed -n 's|^listen *= *[a-z+]*://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$src"/deploy/cluster/*.ini "$src"/deploy/gateway/*.ini)
for p in $ports; do
  if [ -n "$(ss -Hltn "( sport = :$p )" 2>/dev/null)" ]; then
    echo "skipped: port $p is taken (is a demo cluster running?)"; exit 77
  fi
done

export GONGJI_CLUSTER_DIR GONGJI_BUILD=$build
GONGJI_CLUSTER_DIR=$(mktemp -d /tmp/gongji-demo-XXXXXX)
cleanup() {
  bash "$src/deploy/cluster.sh" stop >/dev/null 2>&1
  [ -n "${GONGJI_KEEP_TEST_DIRS:-}" ] || rm -rf "$GONGJI_CLUSTER_DIR"
}
trap cleanup EXIT
cd "$src" || exit 1

out=$(bash deploy/cluster.sh start 2>&1); rc=$?
check "cluster.sh start" 0 "$rc"
nodes=$(ls deploy/cluster/*.ini | wc -l)
check "every node is up" "$nodes" "$(grep -cE '^[0-9]{6} +up ' <<<"$out")"
check "the gateway is up" 1 "$(grep -c '^gateway up ' <<<"$out")"
[ "$rc" = 0 ] || { printf '%s\n' "$out"; exit 1; }

bash deploy/demo.sh >"$GONGJI_CLUSTER_DIR/demo1.out" 2>&1; rc=$?
check "demo.sh" 0 "$rc"
d=$GONGJI_CLUSTER_DIR/demo1.out
check "an operator of another region is refused" 1 "$(grep -c "exit 1: Changsha's node refused it" "$d")"
check "a caller without a certificate gets no answer" 1 "$(grep -c "exit 3: no answer: the port speaks only TLS" "$d")"
check "neither moved money" 1 "$(grep -c "neither call moved any money" "$d")"
check "the gateway settled a 2207" 1 "$(grep -c '"infcode":0' "$d")"
[ "$rc" = 0 ] || tail -30 "$d"

eval "$(bash deploy/cluster.sh creds 430100)"
balance() { "$build/client/gongji" --json balance --psn-no "$1" | grep -o '"balance": *"[0-9.]*"' | grep -o '[0-9.]*"$' | tr -d '"'; }
before=$(balance 4301000001)
check "Changsha's operator reads a balance" 1 "$([ -n "$before" ] && echo 1)"
bash deploy/demo.sh >"$GONGJI_CLUSTER_DIR/demo2.out" 2>&1
check "demo.sh a second time" 0 $?
check "... moved nothing again" "$before" "$(balance 4301000001)"

a=$(bash deploy/his-curl.sh http://127.0.0.1:7280 cd-hospital-1 3f6b1c0e9d2a4b7c H51010000001 1101 '{"data":{"psn_no":"5101000001"}}')
check "an HIS's 1101 through the gateway" 1 "$(grep -c '"infcode":0' <<<"$a")"

pids=$(cat "$GONGJI_CLUSTER_DIR"/*/pid 2>/dev/null)
bash deploy/cluster.sh stop >/dev/null 2>&1
check "cluster.sh stop" 0 $?
alive=0
for p in $pids; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
check "no node or gateway left running" 0 "$alive"

echo "passed=$passed failed=$failed"
[ "$failed" = 0 ]
