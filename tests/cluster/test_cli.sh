#!/usr/bin/env bash
# The gongji CLI against a real node: every command, yuan in and out, --json, exit codes.
set -uo pipefail
node_bin=${GONGJI_NODE_BIN:?} cli=${GONGJI_CLI_BIN:?}
dir=$(mktemp -d /tmp/gongji-cli-XXXXXX)
url="ipc://$dir/node.sock"
cat > "$dir/node.ini" <<INI
[node]
region = 510100
listen = $url
data_dir = $dir/data
log_file = $dir/node.log
allow_clock_override = yes
[policy]
cascade = yes
INI
"$node_bin" --config "$dir/node.ini" & pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT

passed=0 failed=0
check() { # name, expected, actual
  if [ "$2" == "$3" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $1: want [$2] got [$3]"; fi
}
g() { "$cli" --node "$url" "$@"; }
for _ in $(seq 1 100); do g --timeout 200 health >/dev/null 2>&1 && break; sleep 0.05; done

certno() { local base=$1 w=(7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) c=(1 0 X 9 8 7 6 5 4 3 2) s=0 i
  for i in $(seq 0 16); do s=$((s + ${base:$i:1} * ${w[$i]})); done; echo "$base${c[$((s % 11))]}"; }

g enroll --psn-no P --certno "$(certno 51010419600101001)" --insutype 310 --region-code 510100 >/dev/null; check "enroll patient" 0 $?
g enroll --psn-no S --certno "$(certno 51010419850202002)" --insutype 310 --region-code 510100 >/dev/null; check "enroll sponsor" 0 $?
g credit --psn-no P --amount 30 >/dev/null; check "credit" 0 $?
g credit --psn-no S --amount 100.5 >/dev/null; check "credit decimals" 0 $?
check "balance json" '"100.50"' "$(g --json balance --psn-no S | grep -o '"balance": *"[0-9.]*"' | grep -o '"[0-9.]*"$')"
g bind --sponsor S --beneficiary P --relation parent >/dev/null; check "bind" 0 $?
out=$(g --json --role institution --call-id bill-1 settle --psn-no P --amount 120.00)
check "settle exit" 0 $?
check "acct_pay" '"30.00"' "$(grep -o '"acct_pay": *"[0-9.]*"' <<<"$out" | grep -o '"[0-9.]*"$')"
check "mulaid" '"90.00"' "$(grep -o '"acct_mulaid_pay": *"[0-9.]*"' <<<"$out" | grep -o '"[0-9.]*"$')"
out2=$(g --json --role institution --call-id bill-1 settle --psn-no P --amount 120.00)
check "retry same answer" "$out" "$out2"
check "sponsor balance" '"10.50"' "$(g --json balance --psn-no S | grep -o '"balance": *"[0-9.]*"' | grep -o '"[0-9.]*"$')"
g --role institution --call-id bill-1 settle --psn-no P --amount 1.00 2>/dev/null; check "reused call id exits 1" 1 $?
g bind --sponsor S --beneficiary P --relation spouse_parent 2>"$dir/err"; check "spouse parent exits 1" 1 $?
check "reason printed" 1 "$(grep -c SPOUSE_PARENT_NOT_ALLOWED "$dir/err")"
g credit --psn-no S --amount -5 2>/dev/null; check "negative amount is a usage error" 2 $?
g credit --psn-no S --amount 1.234 2>/dev/null; check "three decimals is a usage error" 2 $?
g settle --psn-no P 2>/dev/null; check "missing option" 2 $?
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
"$cli" --node "ipc://$dir/nobody.sock" --timeout 200 health 2>/dev/null; check "no node exits 3" 3 $?
g settle --help >/dev/null; check "help" 0 $?

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

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
