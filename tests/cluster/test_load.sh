#!/usr/bin/env bash
# gongji-load: bad rows reported and skipped, good rows readable through a real node,
# and a load killed with kill -9 and re-run ends with the same store as one clean run.
set -uo pipefail
load=${GONGJI_LOAD_BIN:?} node_bin=${GONGJI_NODE_BIN:?} cli=${GONGJI_CLI_BIN:?} pki=${GONGJI_PKI:?}
# Only what this test passes counts: nothing from the caller's shell.
unset GONGJI_NODE GONGJI_CA GONGJI_CERT GONGJI_KEY GONGJI_CRL
dir=$(mktemp -d /tmp/gongji-load-XXXXXX)
url=''
pid='' loader=''
cleanup() {
  [ -n "$loader" ] && kill -9 "$loader" 2>/dev/null
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
  rm -rf "$dir"
}
trap cleanup EXIT

# shellcheck source=tests/support/check.sh
. "$(dirname "$0")/../support/check.sh"
# The node is reached over TLS as the region's own operator, 510100:ops1.
bash "$pki" cluster "$dir/pki" 510100 >/dev/null || { echo "pki.sh cluster failed"; exit 1; }
g() { "$cli" --node "$url" --ca "$dir/pki/ca.crt" --crl "$dir/pki/crl.pem" \
  --cert "$dir/pki/operator-510100-ops1.pem" "$@"; }
json_field() { # name, json: the value of the first "name": value
  grep -o "\"$1\": *[^,}]*" <<<"$2" | head -1 | sed 's/^[^:]*: *//; s/"//g'
}
# shellcheck source=tests/support/one_node.sh
. "$(dirname "$0")/../support/one_node.sh"
certno() { local base=$1 w=(7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) c=(1 0 X 9 8 7 6 5 4 3 2) s=0 i
  for i in $(seq 0 16); do s=$((s + ${base:$i:1} * ${w[$i]})); done; echo "$base${c[$((s % 11))]}"; }
# Expected totals of a CSV: persons accounts credits total_credited(yuan)
expect() { awk -F, 'NR > 1 && NF == 6 { p++; if ($4 == "310") a++;
    if ($6 != "") { split($6, y, "."); f = y[1] * 100 + (length(y[2]) == 1 ? y[2] * 10 : y[2] + 0);
      if (f > 0) { c++; t += f } } }
  END { printf "%d %d %d %d.%02d\n", p, a, c, int(t / 100), t % 100 }' "$1"; }

# ---- bad rows are named and skipped; the good ones load ----
csv=$dir/people.csv
"$load" --generate 2000 --region 510100 --seed 42 > "$csv"; check "generate" 0 $?
check "generated lines" 2001 "$(wc -l < "$csv")"
"$load" --generate 2000 --region 510100 --seed 42 | cmp -s - "$csv"; check "generate is deterministic" 0 $?
good=$(certno 51010419800101001)
bad=${good:0:17}$([ "${good:17}" == 0 ] && echo 1 || echo 0)
{
  echo "5101009999000001,$bad,Bad Check,310,active,10.00"                       # line 2002
  echo "5101009999000002,$(certno 51010419800101002),Bad Balance,310,active,12.345" # 2003
  echo "5101009999000003,$(certno 51010419800101003),Resident,390,active,5.00"   # 2004
  echo "5101009999000004,$(certno 51010419800101004),Few,310"                    # 2005
  echo "5101009999000005,$(certno 51010419800101005),Quo\"ted,310,active,1"     # 2006: a stray quote
  printf '5101009999000006,%s,%01100d,310,active,1\n' "$(certno 51010419800101006)" 0 # 2007: name > 64 bytes
} >> "$csv"
"$load" --data-dir "$dir/data" --region 510100 "$csv" 2>"$dir/err"; check "bad rows exit 1" 1 $?
for line in 2002 2003 2004 2005 2006 2007; do
  check "line $line reported" 1 "$(grep -c "^$csv:$line: " "$dir/err")"
