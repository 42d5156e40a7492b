#!/usr/bin/env bash
# gongji credit --file against a real node over TLS: a month's credit file with good rows
# and bad rows of every kind (each refused with its line, the rest credited), the same
# file again (nothing moves twice), a dry run (nothing written), a GBK file with Chinese
# headers, quoted amounts and CRLF, and a run whose node is killed with kill -9 halfway,
# then run again: every row credited exactly once (the journal counts them); a file on
# a node that writes nothing else goes a request a commit, beside other writes in slices.
set -uo pipefail
load=${GONGJI_LOAD_BIN:?} node_bin=${GONGJI_NODE_BIN:?} cli=${GONGJI_CLI_BIN:?} pki=${GONGJI_PKI:?}
unset GONGJI_NODE GONGJI_CA GONGJI_CERT GONGJI_KEY GONGJI_CRL GONGJI_CLIENT_CONFIG
dir=$(mktemp -d /tmp/gongji-credit-XXXXXX)
url='' pid='' runner=''
cleanup() {
  [ -n "$runner" ] && kill "$runner" 2>/dev/null
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
  rm -rf "$dir"
}
trap cleanup EXIT
# shellcheck source=tests/support/check.sh
. "$(dirname "$0")/../support/check.sh"
bash "$pki" cluster "$dir/pki" 510100 >/dev/null || { echo "pki.sh cluster failed"; exit 1; }
g() { "$cli" --node "$url" --ca "$dir/pki/ca.crt" --crl "$dir/pki/crl.pem" --cert "$dir/pki/operator-510100-ops1.pem" "$@"; }
json_field() { grep -o "\"$1\": *[^,}]*" <<<"$2" | head -1 | sed 's/^[^:]*: *//; s/"//g'; }
journal() { json_field journal_entries "$(g --json health)"; }
balance() { g --json balance --psn-no "$1" | grep -o '"balance": *"[0-9.]*"' | grep -o '[0-9.]*"$' | tr -d '"'; }
# shellcheck source=tests/support/one_node.sh
. "$(dirname "$0")/../support/one_node.sh"

# ---- 2000 people loaded; the employees (310) have accounts ----
"$load" --generate 2000 --region 510100 --seed 7 > "$dir/people.csv"
"$load" --data-dir "$dir/data" --region 510100 --quiet "$dir/people.csv" || { echo "load failed"; exit 1; }
mapfile -t emp < <(awk -F, 'NR > 1 && $4 == "310" && $5 == "active" { print $1 }' "$dir/people.csv")
resident=$(awk -F, 'NR > 1 && $4 == "390" { print $1; exit }' "$dir/people.csv")
node_start "$dir/data" || exit 1

# ---- good rows, and bad rows of every kind ----
good=3000
{
  echo "row_id,psn_no,amount,memo"
  for i in $(seq 1 $good); do echo "r$i,${emp[$((i % ${#emp[@]}))]},1.00,2026-11"; done
  echo "bad1,5101999999999999,1.00,"        # no such person (node)
  echo "bad2,${emp[0]},\"1,23.00\","         # a thousands separator in the wrong place (file)
  echo "r7,${emp[1]},2.00,"                 # a row id the file has already (file)
  echo "bad3,$resident,1.00,"               # a resident has no account (node)
  echo "bad4,,1.00,"                        # no person (file)
  echo "bad5,${emp[2]},0,"                  # nothing to credit (file)
} > "$dir/credits.csv"
lines_bad=$(seq $((good + 2)) $((good + 7)) | paste -sd' ')  # after the header and the good rows
j0=$(journal)
b0=$(balance "${emp[1]}")
g --json credit --file "$dir/credits.csv" --batch 2026-11 >"$dir/out1" 2>"$dir/err1"; rc=$?
check "a file with refused rows exits 1" 1 $rc
check "every good row credited" $good "$(json_field credited "$(cat "$dir/out1")")"
check "the yuan credited" '"3000.00"' "$(grep -o '"credited_amount": *"[0-9.]*"' "$dir/out1" | grep -o '"[0-9.]*"$')"
check "six rows refused" 6 "$(json_field refused "$(cat "$dir/out1")")"
for reason in PERSON_NOT_FOUND AMOUNT_INVALID ROW_ID_REPEATED NO_ACCOUNT FIELD_INVALID; do
  check "refused: $reason, named with its line" yes "$(grep -qE "^line [0-9]+: $reason: " "$dir/err1" && echo yes)"
done
check "the refused lines are the bad rows'" "$lines_bad" "$(grep -oE '^line [0-9]+' "$dir/err1" | cut -d' ' -f2 | sort -n | paste -sd' ')"
check "the value as written is shown" 1 "$(grep -c 'amount "1,23.00"' "$dir/err1")"
check "the person as typed is shown" 1 "$(grep -c '(psn_no 5101999999999999)' "$dir/err1")"
check "the journal has one entry a credited row" $((j0 + good)) "$(journal)"
times=$(grep -c ",${emp[1]},1.00," "$dir/credits.csv")
check "a person credited once per row" "$(awk -v b="$b0" -v n="$times" 'BEGIN { printf "%.2f", b + n }')" "$(balance "${emp[1]}")"

