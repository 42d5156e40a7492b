#!/usr/bin/env bash
# The store as an operator meets it, against a real node over TLS:
# - one node per data directory: a second gongji-node, gongji-load or gongji-admin on a
#   directory a node serves is refused, naming the node's pid, and the node goes on;
# - first answers expire: one older than idempotency_retention_days is pruned by the
#   node's resolver, a retry inside the retention still gets its first answer (nothing
#   moves twice) and a changed request under its call id is still refused;
# - a full disk (a small tmpfs, filled): writes answered RESOURCE_EXHAUSTED DISK_FULL
#   and logged as such, the node keeps serving, and once there is room the same credit
#   files sent again credit every row exactly once, without a restart.
set -uo pipefail
node_bin=${GONGJI_NODE_BIN:?} cli=${GONGJI_CLI_BIN:?} load=${GONGJI_LOAD_BIN:?} admin=${GONGJI_ADMIN_BIN:?}
tool=${GONGJI_STORE_TOOL_BIN:?} pki=${GONGJI_PKI:?}
unset GONGJI_NODE GONGJI_CA GONGJI_CERT GONGJI_KEY GONGJI_CRL GONGJI_CLIENT_CONFIG
dir=$(mktemp -d /tmp/gongji-storage-XXXXXX)
pid='' url='' mounted=''
cleanup() {
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
  [ -n "$mounted" ] && umount "$mounted"
  rm -rf "$dir"
}
trap cleanup EXIT
# shellcheck source=tests/support/check.sh
. "$(dirname "$0")/../support/check.sh"
bash "$pki" cluster "$dir/pki" 510100 >/dev/null || { echo "pki.sh cluster failed"; exit 1; }
g() { "$cli" --node "$url" --ca "$dir/pki/ca.crt" --crl "$dir/pki/crl.pem" --cert "$dir/pki/operator-510100-ops1.pem" "$@"; }
json_field() { grep -o "\"$1\": *[^,}]*" <<<"$2" | head -1 | sed 's/^[^:]*: *//; s/"//g'; }
balance() { g --json balance --psn-no "$1" | grep -o '"balance": *"[0-9.]*"' | grep -o '[0-9.]*"$' | tr -d '"'; }
journal() { json_field journal_entries "$(g --json health)"; }
# shellcheck source=tests/support/one_node.sh
. "$(dirname "$0")/../support/one_node.sh"

node_extra='log_level = debug
resolve_interval_ms = 200'
node_start "$dir/data" || exit 1
g enroll --psn-no P1 --certno 510104198001010014 --insutype 310 --region-code 510100 --name A >/dev/null
check "enroll" 0 $?

# ---- one node per data directory ----
sed -e "s|^listen = .*|listen = tls+tcp://127.0.0.1:$(free_port)|" -e "s|^log_file = .*|log_file = $dir/second.log|" \
  "$dir/node.ini" >"$dir/second.ini"
timeout 10 "$node_bin" --config "$dir/second.ini" >/dev/null 2>&1; rc=$?
check "a second node on the directory does not start" 1 "$([ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && echo 1)"
check "... and names the node that holds it" 1 "$(grep -c "in use by process $pid" "$dir/second.log")"
"$load" --generate 1 --region 510100 >"$dir/one.csv"
"$load" --data-dir "$dir/data" --region 510100 --quiet "$dir/one.csv" 2>"$dir/err" >/dev/null
check "gongji-load refuses it too" 1 "$(grep -c "in use by process $pid" "$dir/err")"
"$admin" upgrade --data-dir "$dir/data" 2>"$dir/err" >/dev/null
check "and gongji-admin upgrade" 1 "$(grep -c "in use by process $pid" "$dir/err")"
check "the node still serves" 0 "$(g health >/dev/null; echo $?)"
# A data.mdb that is not a store at all: refused before anything is read, and said plainly.
mkdir -m 0700 "$dir/junk" && head -c 65536 /dev/urandom >"$dir/junk/data.mdb" && cp "$dir/junk/data.mdb" "$dir/junk.orig"
"$admin" upgrade --data-dir "$dir/junk" 2>"$dir/err" >/dev/null; rc=$?
check "gongji-admin upgrade of a file that is no store fails" 1 "$rc"
check "... saying it changed nothing, with no reason or copy it did not make" 1 \
  "$(grep -cxE "gongji-admin: $dir/junk not upgraded \([A-Z_]+\); nothing in it was changed" "$dir/err")"
check "... and left the file as it was" 0 "$(cmp -s "$dir/junk/data.mdb" "$dir/junk.orig"; echo $?)"

