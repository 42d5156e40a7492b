#!/usr/bin/env bash
# gongji-load reads files as offices save them: GBK with a Chinese header in another
# column order, quoted names holding commas, CRLF, "1,234.50" and "￥8.00", status and
# insutype words; what it loads is read back through a real node. A certno twice in a
# file is refused naming both lines, also when the first was committed by a run that was
# killed (the re-run reads its rows again for their certnos). --dry-run reports the same
# bad rows and leaves no store behind.
set -uo pipefail
load=${GONGJI_LOAD_BIN:?} node_bin=${GONGJI_NODE_BIN:?} cli=${GONGJI_CLI_BIN:?} pki=${GONGJI_PKI:?}
unset GONGJI_NODE GONGJI_CA GONGJI_CERT GONGJI_KEY GONGJI_CRL
dir=$(mktemp -d /tmp/gongji-load-files-XXXXXX)
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
bash "$pki" cluster "$dir/pki" 510100 >/dev/null || { echo "pki.sh cluster failed"; exit 1; }
g() { "$cli" --node "$url" --ca "$dir/pki/ca.crt" --crl "$dir/pki/crl.pem" \
  --cert "$dir/pki/operator-510100-ops1.pem" "$@"; }
json_field() { # name, json: the value of the first "name": value
  grep -o "\"$1\": *[^,}]*" <<<"$2" | head -1 | sed 's/^[^:]*: *//; s/"//g'
}
balance() { g --json balance --psn-no "$1" | grep -o '"balance": *"[0-9.]*"' | grep -o '[0-9.]*"$' | tr -d '"'; }
# shellcheck source=tests/support/one_node.sh
. "$(dirname "$0")/../support/one_node.sh"
certno() { local base=$1 w=(7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) c=(1 0 X 9 8 7 6 5 4 3 2) s=0 i
  for i in $(seq 0 16); do s=$((s + ${base:$i:1} * ${w[$i]})); done; echo "$base${c[$((s % 11))]}"; }
# The line numbers of the bad rows an output reports for FILE, one line, ascending.
bad_lines() { grep -o "^$1:[0-9]*: " "$2" | sed 's/.*:\([0-9]*\): $/\1/' | sort -n | tr '\n' ' ' | sed 's/ $//'; }

# ---- a GBK file with a Chinese header: dry run first, then the load ----
cA=$(certno 51010419800101001) cB=$(certno 51010419500101002) cC=$(certno 51010420100101003)
cD=$(certno 51010419850101004) cE=$(certno 51010420150101005)
gbk=$dir/人员名单.csv
printf '%s\r\n' '身份证号,姓名,余额,人员编号,参保状态,险种' \
  "$cA,\"Zhang, San\",\"1,234.50\",5101008800000001,在职,310" \
  "$cB,\"王, 小明\",￥8.00,5101008800000002,退休,职工基本医疗保险" \
  "$cC,李四,,5101008800000003,暂停参保,城乡居民基本医疗保险" \
  "$cD,\"Smith, \"\"Jo\"\"\",\"10,000,000.00\",5101008800000004,active,310" \
  "$cE,赵六,0,5101008800000005,1,390" | iconv -f UTF-8 -t GBK > "$gbk"
check "the file is not UTF-8" 1 "$(iconv -f UTF-8 -t UTF-8 "$gbk" >/dev/null 2>&1; echo $?)"
"$load" --dry-run --data-dir "$dir/data" --region 510100 "$gbk" 2>"$dir/err"; check "dry run exit 0" 0 $?
check "dry run summary" 1 "$(grep -c "(GB18030): dry run: 5 rows would load, 0 bad" "$dir/err")"
check "dry run made no data directory" no "$([ -e "$dir/data" ] && echo yes || echo no)"
"$load" --dry-run --encoding GBK --region 510100 "$gbk" 2>/dev/null; check "--encoding GBK" 0 $?
"$load" --dry-run --encoding UTF-8 --region 510100 "$gbk" 2>"$dir/err"; check "--encoding UTF-8 refused" 2 $?
check "... at the header" 1 "$(grep -c "^$gbk:1: the header: line 1, column 1: not UTF-8 text" "$dir/err")"
"$load" --data-dir "$dir/data" --region 510100 "$gbk" 2>"$dir/err"; check "GBK file loads" 0 $?
check "GBK summary" 1 "$(grep -c '5 rows loaded, 0 bad' "$dir/err")"