# ---- the same file again: nothing moves ----
g --json credit --file "$dir/credits.csv" --batch 2026-11 >"$dir/out2" 2>/dev/null
check "again: nothing credited" 0 "$(json_field credited "$(cat "$dir/out2")")"
check "again: every good row was credited before" $good "$(json_field credited_before "$(cat "$dir/out2")")"
check "again: the journal did not move" $((j0 + good)) "$(journal)"
# The same row ids under another batch are other rows; the same key with another amount is refused.
printf 'row_id,psn_no,amount\nr1,%s,5.00\n' "${emp[1]}" > "$dir/changed.csv"
g credit --file "$dir/changed.csv" --batch 2026-11 >/dev/null 2>"$dir/err3"
check "a row id credited before with another amount is refused" 1 "$(grep -c 'ROW_ID_REUSED' "$dir/err3")"

# ---- a dry run writes nothing ----
g --json credit --file "$dir/credits.csv" --batch 2026-12 --dry-run >"$dir/out4" 2>/dev/null
check "dry run: would credit the good rows" $good "$(json_field would_credit "$(cat "$dir/out4")")"
check "dry run: nothing written" $((j0 + good)) "$(journal)"

# ---- GBK, Chinese headers, quoted amounts, CRLF ----
printf '序号,人员编号,划入金额,备注\r\n1,%s,"1,000.00",十一月划入\r\n2,%s,"￥2.50",\r\n' "${emp[3]}" "${emp[4]}" |
  iconv -f UTF-8 -t GB18030 > "$dir/gbk.csv"
b3=$(balance "${emp[3]}")
g credit --file "$dir/gbk.csv" --batch gbk >"$dir/out5" 2>&1; rc=$?
check "a GBK file loads" 0 $rc
check "... read as GB18030" 1 "$(grep -c '(GB18030)' "$dir/out5")"
check "... its quoted thousands credited" "$(awk -v b="$b3" 'BEGIN { printf "%.2f", b + 1000 }')" "$(balance "${emp[3]}")"

# ---- a file on a node that writes nothing else goes 1,000 rows a commit; beside other
# writes, 100 rows a commit, so those writes never wait behind a long one ----
rows=20000
slice_file() { printf '%s\n' "${emp[@]}" | awk -v n=$rows -v tag="$1" '{ e[NR - 1] = $0 } END {
  print "row_id,psn_no,amount"; for (i = 1; i <= n; i++) print tag i "," e[i % NR] ",0.01" }' > "$dir/$1.csv"; }
slice_file quiet
slice_file busy
sleep 0.5
g credit --file "$dir/quiet.csv" --batch quiet >/dev/null 2>&1
# Beside other writes: a node that counts a write as recent for ten minutes, one
# single credit, then the file (a stream of writes would depend on the machine's speed).
node_stop
node_extra='credit_quiet_ms = 600000'
node_start "$dir/data" || exit 1
g credit --psn-no "${emp[5]}" --amount 0.01 >/dev/null 2>&1
g credit --file "$dir/busy.csv" --batch busy >/dev/null 2>&1
# The node logs each request of a file with the slices it took (1,000 rows a request).
slices() { grep "credit-batch.* batch=$1 rows=1000 .*slices=" "$dir/node.log" | grep -o 'slices=[0-9]*' | cut -d= -f2 | sort | uniq -c | paste -sd' '; }
echo "slices a request (count slices): alone [$(slices quiet)], after another write [$(slices busy)]"
check "alone: every request of the file in one commit" "20 1" "$(slices quiet | xargs)"
check "after another write: every request in slices of 100" "20 10" "$(slices busy | xargs)"

# ---- kill -9 of the node halfway through a file, then the same command again ----
big=200000
printf '%s\n' "${emp[@]}" | awk -v n=$big '{ e[NR - 1] = $0 } END { print "row_id,psn_no,amount";
  for (i = 1; i <= n; i++) print "k" i "," e[i % NR] ",0.01" }' > "$dir/big.csv"
j1=$(journal)
( g --timeout 1500 credit --file "$dir/big.csv" --batch kill >/dev/null 2>"$dir/err6" ) & runner=$!
for _ in $(seq 1 200); do [ "$(journal)" -gt "$j1" ] 2>/dev/null && break; sleep 0.05; done
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
wait "$runner"; rc=$?; runner=
check "the run whose node died says so (no answer)" 3 $rc
check "... and what to do" 1 "$(grep -c 'Run the same command again' "$dir/err6")"
node_start "$dir/data" || exit 1
mid=$(journal)
check "some rows were credited before the kill" yes "$([ "$mid" -gt "$j1" ] && echo yes)"
g --json credit --file "$dir/big.csv" --batch kill >"$dir/out7" 2>/dev/null; rc=$?
check "run again: done" 0 $rc
check "run again: the rest credited, the first part skipped" $big \
  "$(( $(json_field credited "$(cat "$dir/out7")") + $(json_field credited_before "$(cat "$dir/out7")") ))"
check "every row credited exactly once" $((j1 + big)) "$(journal)"

echo "test_credit_file: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
