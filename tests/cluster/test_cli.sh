#!/usr/bin/env bash
# The gongji CLI against a real node over TLS: every command, yuan in and out, --json,
# exit codes, who may call what; then a plaintext node asked for explicitly, and the
# config checks that keep a node from listening in plaintext by mistake.
set -uo pipefail
node_bin=${GONGJI_NODE_BIN:?} cli=${GONGJI_CLI_BIN:?} pki=${GONGJI_PKI:?}
# Only what this test passes counts: nothing from the caller's shell.
unset GONGJI_NODE GONGJI_CA GONGJI_CERT GONGJI_KEY GONGJI_CRL
dir=$(mktemp -d /tmp/gongji-cli-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT

# shellcheck source=tests/support/check.sh
. "$(dirname "$0")/../support/check.sh"

# The federation: the node 510100 and its operator, another region's operator, the
# institutions and the platform.
bash "$pki" cluster "$dir/pki" 510100 430100 >/dev/null || { echo "pki.sh cluster failed"; exit 1; }
ca=$dir/pki/ca.crt crl=$dir/pki/crl.pem
op=$dir/pki/operator-510100-ops1.pem           # 510100:ops1, this region's operator
other_op=$dir/pki/operator-430100-ops1.pem     # 430100:ops1, another region's
inst=$dir/pki/institution-H51010000001.pem      # H51010000001
platform=$dir/pki/platform-national-app.pem     # serves persons

# shellcheck source=tests/cluster/ports.sh
. "$(dirname "$0")/ports.sh"
# start_node NAME URL-SCHEME EXTRA-NODE-LINES PROBE-COMMAND...: writes $dir/NAME.ini with a
# free port (retried if another process takes it first), starts the node and sets url.
start_node() {
  local name=$1 scheme=$2 extra=$3 p
  shift 3
  for _ in 1 2 3 4 5; do
    p=$(free_port) || break
    url=$scheme://127.0.0.1:$p
    cat > "$dir/$name.ini" <<INI
[node]
region = 510100
listen = $url
data_dir = $dir/$name-data
log_file = $dir/$name.log
allow_clock_override = yes
$extra
[policy]
live = yes
cascade = yes
INI
    "$node_bin" --config "$dir/$name.ini" & pids+=($!)
    for _ in $(seq 1 100); do
      "$@" --node "$url" --timeout 200 health >/dev/null 2>&1 && return 0
      kill -0 "${pids[-1]}" 2>/dev/null || break
      sleep 0.05
    done
    kill "${pids[-1]}" 2>/dev/null; wait "${pids[-1]}" 2>/dev/null
  done
  echo "node $name did not start; its log:"; cat "$dir/$name.log" 2>/dev/null
  return 1
}

tls_lines="tls_ca = $ca
tls_cert = $dir/pki/node-510100.pem
tls_crl = $crl"
start_node tls tls+tcp "$tls_lines" "$cli" --ca "$ca" --crl "$crl" --cert "$op" || exit 1
tls_url=$url

as() { local cert=$1; shift; "$cli" --node "$tls_url" --ca "$ca" --crl "$crl" --cert "$cert" "$@"; }
g() { as "$op" "$@"; }                       # the region's operator
i() { as "$inst" "$@"; }                     # the institution
person() { local who=$1; shift; as "$platform" --role person --caller "$who" "$@"; }

certno() { local base=$1 w=(7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) c=(1 0 X 9 8 7 6 5 4 3 2) s=0 i
  for i in $(seq 0 16); do s=$((s + ${base:$i:1} * ${w[$i]})); done; echo "$base${c[$((s % 11))]}"; }

g enroll --psn-no P --certno "$(certno 51010419600101001)" --insutype 310 --region-code 510100 >/dev/null; check "enroll patient" 0 $?
g enroll --psn-no S --certno "$(certno 51010419850202002)" --insutype 310 --region-code 510100 >/dev/null; check "enroll sponsor" 0 $?
g credit --psn-no P --amount 30 >/dev/null; check "credit" 0 $?
g credit --psn-no S --amount 100.5 >/dev/null; check "credit decimals" 0 $?
# A call id a caller chose with a person's number in it is masked in the log.
g --call-id "bill-5101049988887777" credit --psn-no NOBODY --amount 1 >/dev/null 2>&1; check "credit with a long call id (no such person)" 1 $?
# The node masks the number in its answer and its log; the operator's terminal shows it
# as typed, so the row can be found.
g credit --psn-no 510104998877 --amount 1 2>"$dir/err"; check "credit to no such person" 1 $?
check "... the error names the person as typed" 1 "$(grep -c 'no person 510104998877 in region 510100' "$dir/err")"
check "... the node's log does not" 0 "$(grep -c '510104998877' "$dir/tls.log")"
# Two lines name it, the audit line and the call's; neither in full.
check "a number in a call id is masked in the log" "0 2" "$(grep -c 5101049988887777 "$dir/tls.log") $(grep -c 'call_id=bill-5101\*\*\*\*\*\*\*\*7777' "$dir/tls.log")"
# Money moved by an operator leaves an audit line naming the proven operator.
check "audit line names the proven operator" yes "$(grep -q 'audit operator=510100:ops1 proven=yes method=gongji.v1.Registry/Credit' "$dir/tls.log" && echo yes)"
check "health says callers are proven" 1 "$(g health | grep -c '^trust  *TLS, every caller proven')"
check "health counts the sessions" yes "$(g --json health | grep -q '"sessions":[1-9]' && echo yes)"
# Everything the node writes is its operator's alone.
check "data directory is 0700" 700 "$(stat -c %a "$dir/tls-data")"
check "LMDB file is 0600" 600 "$(stat -c %a "$dir/tls-data/data.mdb")"
check "log file is 0600" 600 "$(stat -c %a "$dir/tls.log")"
check "balance json" '"100.50"' "$(g --json balance --psn-no S | grep -o '"balance": *"[0-9.]*"' | grep -o '"[0-9.]*"$')"
g bind --sponsor S --beneficiary P --relation parent >/dev/null; check "bind" 0 $?
out=$(i --json --call-id bill-1 settle --psn-no P --amount 120.00)
check "settle exit" 0 $?
check "acct_pay" '"30.00"' "$(grep -o '"acct_pay": *"[0-9.]*"' <<<"$out" | grep -o '"[0-9.]*"$')"
check "mulaid" '"90.00"' "$(grep -o '"acct_mulaid_pay": *"[0-9.]*"' <<<"$out" | grep -o '"[0-9.]*"$')"
out2=$(i --json --call-id bill-1 settle --psn-no P --amount 120.00)
check "retry same answer" "$out" "$out2"
check "sponsor balance" '"10.50"' "$(g --json balance --psn-no S | grep -o '"balance": *"[0-9.]*"' | grep -o '"[0-9.]*"$')"
i --call-id bill-1 settle --psn-no P --amount 1.00 2>/dev/null; check "reused call id exits 1" 1 $?
g bind --sponsor S --beneficiary P --relation spouse_parent 2>"$dir/err"; check "spouse parent exits 1" 1 $?
check "reason printed" 1 "$(grep -c SPOUSE_PARENT_NOT_ALLOWED "$dir/err")"
g credit --psn-no S --amount -5 2>/dev/null; check "negative amount is a usage error" 2 $?
g credit --psn-no S --amount 1.234 2>/dev/null; check "three decimals is a usage error" 2 $?
i settle --psn-no P 2>/dev/null; check "missing option" 2 $?
g records --psn-no S >/dev/null; check "records" 0 $?
g bindings --psn-no P >/dev/null; check "bindings" 0 $?
g order --beneficiary P --sponsors S >/dev/null; check "order" 0 $?
g unbind --sponsor S --beneficiary P >/dev/null; check "unbind" 0 $?
g set-date --date 2030-01-01 >/dev/null; check "set-date" 0 $?
g --json health | grep -q '"business_date": *"2030-01-01"'; check "health shows date" 0 $?
# The writes above were committed: the writer's counters show them (a settlement, credits, ...).
commits=$(g --json health | grep -o '"store_commits": *[0-9]*' | grep -o '[0-9]*$')
[ "${commits:-0}" -ge 1 ]; check "health counts commits" 0 $?
check "no peer calls on a lone node" 0 "$(g --json health | grep -o '"peer_calls": *[0-9]*' | grep -o '[0-9]*$')"
nobody=$(free_port)
"$cli" --node "tls+tcp://127.0.0.1:$nobody" --ca "$ca" --cert "$op" --timeout 200 health 2>/dev/null; check "no node exits 3" 3 $?
# Refused is told at once, not after the timeout, and said as such.
started=$(date +%s%N)
"$cli" --node "tls+tcp://127.0.0.1:$nobody" --ca "$ca" --cert "$op" --timeout 5000 health 2>"$dir/refused"; rc=$?
took_ms=$(( ($(date +%s%N) - started) / 1000000 ))
check "a refused connection exits 3" 3 $rc
check "... says it was refused" 1 "$(grep -c 'connection refused at tls+tcp://127.0.0.1:' "$dir/refused")"
check "... well before the 5 s timeout" yes "$([ "$took_ms" -lt 2500 ] && echo yes || echo "no ($took_ms ms)")"
g settle --help >/dev/null; check "help" 0 $?

# The client config file: written once, it stands in for --node and the credentials;
# the command line and the environment beat it; a broken one is a usage error.
cat > "$dir/client.ini" <<INI
# the region's operator
[client]
node = $tls_url
ca = $ca
crl = $crl
cert = $op
INI
check "a client config stands in for --node and --cert" 0 "$("$cli" --config "$dir/client.ini" balance --psn-no S >/dev/null; echo $?)"
check "... found through GONGJI_CLIENT_CONFIG" yes "$(GONGJI_CLIENT_CONFIG="$dir/client.ini" "$cli" health | grep -q '^region  *510100' && echo yes)"
check "... and in ~/.config/gongji" yes "$(mkdir -p "$dir/home/.config/gongji" && cp "$dir/client.ini" "$dir/home/.config/gongji/" && HOME=$dir/home XDG_CONFIG_HOME= "$cli" health | grep -q '^region  *510100' && echo yes)"
GONGJI_NODE="tls+tcp://127.0.0.1:$nobody" "$cli" --config "$dir/client.ini" --timeout 300 health >/dev/null 2>&1
check "GONGJI_NODE beats the file" 3 $?
"$cli" --config "$dir/client.ini" --node "tls+tcp://127.0.0.1:$nobody" --timeout 300 health >/dev/null 2>&1
check "--node beats the file" 3 $?
echo "tiemout = 300" >> "$dir/client.ini"
"$cli" --config "$dir/client.ini" health 2>"$dir/err"; check "an unknown key is a usage error" 2 $?
check "... naming the file's line" 1 "$(grep -c 'client.ini line 7: unknown key .tiemout.' "$dir/err")"
"$cli" --config "$dir/no-such.ini" health 2>/dev/null; check "a missing --config file is a usage error" 2 $?

# ---- who may call what: identities come from certificates ----
# A person is served through the platform: the sponsor binds and reads their own account.
person S --call-id person-bind bind --sponsor S --beneficiary P --relation parent >/dev/null; check "person binds as sponsor" 0 $?
check "person reads own balance" '"10.50"' "$(person S --json balance --psn-no S | grep -o '"balance": *"[0-9.]*"' | grep -o '"[0-9.]*"$')"
as "$other_op" credit --psn-no S --amount 1000 2>"$dir/err"; check "another region's operator may not credit" 1 $?
check "refusal names the operator scope" 1 "$(grep -c 'PERMISSION_DENIED OPERATOR_SCOPE' "$dir/err")"
i credit --psn-no S --amount 1000 2>/dev/null; check "an institution may not credit" 1 $?
check "refused credits moved nothing" '"10.50"' "$(g --json balance --psn-no S | grep -o '"balance": *"[0-9.]*"' | grep -o '"[0-9.]*"$')"
"$cli" --node "$tls_url" --timeout 500 health 2>"$dir/err"; check "TLS node without a credential is a usage error" 2 $?
check "the message names --cert" 1 "$(grep -c -- '--cert' "$dir/err")"
"$cli" --node "tcp://127.0.0.1:${tls_url##*:}" --timeout 500 health >/dev/null 2>&1; check "plaintext to a TLS port: no answer" 3 $?

# The lifecycle and clearing commands: usage errors (exit 2, before any call) and help.
for c in revoke reverse premium settlements clearing close-window reconcile; do
  g "$c" --help >/dev/null; check "$c --help" 0 $?
done
g revoke 2>/dev/null; check "revoke without --setl-id" 2 $?
g revoke --setl-id "" 2>/dev/null; check "revoke with an empty --setl-id" 2 $?
g reverse 2>/dev/null; check "reverse without --original-call-id" 2 $?
g reverse --original-call-id x --insuplc-admdvs 2>/dev/null; check "reverse region needs a value" 2 $?
g premium --sponsor S --beneficiary P 2>/dev/null; check "premium without --amount" 2 $?
g premium --sponsor S --beneficiary P --amount 1.234 2>/dev/null; check "premium three decimals" 2 $?
g premium --sponsor S --beneficiary P --amount 380 --year 27 2>/dev/null; check "premium two-digit year" 2 $?
g premium --sponsor S --beneficiary P --amount 380 --year 20x7 2>/dev/null; check "premium bad year" 2 $?
g settlements 2>/dev/null; check "settlements without --psn-no" 2 $?
g settlements --psn-no P --from 2026-02-30 2>/dev/null; check "settlements bad --from" 2 $?
g settlements --psn-no P --page-size -1 2>/dev/null; check "settlements bad --page-size" 2 $?
g clearing --window 2026-13-01 2>/dev/null; check "clearing bad --window" 2 $?
g close-window --window tomorrow 2>/dev/null; check "close-window bad --window" 2 $?
g clearing --peer 510200 2>/dev/null; check "clearing takes no --peer" 2 $?
g reconcile --window 2026-11-22 2>/dev/null; check "reconcile without --peer" 2 $?
g reconcile --peer 510200 2>/dev/null; check "reconcile without --window" 2 $?
g reconcile --peer 510200 --window 20261131 2>/dev/null; check "reconcile bad --window" 2 $?

# ---- plaintext, only when the config says so; callers are taken at their word ----
plain() { "$cli" --caller 510100:ops1 --role operator "$@"; }
start_node plain tcp "insecure_plaintext = yes" plain || exit 1
plain --node "$url" health >/dev/null; check "plaintext node answers health" 0 $?
check "health warns the plaintext node is insecure" 1 "$(plain --node "$url" health | grep -c '^trust  *INSECURE')"
check "the plaintext node warned at start" yes "$(grep -q 'WARN.*insecure_plaintext = yes' "$dir/plain.log" && echo yes)"
plain --node "$url" enroll --psn-no Q --certno "$(certno 51010419700101003)" --insutype 310 --region-code 510100 >/dev/null
check "plaintext node takes a write" 0 $?

# ---- --check refuses a config that would not be TLS with certificates ----
cat > "$dir/bad-plain.ini" <<INI
[node]
region = 510100
listen = tcp://127.0.0.1:$nobody
data_dir = $dir/bad-data
INI
"$node_bin" --config "$dir/bad-plain.ini" --check >/dev/null 2>"$dir/err"; check "--check: tcp:// listen without insecure_plaintext" 1 $?
check "the message names insecure_plaintext" yes "$(grep -q insecure_plaintext "$dir/err" && echo yes)"
check "... and, on a line of its own, the missing live" yes "$(grep -q '^.*bad-plain.ini: \[policy\] must say live' "$dir/err" && echo yes)"
cat > "$dir/bad-nocert.ini" <<INI
[node]
region = 510100
listen = tls+tcp://127.0.0.1:$nobody
data_dir = $dir/bad-data
tls_ca = $ca
INI
"$node_bin" --config "$dir/bad-nocert.ini" --check >/dev/null 2>"$dir/err"; check "--check: tls+tcp listen without tls_cert" 1 $?
check "the message names tls_cert" yes "$(grep -q tls_cert "$dir/err" && echo yes)"
"$node_bin" --config "$dir/tls.ini" --check >/dev/null 2>&1; check "--check: the TLS config is good" 0 $?

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
