#!/usr/bin/env bash
# gongji-admin: a backup taken while the node serves (0600, with a manifest that checks),
# a damaged backup refused, a restore that never overwrites a ledger, and a restored node
# that serves reads but moves no money until an operator confirms, then does again.
set -uo pipefail
node_bin=${GONGJI_NODE_BIN:?} cli=${GONGJI_CLI_BIN:?} admin=${GONGJI_ADMIN_BIN:?} pki=${GONGJI_PKI:?}
unset GONGJI_NODE GONGJI_CA GONGJI_CERT GONGJI_KEY GONGJI_CRL
dir=$(mktemp -d /tmp/gongji-backup-XXXXXX)
pid='' url=''
cleanup() {
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
  rm -rf "$dir"
}
trap cleanup EXIT
# shellcheck source=tests/support/check.sh
. "$(dirname "$0")/../support/check.sh"
bash "$pki" cluster "$dir/pki" 510100 >/dev/null || { echo "pki.sh cluster failed"; exit 1; }
g() { "$cli" --node "$url" --ca "$dir/pki/ca.crt" --crl "$dir/pki/crl.pem" --cert "$dir/pki/operator-510100-ops1.pem" "$@"; }
# shellcheck source=tests/support/one_node.sh
. "$(dirname "$0")/../support/one_node.sh"
balance() { g --json balance --psn-no "$1" | grep -o '"balance": *"[0-9.]*"' | grep -o '[0-9.]*"$' | tr -d '"'; }

node_start "$dir/data" || exit 1
g enroll --psn-no P1 --certno 510104198001010014 --insutype 310 --region-code 510100 --name A >/dev/null
check "enroll" 0 $?
g --call-id credit-1 credit --psn-no P1 --amount 100.00 >/dev/null; check "credit 100" 0 $?

# Backed up while the node runs, then it goes on: the backup is as of one commit.
"$admin" backup --data-dir "$dir/data" --to "$dir/backup" --region 510100 >"$dir/out"; check "backup of a live node" 0 $?
check "the copy is 0600" 600 "$(stat -c %a "$dir/backup/data.mdb")"
check "the directory is 0700" 700 "$(stat -c %a "$dir/backup")"
check "the manifest names the format" 1 "$(grep -c '^format [0-9]' "$dir/backup/MANIFEST")"
g --call-id credit-2 credit --psn-no P1 --amount 50.00 >/dev/null; check "a credit after the backup" 0 $?
"$admin" backup --data-dir "$dir/data" --to "$dir/backup" >/dev/null 2>&1; check "a backup never overwrites one" 1 $?
"$admin" verify --from "$dir/backup" >/dev/null; check "the backup verifies" 0 $?
cp -r "$dir/backup" "$dir/bad"
printf 'x' | dd of="$dir/bad/data.mdb" bs=1 seek=5000 conv=notrunc 2>/dev/null
"$admin" verify --from "$dir/bad" 2>"$dir/err" >/dev/null; check "a damaged backup is refused" 1 $?
check "... saying it does not match" 1 "$(grep -c 'does not match' "$dir/err")"
"$admin" restore --from "$dir/backup" --data-dir "$dir/data" 2>"$dir/err" >/dev/null; check "a restore never overwrites a ledger" 1 $?
check "... and says so" 1 "$(grep -c 'holds a store already' "$dir/err")"
node_stop

# The restored node: reads yes, money no, until confirmed.
"$admin" restore --from "$dir/backup" --data-dir "$dir/restored" >/dev/null; check "restore into a new directory" 0 $?
"$admin" info --data-dir "$dir/restored" | grep -q '^restored yes'; check "info says restored" 0 $?
check "info counts the people, tree by tree" 1 "$("$admin" info --data-dir "$dir/restored" | grep -cE '^persons +1 +[1-9][0-9]*$')"
check "... and the journal's entries (the credit)" 1 "$("$admin" info --data-dir "$dir/restored" | grep -cE '^journal +1 +[1-9]')"
node_start "$dir/restored" || exit 1
check "the backup's balance (before the later credit)" 100.00 "$(balance P1)"
check "health says restored" 1 "$(g health | grep -c '^restored  *yes')"
g --call-id credit-3 credit --psn-no P1 --amount 1.00 2>"$dir/err" >/dev/null; check "a credit is refused" 1 $?
check "... as STORE_RESTORED" 1 "$(grep -c 'FAILED_PRECONDITION STORE_RESTORED' "$dir/err")"
check "the balance did not move" 100.00 "$(balance P1)"
"$cli" --node "$url" --ca "$dir/pki/ca.crt" --crl "$dir/pki/crl.pem" --cert "$dir/pki/institution-H51010000001.pem" \
  confirm-restore 2>/dev/null >/dev/null; check "an institution cannot confirm" 1 $?
g confirm-restore --memo "reconciled in the test" | grep -q 'the node moves money again'; check "the operator confirms" 0 $?
g --call-id credit-4 credit --psn-no P1 --amount 1.00 >/dev/null; check "a credit now works" 0 $?
check "and moves money" 101.00 "$(balance P1)"
node_stop
node_start "$dir/restored" || exit 1
check "confirmed stays confirmed after a restart" 0 "$(g health | grep -c '^restored')"
node_stop

echo "passed=$passed failed=$failed"
[ "$failed" -eq 0 ]
