#!/usr/bin/env bash
# Upgrading in place: two stores written by the build whose format was 5 (Changsha and
# Zhuzhou, tests/fixtures/store-format5.tar.gz) are started by this build. Each node
# copies its old store aside and converts it; every balance is as the old build left
# it; the old calls sent again are answered as the first time (their first answers kept
# the old request hash) and move nothing; the reversed call is still refused; new
# settlements work across the two nodes; and their books agree (audit --cluster).
set -uo pipefail
node_bin=${GONGJI_NODE_BIN:?} cli=${GONGJI_CLI_BIN:?} admin=${GONGJI_ADMIN_BIN:?}
fixture=${GONGJI_FIXTURES:?}/store-format5.tar.gz
unset GONGJI_NODE GONGJI_CA GONGJI_CERT GONGJI_KEY GONGJI_CRL GONGJI_CLIENT_CONFIG
dir=$(mktemp -d /tmp/gongji-upgrade-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT
# shellcheck source=tests/support/check.sh
. "$(dirname "$0")/../support/check.sh"
# shellcheck source=tests/cluster/ports.sh
. "$(dirname "$0")/../cluster/ports.sh"

tar xzf "$fixture" -C "$dir" || { echo "cannot unpack $fixture"; exit 1; }
exp=$dir/store-format5/EXPECTED
check "the fixture is format 5" 1 "$("$admin" info --data-dir "$dir/store-format5/430100" | grep -c '^format 5 ')"

# The old build spoke plaintext and took callers at their word: so do these nodes.
p1=$(free_port) p2=$(free_port)
declare -A url=([430100]="tcp://127.0.0.1:$p1" [430200]="tcp://127.0.0.1:$p2")
start() { # region other
  cat > "$dir/$1.ini" <<INI
[node]
region = $1
listen = ${url[$1]}
data_dir = $dir/store-format5/$1
log_file = $dir/$1.log
insecure_plaintext = yes
allow_clock_override = yes
[policy]
live = yes
cascade = no
relations = spouse,parent,child
[peers]
$2 = ${url[$2]}
INI
  "$node_bin" --config "$dir/$1.ini" & pids+=($!)
  for _ in $(seq 1 100); do
    "$cli" --node "${url[$1]}" --caller "$1:fx5" --role operator --timeout 300 health >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "node $1 did not start:"; tail -5 "$dir/$1.log"; return 1
}
start 430100 430200 || exit 1
start 430200 430100 || exit 1
op() { local r=$1; shift; "$cli" --node "${url[$r]}" --caller "$r:fx5" --role operator "$@"; }
inst() { "$cli" --node "${url[430100]}" --caller H43010000001 --role institution "$@"; }
fen() { # region psn_no: the balance in fen
  op "$1" --json balance --psn-no "$2" | grep -o '"balance": *"[0-9.]*"' | head -1 | grep -o '[0-9.]*"$' | tr -d '".'; }
nozero() { sed 's/^0*//; s/^$/0/'; }

cur=$("$admin" info --data-dir "$dir/store-format5/430100" | sed -n 's/.*this build reads \([0-9]*\)).*/\1/p')
for r in 430100 430200; do
  check "$r logged its upgrade from 5" 1 "$(grep -c "upgraded from store format 5 to $cur " "$dir/$r.log")"
  check "$r: the old store was copied first" 1 "$(ls -d "$dir/store-format5/$r"/before-upgrade-format5-*/data.mdb 2>/dev/null | wc -l)"
  check "$r: the copy is the old store" 1 "$("$admin" info --data-dir "$(ls -d "$dir/store-format5/$r"/before-upgrade-format5-*)" | grep -c '^format 5 ')"
done
check "Changsha converted its decisions" 1 "$(grep -c 'decisions converted=2,' "$dir/430100.log")"

# Every balance as the old build left it.
while read -r _ region psn want; do
  check "balance of $psn in $region" "$want" "$(fen "$region" "$psn" | nozero)"
done < <(grep '^balance ' "$exp")

# The old calls again, exactly as they were sent: the first answers, nothing moves.
before1=$(fen 430100 4301005001) before2=$(fen 430200 4302005001)
out=$(inst --json --call-id fx5-settle-1 settle --psn-no 4301005002 --amount 120.50 --use outpatient \
  --institution H43010000001); rc=$?
check "fx5-settle-1 again: answered" 0 $rc
check "... with its first setl_id" "$(grep '^settle 430100 fx5-settle-1 ' "$exp" | grep -o 'setl_id=[^ ]*' | cut -d= -f2)" \
  "$(grep -o '"setl_id": *"[^"]*"' <<<"$out" | grep -o '"[^"]*"$' | tr -d '"')"
inst --call-id fx5-settle-2 settle --psn-no 4301005003 --amount 88.00 --use outpatient --institution H43010000001 >/dev/null
check "fx5-settle-2 again (the remote sponsor's): answered" 0 $?
check "... the local sponsor paid nothing more" "$before1" "$(fen 430100 4301005001)"
check "... the remote sponsor paid nothing more" "$before2" "$(fen 430200 4302005001)"
inst --call-id fx5-settle-1 settle --psn-no 4301005002 --amount 99.00 --use outpatient --institution H43010000001 2>"$dir/err"
check "the old call id with another request is refused" 1 "$(grep -c 'CALL_ID_REUSED' "$dir/err")"
inst --call-id fx5-settle-never settle --psn-no 4301005002 --amount 10.00 --use outpatient --institution H43010000001 2>"$dir/err"
check "the call reversed before it was made stays refused" 1 "$(grep -c 'CALL_REVERSED' "$dir/err")"

# New money moves as it should, across the two nodes.
op 430200 credit --psn-no 4302005001 --amount 50.00 >/dev/null
check "a new credit" 0 $?
b_remote=$(fen 430200 4302005001)
inst --call-id after-upgrade-1 settle --psn-no 4301005003 --amount 30.00 --use outpatient --institution H43010000001 >/dev/null
check "a new cross-region settlement" 0 $?
for _ in $(seq 1 50); do [ "$(fen 430200 4302005001)" = "$((10#$b_remote - 3000))" ] && break; sleep 0.1; done
check "... the remote sponsor paid it" "$((10#$b_remote - 3000))" "$(fen 430200 4302005001 | nozero)"

# The books of both nodes agree, old settlements and new.
"$cli" --caller 430000:fx5 --role operator audit --cluster "${url[430100]},${url[430200]}" >"$dir/audit" 2>&1
check "audit --cluster passes after the upgrade" 0 $?
for r in 430100 430200; do
  check "$r's store is format $cur now" 1 "$("$admin" info --data-dir "$dir/store-format5/$r" | grep -c "^format $cur ")"
done

echo "test_upgrade: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