# ---- first answers expire after the retention, and only then ----
g --call-id old-1 credit --psn-no P1 --amount 10.00 >/dev/null; check "credit old-1" 0 $?
g --call-id new-1 credit --psn-no P1 --amount 20.00 >/dev/null; check "credit new-1" 0 $?
node_stop
check "old-1's first answer made 31 days old" 1 "$("$tool" "$dir/data" idem-age 31 old-)"
: >"$dir/node.log"
node_start "$dir/data" || exit 1
for _ in $(seq 1 100); do grep -q "pruned 1 first answers older than 30 days" "$dir/node.log" && break; sleep 0.1; done
check "the resolver prunes the one past the retention" 1 "$(grep -c "pruned 1 first answers older than 30 days" "$dir/node.log")"
check "balance before the retries" 30.00 "$(balance P1)"
g --call-id new-1 credit --psn-no P1 --amount 20.00 >/dev/null; check "new-1 again: its first answer" 0 $?
check "... and nothing moved" 30.00 "$(balance P1)"
g --call-id new-1 credit --psn-no P1 --amount 21.00 >/dev/null 2>"$dir/err"
check "new-1 with another amount: still refused" 1 "$(grep -c "CALL_ID_REUSED" "$dir/err")"
g --call-id old-1 credit --psn-no P1 --amount 10.00 >/dev/null
check "old-1, past the retention, is a new credit (docs/operations.md)" 40.00 "$(balance P1)"
node_stop

# ---- a full disk ----
if [ "$(id -u)" != 0 ]; then
  echo "passed=$passed failed=$failed (the full-disk part needs root to mount a tmpfs: skipped)"
  [ "$failed" -eq 0 ] && exit 77
  exit 1
fi
mkdir -p "$dir/small"
mount -t tmpfs -o size=48m tmpfs "$dir/small" || { echo "FAIL cannot mount a tmpfs as root"; exit 1; }
mounted="$dir/small"
"$load" --generate 1000 --region 510100 --seed 5 >"$dir/people.csv"
"$load" --data-dir "$dir/small/data" --region 510100 --quiet "$dir/people.csv" || { echo "load failed"; exit 1; }
mapfile -t emp < <(awk -F, 'NR > 1 && $4 == "310" && $5 == "active" { print $1 }' "$dir/people.csv")
files=30
for f in $(seq 1 $files); do
  { echo "row_id,psn_no,amount"; for p in "${emp[@]}"; do echo "f$f-$p,$p,1.00"; done; } >"$dir/credits-$f.csv"
done
rows=${#emp[@]}
: >"$dir/node.log"
node_start "$dir/small/data" || exit 1
j0=$(journal)
b0=$(balance "${emp[0]}")
dd if=/dev/zero of="$dir/small/filler" bs=64k 2>/dev/null
sync
full=0
for f in $(seq 1 $files); do
  if ! g --json credit --file "$dir/credits-$f.csv" >"$dir/out-$f" 2>"$dir/err-$f"; then full=$f; break; fi
done
echo "credit file $full of $files met the full disk"
check "a credit file meets the full disk" 1 "$([ "$full" -gt 0 ] && echo 1)"
check "... answered RESOURCE_EXHAUSTED DISK_FULL" 1 "$(grep -c "RESOURCE_EXHAUSTED DISK_FULL" "$dir/err-$full")"
check "the log says the disk is full" 1 "$([ "$(grep -c "the disk under data_dir .* is full" "$dir/node.log")" -ge 1 ] && echo 1)"
check "the node still answers" 0 "$(g health >/dev/null; echo $?)"
check "and still reads" 1 "$([ -n "$(balance "${emp[0]}")" ] && echo 1)"
rm -f "$dir/small/filler"
for f in $(seq "$full" $files); do
  g --json credit --file "$dir/credits-$f.csv" >"$dir/out-$f" 2>"$dir/err-$f"
  check "file $f once there is room" 0 $?
done
check "every row of every file credited exactly once" $((files * rows)) $(($(journal) - j0))
check "a person's balance: one yuan a file" "$(awk -v b="$b0" -v n=$files 'BEGIN { printf "%.2f", b + n }')" "$(balance "${emp[0]}")"
again=0
for f in $(seq 1 $files); do
  again=$((again + $(json_field credited "$(g --json credit --file "$dir/credits-$f.csv")")))
done
check "every file again: nothing credited" 0 "$again"
check "... and the journal did not move" $((files * rows)) $(($(journal) - j0))
node_stop

echo "passed=$passed failed=$failed"
[ "$failed" -eq 0 ]
