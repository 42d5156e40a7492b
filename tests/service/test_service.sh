#!/usr/bin/env bash
# The node as a service: systemd's readiness protocol (READY once what a previous run
# left has been looked at, RELOADING and READY again on SIGHUP, STOPPING on SIGTERM,
# then exit 0), SIGHUP reopening the log without stopping, the shipped unit's hardening
# (systemd-analyze security, offline), and the install tree CMake makes.
set -uo pipefail
node_bin=${GONGJI_NODE_BIN:?} cli=${GONGJI_CLI_BIN:?} pki=${GONGJI_PKI:?} src=${GONGJI_SOURCE:?} build=${GONGJI_BUILD_DIR:?}
gateway_bin=${GONGJI_GATEWAY_BIN:?}
unset GONGJI_NODE GONGJI_CA GONGJI_CERT GONGJI_KEY GONGJI_CRL
dir=$(mktemp -d /tmp/gongji-service-XXXXXX)
pid='' gw_pid='' listeners=()
cleanup() {
  [ -n "$pid" ] && { kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
  [ -n "$gw_pid" ] && { kill -9 "$gw_pid" 2>/dev/null; wait "$gw_pid" 2>/dev/null; }
  for l in "${listeners[@]}"; do kill "$l" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
# shellcheck source=tests/support/check.sh
. "$(dirname "$0")/../support/check.sh"
# Wait (up to 10 s) until the notify log ($3, default the node's) has at least $2 lines
# matching $1.
wait_for() {
  for _ in $(seq 1 200); do
    [ "$(grep -c "$1" "${3:-$dir/notify}" 2>/dev/null)" -ge "$2" ] && return 0
    sleep 0.05
  done
  return 1
}

# A datagram socket standing in for systemd's NOTIFY_SOCKET ($1), every message written
# to $2 a line each.
notify_listener() {
  python3 - "$1" "$2" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        msg = s.recv(4096).decode()
        for line in msg.split("\n"):
            out.write(line + "\n")
PY
  listeners+=($!)
  for _ in $(seq 1 100); do [ -S "$1" ] && break; sleep 0.05; done
}
notify_listener "$dir/notify.sock" "$dir/notify"

bash "$pki" cluster "$dir/pki" 510100 >/dev/null || { echo "pki.sh cluster failed"; exit 1; }
. "$(dirname "$0")/../cluster/ports.sh"
port=$(free_port)
cat > "$dir/node.ini" <<INI
[node]
region = 510100
listen = tls+tcp://127.0.0.1:$port
data_dir = $dir/data
log_file = $dir/node.log
tls_ca = $dir/pki/ca.crt
tls_cert = $dir/pki/node-510100.pem
tls_crl = $dir/pki/crl.pem
[policy]
live = yes
INI
NOTIFY_SOCKET=$dir/notify.sock "$node_bin" --config "$dir/node.ini" & pid=$!
wait_for '^READY=1$' 1; check "READY=1 once started" 0 $?
check "STATUS names the region" 1 "$(grep -c '^STATUS=serving region 510100' "$dir/notify")"
check "MAINPID is the node's" 1 "$(grep -c "^MAINPID=$pid\$" "$dir/notify")"

# SIGHUP: reload, not a stop; the rotated log is opened again.
mv "$dir/node.log" "$dir/node.log.1"
kill -HUP "$pid"
wait_for '^READY=1$' 2; check "READY=1 again after SIGHUP" 0 $?
check "RELOADING=1 before it" 1 "$(grep -c '^RELOADING=1$' "$dir/notify")"
kill -0 "$pid" 2>/dev/null; check "the node still runs after SIGHUP" 0 $?
check "the new log file says so" 1 "$(grep -c 'SIGHUP: log file opened again' "$dir/node.log" 2>/dev/null)"
check "an unchanged policy is said to be" 1 "$(grep -c 'policy reload: the policy is unchanged' "$dir/node.log")"

# Policy reload: the region stops allowing siblings. A sibling binding then pays
# nothing and says why; a child's still pays. A broken config changes nothing.
g() { "$cli" --node "tls+tcp://127.0.0.1:$port" --ca "$dir/pki/ca.crt" --crl "$dir/pki/crl.pem" \
  --cert "$dir/pki/operator-510100-ops1.pem" "$@"; }
g enroll --psn-no S1 --certno 510104198001010014 --insutype 310 --region-code 510100 --name S >/dev/null; check "enroll the sponsor" 0 $?
g enroll --psn-no B1 --certno 510104200001010014 --insutype 390 --region-code 510100 --name B >/dev/null; check "enroll a sibling" 0 $?
g enroll --psn-no C1 --certno 510104201001010019 --insutype 390 --region-code 510100 --name C >/dev/null; check "enroll a child" 0 $?
g credit --psn-no S1 --amount 100.00 >/dev/null; check "credit" 0 $?
g bind --sponsor S1 --beneficiary B1 --relation sibling >/dev/null; check "bind a sibling" 0 $?
g bind --sponsor S1 --beneficiary C1 --relation child >/dev/null; check "bind a child" 0 $?
printf 'relations = spouse, parent, child\n' >> "$dir/node.ini"
kill -HUP "$pid"
wait_for '^READY=1$' 3; check "READY after the policy reload" 0 $?
check "the reload names what changed" 1 "$(grep -c 'policy reload: relations .* -> spouse,parent,child' "$dir/node.log")"
check "bindings shows the sibling's as not allowed" 1 "$(g bindings --psn-no S1 | grep -c 'RELATION_NOT_ALLOWED')"
sib=$(g --json settle --psn-no B1 --amount 10.00 --use outpatient --institution H51010000001 | grep -o '"acct_mulaid_pay": *"[0-9.]*"')
check "the sibling's bill gets nothing from the sponsor" '"acct_mulaid_pay":"0.00"' "${sib// /}"
kid=$(g --json settle --psn-no C1 --amount 10.00 --use outpatient --institution H51010000001 | grep -o '"acct_mulaid_pay": *"[0-9.]*"')
check "the child's bill still does" '"acct_mulaid_pay":"10.00"' "${kid// /}"
printf 'live = maybe\n' >> "$dir/node.ini"
kill -HUP "$pid"
wait_for '^READY=1$' 4; check "READY after a refused reload" 0 $?
check "a broken config is refused, the policy kept" 1 "$(grep -c 'policy reload: the config has problems; the policy stays as it was' "$dir/node.log")"
sed -i '/^live = maybe$/d; /^relations = spouse, parent, child$/d' "$dir/node.ini"
check "no reload so far said [node] or [peers] changed" 0 "$(grep -c 'take effect at the next restart' "$dir/node.log")"
# A new peer is taken only by a restart: the reload says so, once.
printf '[peers]\n43 = tls+tcp://127.0.0.1:9\n' >> "$dir/node.ini"
kill -HUP "$pid"
wait_for '^READY=1$' 5; check "READY after a reload that adds a peer" 0 $?
check "a new peer is said to wait for the restart" 1 "$(grep -c 'take effect at the next restart' "$dir/node.log")"
sed -i '/^\[peers\]$/d; /^43 = /d' "$dir/node.ini"

# The HIS gateway as a service, in front of this node: READY once it listens, RELOADING
# and READY again on SIGHUP (the log opened again), STOPPING on SIGTERM, then exit 0.
notify_listener "$dir/gw-notify.sock" "$dir/gw-notify"
gw_port=$(free_port)
cat > "$dir/gateway.ini" <<INI
[gateway]
listen = https://127.0.0.1:$gw_port
tls_cert = $dir/pki/node-510100.pem
node = tls+tcp://127.0.0.1:$port
tls_ca = $dir/pki/ca.crt
tls_crl = $dir/pki/crl.pem
region = 510100
log_file = $dir/gateway.log
[institution H51010000001]
paasid = svc-hospital
token = 0123456789abcdef
credential = $dir/pki/institution-H51010000001.pem
INI
"$gateway_bin" --config "$dir/gateway.ini" --check >/dev/null; check "gateway --check" 0 $?
NOTIFY_SOCKET=$dir/gw-notify.sock "$gateway_bin" --config "$dir/gateway.ini" & gw_pid=$!
wait_for '^READY=1$' 1 "$dir/gw-notify"; check "the gateway: READY=1 once it listens" 0 $?
check "... its MAINPID" 1 "$(grep -c "^MAINPID=$gw_pid\$" "$dir/gw-notify")"
check "... and it answers then" 0 "$(curl -sfk "https://127.0.0.1:$gw_port/readyz" >/dev/null; echo $?)"
mv "$dir/gateway.log" "$dir/gateway.log.1"
kill -HUP "$gw_pid"
wait_for '^READY=1$' 2 "$dir/gw-notify"; check "the gateway: READY=1 again after SIGHUP" 0 $?
check "... RELOADING=1 before it" 1 "$(grep -c '^RELOADING=1$' "$dir/gw-notify")"
check "... the new log file says so" 1 "$(grep -c 'SIGHUP: log file opened again' "$dir/gateway.log" 2>/dev/null)"
kill -TERM "$gw_pid"; wait "$gw_pid"; rc=$?; gw_pid=
check "the gateway's clean stop exits 0" 0 "$rc"
check "... STOPPING=1 on SIGTERM" 1 "$(grep -c '^STOPPING=1$' "$dir/gw-notify")"

kill -TERM "$pid"
wait "$pid"; rc=$?; pid=
check "a clean stop exits 0" 0 "$rc"
check "STOPPING=1 on SIGTERM" 1 "$(grep -c '^STOPPING=1$' "$dir/notify")"

# log_format = json: every line of a whole run is one JSON object, the fields named.
sed -i 's|^log_file = .*|log_file = '"$dir"'/json.log\nlog_format = json|' "$dir/node.ini"
: > "$dir/notify"
NOTIFY_SOCKET=$dir/notify.sock "$node_bin" --config "$dir/node.ini" & pid=$!
wait_for '^READY=1$' 1; check "READY=1 on the second start" 0 $?
kill -TERM "$pid"; wait "$pid"; pid=
python3 - "$dir/json.log" <<'PY'; check "every line of the JSON log is an object with its fields" 0 $?
import json, sys
lines = open(sys.argv[1]).read().splitlines()
objs = [json.loads(l) for l in lines]
assert objs and all({"time", "level", "region", "event", "msg"} <= o.keys() for o in objs)
start = [o for o in objs if o["event"] == "start" and "listen" in o]
assert start and start[0]["region"] == "510100" and start[0]["listen"].startswith("tls+tcp://")
PY

# The shipped units: hardened (the issue asks for an exposure of 3.0 or less).
if command -v systemd-analyze >/dev/null; then
  for unit in gongji-node@.service gongji-gateway@.service; do
    exposure=$(systemd-analyze security --offline=yes "$src/deploy/$unit" 2>/dev/null |
      sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    check "$unit: exposure at most 3.0 (got ${exposure:-none})" yes \
      "$(awk -v e="${exposure:-99}" 'BEGIN { print (e <= 3.0) ? "yes" : "no" }')"
    check "$unit is Type=notify" 1 "$(grep -c '^Type=notify$' "$src/deploy/$unit")"
  done
else
  echo "note: no systemd-analyze here; the unit's hardening was not measured"
fi

# The install tree: what a package holds.
if DESTDIR="$dir/root" cmake --install "$build" --prefix /usr >/dev/null 2>"$dir/install.err"; then
  for f in usr/bin/gongji-node usr/bin/gongji usr/bin/gongji-load usr/bin/gongji-gateway \
           lib/systemd/system/gongji-node@.service lib/systemd/system/gongji-gateway@.service \
           usr/lib/sysusers.d/gongji.conf \
           usr/lib/tmpfiles.d/gongji.conf usr/share/man/man1/gongji-node.1.gz usr/share/man/man1/gongji.1.gz \
           usr/share/doc/gongji/config.md usr/share/doc/gongji/examples/changsha.ini; do
    [ -e "$dir/root/$f" ]; check "installed $f" 0 $?
  done
  check "sysusers makes the gongji user" 1 "$(grep -c '^u gongji ' "$dir/root/usr/lib/sysusers.d/gongji.conf")"
else
  failed=$((failed + 1)); echo "FAIL cmake --install:"; cat "$dir/install.err"
fi

echo "passed=$passed failed=$failed"
[ "$failed" -eq 0 ]