done
check "only bad rows reported" 6 "$(grep -c "^$csv:[0-9]*: " "$dir/err")"
check "too few fields named" 1 "$(grep -c "^$csv:2005: expected 6 fields as the header has, found 4" "$dir/err")"
check "the reader's reason" 1 "$(grep -c "^$csv:2006: column 3: a quote inside a field" "$dir/err")"
check "summary" 1 "$(grep -c '2000 rows loaded, 6 bad' "$dir/err")"
"$load" --data-dir "$dir/data" --region 510100 "$csv" 2>"$dir/err2"; check "re-run still exit 1" 1 $?
check "re-run resumes at the end" 1 "$(grep -c 'resuming after line 2007' "$dir/err2")"
"$load" --data-dir "$dir/data" --region 510100 --restart --quiet "$csv" 2>/dev/null
check "restart re-reads, exit 1" 1 $?
"$load" --data-dir "$dir/data" --region 510100 "$dir/missing.csv" 2>/dev/null; check "missing file exits 2" 2 $?
"$load" --region 510100 "$csv" 2>/dev/null; check "no data dir exits 2" 2 $?
"$load" --help | grep -q 'Stop the node\|STOP THE NODE'; check "help says stop the node" 0 $?

node_start "$dir/data" || exit 1
read -r psn bal < <(awk -F, 'NR > 1 && $4 == "310" && $6 != "" { n++ } n == 700 { print $1, $6; exit }' "$csv")
check "sample balance" "\"$bal\"" "$(g --json balance --psn-no "$psn" | grep -o '"balance": *"[0-9.]*"' | grep -o '"[0-9.]*"$')"
h=$(g --json health)
check "persons" 2000 "$(json_field persons "$h")"
read -r _ accounts credits credited < <(head -2001 "$csv" > "$dir/good.csv"; expect "$dir/good.csv")
check "journal entries" "$credits" "$(json_field journal_entries "$h")"
a=$(g --json audit)
check "audit ok" true "$(json_field ok "$(grep -o '"failure_count".*' <<<"$a")")"
check "audit accounts" "$accounts" "$(json_field accounts "$a")"
check "audit credited" "$credited" "$(json_field total_credited "$a")"
g --json balance --psn-no 5101009999000004 >/dev/null 2>&1; check "bad row not loaded" 1 $?

# ---- SIGHUP (logrotate): the node keeps serving and writes to a new log file ----
mv "$dir/node.log" "$dir/node.log.1"
kill -HUP "$pid"; sleep 0.3
g --timeout 2000 health >/dev/null 2>&1; check "serves after SIGHUP" 0 $?
check "log file opened again" 1 "$(grep -c 'SIGHUP: log file opened again' "$dir/node.log" 2>/dev/null)"
node_stop

# ---- kill -9 mid-file, re-run: same store as one clean run ----
big=$dir/big.csv
"$load" --generate 50000 --region 510100 --seed 7 > "$big"
read -r persons accounts credits credited < <(expect "$big")
killed=0
for delay in 0.3 0.1 0.03 0.01; do # small batches so the kill lands mid-file on a fast disk
  rm -rf "$dir/big"
  "$load" --data-dir "$dir/big" --region 510100 --batch 50 --quiet "$big" & loader=$!
  sleep "$delay"
  kill -9 "$loader" 2>/dev/null
  wait "$loader" 2>/dev/null; rc=$?; loader=
  [ "$rc" -eq 137 ] && { killed=1; break; }
done
check "loader killed mid-file" 1 "$killed"
"$load" --data-dir "$dir/big" --region 510100 --batch 50 "$big" 2>"$dir/err3" & loader=$!
sleep 0.05; kill -9 "$loader" 2>/dev/null; wait "$loader" 2>/dev/null; loader=
"$load" --data-dir "$dir/big" --region 510100 "$big" 2>"$dir/err4"; check "re-run exit 0" 0 $?
check "re-run resumes" 1 "$(grep -c 'resuming after line' "$dir/err4")"
check "nothing already present" 1 "$(grep -c ' 0 already present' "$dir/err4")"
[ -n "${GONGJI_TEST_VERBOSE:-}" ] && cat "$dir/err3" "$dir/err4"
node_start "$dir/big" || exit 1
h=$(g --json health)
check "persons after resume" "$persons" "$(json_field persons "$h")"
check "journal entries after resume" "$credits" "$(json_field journal_entries "$h")"
a=$(g --json audit)
check "audit ok after resume" true "$(json_field ok "$(grep -o '"failure_count".*' <<<"$a")")"
check "accounts after resume" "$accounts" "$(json_field accounts "$a")"
check "credited once" "$credited" "$(json_field total_credited "$a")"
check "balance == credited" "$credited" "$(json_field total_balance "$a")"
read -r psn bal < <(awk -F, 'NR > 1 && $4 == "310" { n++ } n == 31337 { print $1, $6; exit }' "$big")
check "sample balance after resume" "\"$bal\"" "$(g --json balance --psn-no "$psn" | grep -o '"balance": *"[0-9.]*"' | grep -o '"[0-9.]*"$')"

node_stop

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