# A header that names a column no persons file has stops before any store is made.
printf 'psn_no,certno,单位名称,insutype,status\n1,2,3,310,1\n' > "$dir/unknown.csv"
"$load" --data-dir "$dir/unknown-data" --region 510100 "$dir/unknown.csv" 2>"$dir/err"; check "unknown column exit 2" 2 $?
check "... named" 1 "$(grep -c "^$dir/unknown.csv:1: column 3 \"单位名称\" is not a column of a persons file" "$dir/err")"
check "... before any store" no "$([ -e "$dir/unknown-data" ] && echo yes || echo no)"
# Asked to, the loader skips the column it does not know (the row is then checked as usual).
"$load" --dry-run --ignore-unknown-columns --region 510100 "$dir/unknown.csv" 2>"$dir/err"; check "unknown column skipped when asked: the row is checked" 1 $?
check "... and refused for its own fields, not the column" 0 "$(grep -c '单位名称' "$dir/err")"

# ---- certnos twice, a record over two lines, words and amounts refused ----
cF=$(certno 51010419700101006) cG=$(certno 51010419700101007) cH=$(certno 51010419700101008)
cI=$(certno 51010419700101009)
for seq in $(seq 10 99); do cX=$(certno 510104197001010$seq); [ "${cX:17}" == X ] && break; done
check "a certno ending in X" X "${cX:17}"
utf=$(printf '\xef\xbb\xbf')
bad=$dir/bad.csv
{
  echo "${utf}CERTNO,Status,psn_no,InsuType,Balance,PSN_NAME"        # 1
  echo "$cF,正常参保,5101008800000006,310,100.00,钱七"                 # 2
  echo "$cF,正常参保,5101008800000007,310,5.00,钱七二"                 # 3: certno of line 2
  printf '%s\n%s\n' "$cG,active,5101008800000008,310,1.00,\"two" 'lines"' # 4-5: a line break in a name
  echo "$cX,active,5101008800000009,310,\"2,000.00\",孙八"             # 6
  echo "${cX:0:17}x,active,5101008800000010,310,3.00,孙八二"           # 7: line 6's, with a small x
  echo "$cH,在读,5101008800000011,310,1.00,周九"                       # 8
  echo "$cI,1,5101008800000012,310,\"1,23.00\",吴十"                   # 9
} > "$bad"
"$load" --dry-run --data-dir "$dir/none/data" --region 510100 "$bad" 2>"$dir/dry"; check "dry run exit 1" 1 $?
check "dry run bad lines" "3 4 7 8 9" "$(bad_lines "$bad" "$dir/dry")"
check "dry run counts" 1 "$(grep -c '(UTF-8): dry run: 2 rows would load, 5 bad' "$dir/dry")"
check "dry run left no store" no "$([ -e "$dir/none" ] && echo yes || echo no)"
"$load" --data-dir "$dir/data" --region 510100 "$bad" 2>"$dir/err"; check "load exit 1" 1 $?
check "load bad lines as the dry run's" "3 4 7 8 9" "$(bad_lines "$bad" "$dir/err")"
check "repeat names both lines" 1 "$(grep -c "^$bad:3: CERTNO_REPEATED: certno $cF is on line 2 already$" "$dir/err")"
check "x is X" 1 "$(grep -c "^$bad:7: CERTNO_REPEATED: certno $cX is on line 6 already$" "$dir/err")"
check "line break in a name" 1 "$(grep -c "^$bad:4: FIELD_INVALID: psn_name \"two?lines\"" "$dir/err")"
check "status word" 1 "$(grep -c "^$bad:8: STATUS_INVALID: status \"在读\" is not a status" "$dir/err")"
check "amount as written" 1 "$(grep -c "^$bad:9: AMOUNT_INVALID: balance: amount \"1,23.00\" has thousands" "$dir/err")"
check "load summary" 1 "$(grep -c '2 rows loaded, 5 bad' "$dir/err")"
"$load" --data-dir "$dir/data" --region 510100 "$bad" 2>"$dir/err"; check "again exit 1" 1 $?
check "again resumes after the last record" 1 "$(grep -c 'resuming after line 9 (5 bad rows before it)' "$dir/err")"

node_start "$dir/data" || exit 1
check "persons" 7 "$(json_field persons "$(g --json health)")"
check "quoted name with a comma, 1,234.50" 1234.50 "$(balance 5101008800000001)"
check "￥8.00, 职工基本医疗保险" 8.00 "$(balance 5101008800000002)"
check "\"\"Jo\"\", 10,000,000.00" 10000000.00 "$(balance 5101008800000004)"
check "UTF-8 with a BOM, 100.00" 100.00 "$(balance 5101008800000006)"
check "2,000.00" 2000.00 "$(balance 5101008800000009)"
check "职工基本医疗保险 is 310" 310 "$(json_field insutype "$(g --json balance --psn-no 5101008800000002)")"
check "城乡居民基本医疗保险 is 390" 390 "$(json_field insutype "$(g --json balance --psn-no 5101008800000003)")"
g --json balance --psn-no 5101008800000007 >/dev/null 2>&1; check "the repeat not loaded" 1 $?
g --json balance --psn-no 5101008800000010 >/dev/null 2>&1; check "the small-x repeat not loaded" 1 $?
# 退休 and 在职 are active, 暂停参保 is not: a binding tells.
g bind --sponsor 5101008800000001 --beneficiary 5101008800000002 --relation parent >/dev/null 2>&1
check "退休 is active" 0 $?
g bind --sponsor 5101008800000001 --beneficiary 5101008800000003 --relation child 2>"$dir/err"
check "暂停参保 is not" 1 $?
check "... BENEFICIARY_NOT_ACTIVE" 1 "$(grep -c BENEFICIARY_NOT_ACTIVE "$dir/err")"
node_stop

