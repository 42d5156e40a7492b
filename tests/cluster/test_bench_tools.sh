#!/usr/bin/env bash
# The benchmark tools still work end to end: gongji-bench starts its own three-node
# cluster, settles locally and across regions with every request answered, credits in
# bulk, and ends with a RESULT line; the clearing benchmark summarises a month of rows; gongji-diskprobe times its commit patterns and refuses bad
# arguments. Speed itself is not judged here (CI machines are noisy): only that the
# figures are there and the runs had no failed request.
set -uo pipefail
bench=${GONGJI_BENCH_BIN:?} probe=${GONGJI_DISKPROBE_BIN:?}
node_bin=${GONGJI_NODE_BIN:?} cli_bin=${GONGJI_CLI_BIN:?} tool_bin=${GONGJI_STORE_TOOL_BIN:?}
clearing_bench=${GONGJI_CLEARING_BENCH:?}
dir=$(mktemp -d /tmp/gongji-benchtest-XXXXXX)
trap 'rm -rf "$dir"' EXIT

# shellcheck source=tests/support/check.sh
. "$(dirname "$0")/../support/check.sh"
field() { # name, line: the value of name=... in a RESULT line
  grep -o "\b$1=[^ ]*" <<<"$2" | head -1 | cut -d= -f2
}
positive() { # a number > 0 prints yes
  awk -v x="$1" 'BEGIN { print (x + 0 > 0) ? "yes" : "no" }'
}

# --- gongji-diskprobe ---
out=$("$probe" --dir "$dir" --pages 4 --rounds 5 --file-mb 16 2>&1); rc=$?
check "diskprobe exit" 0 "$rc"
probe_line=$(grep '^PROBE ' <<<"$out")
check "diskprobe floor measured" yes "$(positive "$(field floor_ms "$probe_line")")"
check "diskprobe scattered measured" yes "$(positive "$(field scattered_ms "$probe_line")")"
check "diskprobe two files measured" yes "$(positive "$(field two_files_ms "$probe_line")")"
check "diskprobe leaves no files" "" "$(ls -A "$dir")"
for bad in "--pages 0" "--pages x" "--rounds -1" "--file-mb 8" "stray"; do
  # shellcheck disable=SC2086 # each case is several words on purpose
  "$probe" --dir "$dir" $bad >/dev/null 2>&1
  check "diskprobe refuses $bad" 2 "$?"
done
msg=$("$probe" --dir "$dir/missing" --rounds 1 --file-mb 16 2>&1); rc=$?
check "diskprobe missing dir exit" 1 "$rc"
check "diskprobe names the file" yes "$(grep -q "$dir/missing/probe-0.dat" <<<"$msg" && echo yes || echo no)"

# --- gongji-bench: every scenario, the echo, no PostgreSQL ---
# Below the ephemeral range (32768 up on Linux), so no outgoing connection holds it.
port=$((20000 + $$ % 12000))
out=$("$bench" --seconds 1 --rounds 1 --people 200 --concurrency 8 --no-pg --port "$port" --dir "$dir/bench" 2>&1); rc=$?
check "bench exit" 0 "$rc"
[ "$rc" -eq 0 ] || tail -n 60 <<<"$out" # why, in the test's log
result=$(grep '^RESULT ' <<<"$out")
check "bench local settled" yes "$(positive "$(field local_tps "$result")")"
check "bench cross-region settled" yes "$(positive "$(field cross_tps "$result")")"
check "bench echo answered" yes "$(positive "$(field echo_tps "$result")")"
check "bench two-sponsor run settled" yes "$(positive "$(field cross2_tps "$(grep '^echo_p99_ms' <<<"$out")")")"
check "bench no failed request" 0 "$(grep -E ' ok [0-9]+ failed ' <<<"$out" | grep -vc ' failed 0$')"
# Three scenarios authenticated and in plaintext, the gateway, the echo and the echo
# over TLS, and the local settlements alone and beside the credits.
check "bench runs reported" 11 "$(grep -cE ' ok [0-9]+ failed ' <<<"$out")"
credit=$(grep '^credit_rows_s' <<<"$out")
check "bench credited rows through the node" yes "$(positive "$(field credit_rows_s "$credit")")"
check "bench credited rows while settling" yes "$(positive "$(field credit_rows_s_while_settling "$credit")")"
check "bench compared settle p99 with credits running" yes "$(positive "$(field settle_p99_with_credits_vs_alone "$credit")")"
gw=$(grep '^gw_tps' <<<"$out")
check "bench gateway settled over HTTPS" yes "$(positive "$(field gw_tps "$gw")")"
check "bench gateway against local" yes "$(positive "$(field gw_vs_local "$gw")")"
plain=$(grep '^plain_local_tps' <<<"$out")
check "bench plaintext local settled" yes "$(positive "$(field plain_local_tps "$plain")")"
check "bench plaintext cross-region settled" yes "$(positive "$(field plain_cross_tps "$plain")")"
check "bench TLS echo answered" yes "$(positive "$(field tls_echo_tps "$plain")")"
check "bench authenticated against plaintext" yes "$(positive "$(field auth_cross_vs_plain "$plain")")"
check "bench PostgreSQL skipped as asked" 1 "$(grep -c 'skipped (--no-pg)' <<<"$out")"
"$bench" --only nowhere --no-pg >/dev/null 2>&1
check "bench refuses an unknown scenario" 2 "$?"
"$bench" --port 70000 --no-pg >/dev/null 2>&1
check "bench refuses a port out of range" 2 "$?"
"$bench" --rounds 0 --no-pg >/dev/null 2>&1
check "bench refuses zero rounds" 2 "$?"

# --- the clearing benchmark, small: a month of rows summarised, every row counted ---
out=$(GONGJI_NODE_BIN=$node_bin GONGJI_CLI_BIN=$cli_bin GONGJI_STORE_TOOL_BIN=$tool_bin bash "$clearing_bench" 3000 2>&1); rc=$?
check "clearing bench exit" 0 "$rc"
check "clearing bench summarised every row, three times" 3 "$(grep -c 'clearing month summary, run [123]: [0-9]* ms for 3000 rows' <<<"$out")"
check "clearing bench result" yes "$(positive "$(field clearing_month_s "$(grep '^RESULT ' <<<"$out")")")"

echo "test_bench_tools: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
