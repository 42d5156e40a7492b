#!/usr/bin/env bash
# deploy/pki.sh: the CA, a cert+key per role, idempotent issue, refused ids, revoke and the
# CRL, the cluster set, list, and parallel calls on one directory. Needs only openssl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pki_sh=${GONGJI_PKI:-$here/../../deploy/pki.sh}
[ -f "$pki_sh" ] || { echo "FAIL - no pki.sh at $pki_sh" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/gongji-pki-XXXXXX")
trap 'rm -rf "$work"' EXIT
ca=$work/ca

ok() { echo "ok - $1"; }
fail() { echo "FAIL - $1" >&2; exit 1; }
pki() { bash "$pki_sh" "$@"; }
mode_of() { stat -c %a "$1"; }
digest() { sha256sum "$@" | cut -d' ' -f1; }
# run WANT_RC WHAT ARGS...: pki.sh ARGS must exit WANT_RC; its output is left in $out/$err.
run() {
  local want=$1 what=$2 rc=0
  shift 2
  pki "$@" >"$work/out" 2>"$work/err" || rc=$?
  out=$(cat "$work/out") err=$(cat "$work/err")
  [ "$rc" = "$want" ] || fail "$what: exit $rc, want $want (stdout: $out; stderr: $err)"
}
# verify DIR CERT: openssl's verdict against the CA and the current CRL. It exits non-zero on
# a refusal, so grep its output from a here-string: in a pipe, pipefail would fail the check.
verify() {
  openssl verify -CAfile "$1/ca.crt" -crl_check -CRLfile "$1/crl.pem" "$2" 2>&1
}
snapshot() { (cd "$1" && find . -type f ! -name .lock -exec sha256sum {} + | sort); }

# ---- init
run 0 "init" init "$ca"
for f in ca.crt ca.key crl.pem; do [ -f "$ca/$f" ] || fail "init made no $f"; done
[ "$(mode_of "$ca")" = 700 ] || fail "CA dir mode $(mode_of "$ca"), want 700"
[ "$(mode_of "$ca/ca.key")" = 600 ] || fail "ca.key mode $(mode_of "$ca/ca.key"), want 600"
ok "init makes ca.crt, ca.key (0600), crl.pem in a 0700 dir"
catext=$(openssl x509 -in "$ca/ca.crt" -noout -text)
[ "$(openssl x509 -in "$ca/ca.crt" -noout -subject -nameopt RFC2253)" = "subject=CN=gongji federation CA,O=gongji" ] ||
  fail "CA subject: $(openssl x509 -in "$ca/ca.crt" -noout -subject -nameopt RFC2253)"
grep -A1 'Basic Constraints: critical' <<<"$catext" | grep -q 'CA:TRUE' || fail "CA lacks critical CA:TRUE"
grep -A1 'Key Usage: critical' <<<"$catext" | grep -q 'Certificate Sign, CRL Sign' || fail "CA key usage"
grep -q 'ASN1 OID: prime256v1' <<<"$catext" || fail "CA key is not P-256"
grep -q 'Signature Algorithm: ecdsa-with-SHA256' <<<"$catext" || fail "CA not signed ecdsa-with-SHA256"
ok "CA cert: subject, critical CA:TRUE, keyCertSign+cRLSign, P-256, ecdsa-with-SHA256"
before=$(digest "$ca/ca.crt" "$ca/ca.key")
run 0 "second init" init "$ca"
[ "$(digest "$ca/ca.crt" "$ca/ca.key")" = "$before" ] || fail "second init changed the CA"
grep -qi 'already' <<<"$out" || fail "second init did not say the CA exists: $out"
ok "init twice leaves the CA unchanged"

# ---- issue, one identity per role
check_leaf() { # check_leaf ROLE ID: files, modes, subject, chain, key
  local role=$1 id=$2 base text
  base=$ca/$role-${id//:/-}
  run 0 "issue $role $id" issue "$ca" "$role" "$id"
  [ "$out" = "$base.crt" ] || fail "issue $role $id printed '$out', want $base.crt"
  for f in crt key pem; do [ -f "$base.$f" ] || fail "$base.$f missing"; done
  for f in key pem; do [ "$(mode_of "$base.$f")" = 600 ] || fail "$base.$f mode $(mode_of "$base.$f")"; done
  [ "$(openssl x509 -in "$base.crt" -noout -subject -nameopt sep_comma_plus_space)" = "subject=O=gongji, OU=$role, CN=$id" ] ||
    fail "$role $id subject: $(openssl x509 -in "$base.crt" -noout -subject -nameopt sep_comma_plus_space)"
  [ "$(verify "$ca" "$base.crt")" = "$base.crt: OK" ] || fail "$role $id does not verify: $(verify "$ca" "$base.crt")"
  openssl pkey -in "$base.key" -noout -text 2>/dev/null | grep -q 'ASN1 OID: prime256v1' || fail "$role $id key is not P-256"
  [ "$(openssl x509 -in "$base.crt" -noout -pubkey)" = "$(openssl pkey -in "$base.key" -pubout)" ] ||
    fail "$role $id key does not match its cert"
  cmp -s "$base.pem" <(cat "$base.crt" "$base.key") || fail "$role $id .pem is not cert then key"
  [ "$(openssl pkey -in "$base.pem" -pubout)" = "$(openssl x509 -in "$base.pem" -noout -pubkey)" ] ||
    fail "$role $id .pem: key and cert do not match"
  text=$(openssl x509 -in "$base.crt" -noout -text)
  grep -q 'ASN1 OID: prime256v1' <<<"$text" || fail "$role $id cert: no ASN1 OID: prime256v1"
  grep -q 'Signature Algorithm: ecdsa-with-SHA256' <<<"$text" || fail "$role $id cert: not ecdsa-with-SHA256"
  grep -q 'CA:FALSE' <<<"$text" || fail "$role $id cert: no CA:FALSE"
  grep -A1 'Key Usage: critical' <<<"$text" | grep -q 'Digital Signature, Key Agreement' || fail "$role $id key usage"
  grep -q 'TLS Web Server Authentication, TLS Web Client Authentication' <<<"$text" || fail "$role $id EKU"
  grep -q 'Subject Key Identifier' <<<"$text" || fail "$role $id cert: no SKI"
  grep -q 'Authority Key Identifier' <<<"$text" || fail "$role $id cert: no AKI"
  ok "issue $role $id: .crt/.key/.pem, subject O=gongji, OU=$role, CN=$id, verifies, P-256 key matches"
}
check_leaf node 430100
check_leaf operator 430100:ops1
check_leaf institution H43010000001
check_leaf platform national-app
check_leaf node 430000

before=$(snapshot "$ca")
run 0 "issue again" issue "$ca" node 430100
[ "$out" = "$ca/node-430100.crt" ] || fail "issue again printed '$out'"
[ "$(snapshot "$ca")" = "$before" ] || fail "issuing an existing identity changed DIR"
ok "issuing the same identity twice returns the same file and writes nothing"

old_serial=$(openssl x509 -in "$ca/operator-430100-ops1.crt" -noout -serial)
cp "$ca/operator-430100-ops1.crt" "$work/old-ops1.crt"
run 0 "issue --force" issue "$ca" operator 430100:ops1 --force
[ "$(openssl x509 -in "$ca/operator-430100-ops1.crt" -noout -serial)" != "$old_serial" ] || fail "--force kept the serial"
[ "$(verify "$ca" "$work/old-ops1.crt")" = "$work/old-ops1.crt: OK" ] || fail "--force revoked the old cert"
ok "--force issues a new cert and the old one stays valid"

run 0 "issue --days" issue "$ca" platform short-lived --days 3
openssl x509 -in "$ca/platform-short-lived.crt" -noout -checkend $((4 * 86400)) >/dev/null &&
  fail "--days 3 cert outlives 4 days"
openssl x509 -in "$ca/platform-short-lived.crt" -noout -checkend $((2 * 86400)) >/dev/null ||
  fail "--days 3 cert expires within 2 days"
ok "issue --days 3 sets notAfter"

# ---- refused ids: exit 2, nothing written
long33=$(printf 'a%.0s' $(seq 33))
bad=(node:43010 node:4301000 node:43010a node: "node:430 100"
  operator:430100 operator:430100: operator:43010:ops1 operator:ops1 "operator:430100:ops 1"
  "operator:430100:ops/1" "operator:430100:$long33" operator:430100:ops1:x
  institution:h43010000001 institution:H institution:1H430 institution:H4301-0001 "institution:H$long33"
  platform:National-App platform:national_app platform:national.app "platform:$long33" platform:
  admin:430100)
before=$(snapshot "$ca")
for b in "${bad[@]}"; do
  run 2 "bad id $b" issue "$ca" "${b%%:*}" "${b#*:}"
  [ -n "$err" ] || fail "bad id $b: no message on stderr"
done
[ "$(snapshot "$ca")" = "$before" ] || fail "a refused id changed DIR"
run 2 "bad id, no DIR" issue "$work/none" node 4301
[ ! -e "$work/none" ] || fail "a refused id created DIR"
run 2 "bad cluster region" cluster "$work/none" 430100 43030
[ ! -e "$work/none" ] || fail "a refused cluster region created DIR"
run 2 "bad --days" issue "$ca" node 430100 --days 0
ok "${#bad[@]} bad ids over every role are refused with exit 2 and nothing written"
run 1 "issue without a CA" issue "$work" node 430100
ok "issue into a DIR without a CA exits 1"

# ---- revoke and the CRL
run 0 "revoke node 430100" revoke "$ca" node 430100
v=$(verify "$ca" "$ca/node-430100.crt") && fail "revoked cert still verifies: $v"
grep -q 'certificate revoked' <<<"$v" || fail "revoked cert fails for another reason: $v"
[ "$(verify "$ca" "$ca/node-430000.crt")" = "$ca/node-430000.crt: OK" ] || fail "revoke broke another cert"
ok "revoke: openssl verify -crl_check says 'certificate revoked'; another cert still verifies"
run 0 "revoke operator (two certs)" revoke "$ca" operator 430100:ops1
[ "$(grep -c '^revoked' <<<"$out")" = 2 ] || fail "revoke of a reissued identity: $out"
for c in "$work/old-ops1.crt" "$ca/operator-430100-ops1.crt"; do
  grep -q 'certificate revoked' <<<"$(verify "$ca" "$c")" || fail "$c not revoked"
done
ok "revoke revokes every valid cert of the identity (--force left two)"
run 1 "revoke unknown" revoke "$ca" institution H99999999999
[ -n "$err" ] || fail "revoke unknown: no message"
run 1 "revoke twice" revoke "$ca" node 430100
ok "revoke of an identity without a valid cert exits 1"
run 0 "issue after revoke" issue "$ca" node 430100
[ "$(verify "$ca" "$ca/node-430100.crt")" = "$ca/node-430100.crt: OK" ] || fail "reissue after revoke"
ok "issue after revoke makes a new valid cert"

run 0 "crl --days 7" crl "$ca" --days 7
next=$(date -u -d "$(openssl crl -in "$ca/crl.pem" -noout -nextupdate | cut -d= -f2)" +%s)
left=$((next - $(date -u +%s)))
[ "$left" -gt $((7 * 86400 - 300)) ] || fail "crl --days 7: nextUpdate in ${left}s"
[ "$left" -le $((7 * 86400)) ] || fail "crl --days 7: nextUpdate in ${left}s"
grep -q 'certificate revoked' <<<"$(verify "$ca" "$work/old-ops1.crt")" || fail "a fresh CRL forgot a revocation"
ok "crl --days 7 writes a CRL with nextUpdate in 7 days that keeps the revocations"

# ---- list
run 0 "list" list "$ca"
[ "$(wc -l <<<"$out")" = "$(wc -l <"$ca/index.txt")" ] || fail "list: $(wc -l <<<"$out") lines for $(wc -l <"$ca/index.txt") certs"
grep -Eq '^node +430100 +[0-9A-F]+ +[0-9-]+ [0-9:]+Z +revoked$' <<<"$out" || fail "list lacks revoked node 430100: $out"
grep -Eq '^node +430100 +[0-9A-F]+ +[0-9-]+ [0-9:]+Z +valid$' <<<"$out" || fail "list lacks the reissued node 430100: $out"
grep -Eq '^operator +430100:ops1 .* revoked$' <<<"$out" || fail "list lacks revoked operator: $out"
grep -Eq '^platform +national-app .* valid$' <<<"$out" || fail "list lacks platform: $out"
ok "list shows role, id, serial, notAfter and revoked/valid"

# ---- cluster
cl=$work/cl
run 0 "cluster" cluster "$cl" 430100 430300
[ "$(wc -l <<<"$out")" = 1 ] || fail "cluster summary is not one line: $out"
grep -q '7 certs' <<<"$out" || fail "cluster summary: $out"
for b in node-430100 node-430300 operator-430100-ops1 operator-430300-ops1 \
  institution-H43010000001 institution-H51010000001 platform-national-app; do
  for f in crt key pem; do [ -f "$cl/$b.$f" ] || fail "cluster: $b.$f missing"; done
  [ "$(verify "$cl" "$cl/$b.crt")" = "$cl/$b.crt: OK" ] || fail "cluster: $b does not verify"
done
[ "$(wc -l <"$cl/index.txt")" = 7 ] || fail "cluster issued $(wc -l <"$cl/index.txt") certs, want 7"
before=$(snapshot "$cl")
run 0 "cluster again" cluster "$cl" 430100 430300
[ "$(snapshot "$cl")" = "$before" ] || fail "cluster again changed DIR"
ok "cluster DIR 430100 430300 makes the 7 identities; again changes nothing"

# ---- concurrency: one DIR, several processes (flock)
par=$work/par
pids=()
for _ in 1 2 3; do pki init "$par" >"$work/init.$_" 2>&1 & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "parallel init failed: $(cat "$work"/init.*)"; done
[ "$(grep -l created "$work"/init.* | wc -l)" = 1 ] || fail "parallel init: $(cat "$work"/init.*)"
pids=()
for id in H43010000002 H43010000003 H43010000004 H43010000005; do
  pki issue "$par" institution "$id" >"$work/iss.$id" 2>&1 & pids+=($!)
done
for _ in 1 2; do pki issue "$par" platform par-app >"$work/iss.par-app.$_" 2>&1 & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "parallel issue failed: $(cat "$work"/iss.*)"; done
[ "$(wc -l <"$par/index.txt")" = 5 ] || fail "parallel issue: $(wc -l <"$par/index.txt") certs, want 5"
[ "$(cut -f4 "$par/index.txt" | sort -u | wc -l)" = 5 ] || fail "parallel issue: repeated serials"
for c in "$par"/*.crt; do
  [ "$c" = "$par/ca.crt" ] || [ "$(verify "$par" "$c")" = "$c: OK" ] || fail "parallel: $c does not verify"
done
ok "parallel init and issue on one DIR all succeed (one CA, 5 certs, distinct serials)"

# ---- usage
run 0 "--help" --help
grep -q 'nextUpdate' <<<"$out" || fail "--help does not warn about the CRL's nextUpdate"
run 2 "unknown command" frobnicate "$ca"
grep -q 'usage' <<<"$err" || fail "unknown command: no usage"
run 2 "no command"
run 2 "issue without ID" issue "$ca" node
run 2 "unknown option" issue "$ca" node 430100 --frob
ok "--help exits 0; unknown command, missing arguments, unknown option exit 2"
echo "all pki checks passed"