# ---- kill -9 mid-file, re-run: the repeat of a certno committed before the kill is found ----
gen=$dir/gen.csv big=$dir/big.csv
"$load" --generate 20000 --region 510100 --seed 11 > "$gen"
# Every 1000 rows a record over two lines (a bad row), and at the end data row 3's certno
# again; the bad rows' lines go to big.bad, row 3's line to big.first.
awk -v bad="$dir/big.bad" -v first="$dir/big.first" 'BEGIN { FS = ","
    st["active"] = "正常参保"; st["suspended"] = "暂停参保"; st["terminated"] = "终止参保" }
  NR == 1 { printf "人员编号,险种,参保状态,余额,身份证号,姓名\r\n"; line = 1; next }
  { b = $6; if (b != "" && b + 0 >= 1000) b = substr(b, 1, length(b) - 6) "," substr(b, length(b) - 5)
    printf "%s,%s,%s,\"%s\",%s,\"%s\"\r\n", $1, $4, st[$5], b, $2, $3
    if (++line == 4) { print line > first; cert = $2 }
    if ((NR - 1) % 1000 == 0) {
      printf "599990%05d,310,正常参保,1.00,000,\"第一行\r\n第二行\"\r\n", NR; print line + 1 > bad; line += 2 } }
  END { printf "5101007777000001,310,正常参保,1.00,%s,重复\r\n", cert; print line + 1 > bad }' "$gen" |
  iconv -f UTF-8 -t GBK > "$big"
check "bad records planted" 21 "$(wc -l < "$dir/big.bad")"
killed=0
for delay in 0.3 0.1 0.03; do
  rm -rf "$dir/big-data"
  "$load" --data-dir "$dir/big-data" --region 510100 --batch 50 --quiet "$big" 2>/dev/null & loader=$!
  sleep "$delay"
  kill -9 "$loader" 2>/dev/null
  wait "$loader" 2>/dev/null; rc=$?; loader=
  [ "$rc" -eq 137 ] && { killed=1; break; }
done
check "loader killed mid-file" 1 "$killed"
"$load" --data-dir "$dir/big-data" --region 510100 "$big" 2>"$dir/err"; check "re-run exit 1" 1 $?
resumed=$(sed -n 's/.*resuming after line \([0-9]*\) .*/\1/p' "$dir/err")
check "re-run resumes" yes "$([ -n "$resumed" ] && echo yes)"
resumed=${resumed:-0}
check "row 3 committed before the kill" yes "$([ "$resumed" -gt "$(cat "$dir/big.first")" ] && echo yes)"
check "re-run reports the bad rows after it" "$(awk -v r="$resumed" '$1 > r' "$dir/big.bad" | tr '\n' ' ' | sed 's/ $//')" \
  "$(bad_lines "$big" "$dir/err")"
check "and counts those before it" "$(awk -v r="$resumed" '$1 <= r' "$dir/big.bad" | wc -l)" \
  "$(sed -n 's/.*: \([0-9]*\) more bad rows before line.*/\1/p' "$dir/err" | grep . || echo 0)"
check "the repeat found across the kill" 1 \
  "$(grep -c "^$big:$(tail -1 "$dir/big.bad"): CERTNO_REPEATED: certno .* is on line $(cat "$dir/big.first") already" "$dir/err")"
check "nothing already present" 1 "$(grep -c ' 0 already present' "$dir/err")"
[ -n "${GONGJI_TEST_VERBOSE:-}" ] && cat "$dir/err"
node_start "$dir/big-data" || exit 1
check "persons after resume" 20000 "$(json_field persons "$(g --json health)")"
read -r credits credited < <(awk -F, 'NR > 1 && $6 != "" { split($6, y, ".");
    f = y[1] * 100 + y[2]; if (f > 0) { c++; t += f } } END { printf "%d %d.%02d\n", c, int(t / 100), t % 100 }' "$gen")
check "journal entries after resume" "$credits" "$(json_field journal_entries "$(g --json health)")"
check "credited once" "$credited" "$(json_field total_credited "$(g --json audit)")"
read -r psn bal < <(awk -F, 'NR > 1 && $6 + 0 >= 1000 { n++ } n == 777 { print $1, $6; exit }' "$gen")
check "a balance written with a thousands separator" "$bal" "$(balance "$psn")"
node_stop

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
