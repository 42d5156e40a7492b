#!/usr/bin/env bash
# gongji federation certificate authority: one CA, one EC P-256 cert+key per identity.
# The identity is the subject O=gongji, OU=<role>, CN=<id>; nng (mbedTLS) and the
# application both use the same cert+key. Run `pki.sh --help` for the commands.
set -euo pipefail
umask 077
export LC_ALL=C # ASCII ranges in the id patterns, stable openssl messages

usage() {
  cat <<'EOF'
usage: pki.sh COMMAND DIR [ARGS]

  init DIR                          create the CA in DIR (mode 0700); no-op if it exists
  issue DIR ROLE ID [--days N] [--force]
                                    new key+cert for ROLE/ID (default 825 days); prints the
                                    .crt path; reuses a valid cert unless --force
  revoke DIR ROLE ID                revoke every valid cert of ROLE/ID, rewrite crl.pem
  crl DIR [--days N]                rewrite crl.pem (nextUpdate in N days, default 90)
  cluster DIR REGION...             init if needed; node + operator REGION:ops1 per region,
                                    institutions H43010000001 H51010000001, platform national-app
  list DIR                          role, id, serial, notAfter, status of every issued cert

roles and ids:
  node         6-digit region code            430100
  operator     REGION:NAME, NAME [A-Za-z0-9_-]{1,32}   430100:ops1
  institution  [A-Z][A-Z0-9]{1,31}            H43010000001
  platform     [a-z0-9-]{1,32}                national-app

Files for ROLE/ID: DIR/ROLE-ID.key, .crt and .pem (cert then key, nng's cert-key-file),
with ':' in ID written as '-'. Give peers DIR/ca.crt and DIR/crl.pem.

The CRL expires: once crl.pem is past its nextUpdate, mbedTLS (nng's TLS) refuses EVERY
connection that checks it. Run `pki.sh crl DIR` well before then and redistribute crl.pem.
EOF
}

die() { echo "pki.sh: $2" >&2; exit "$1"; }     # die STATUS MESSAGE
usage_error() { echo "pki.sh: $1" >&2; usage >&2; exit 2; }

# valid_id ROLE ID: exit 2 unless ID has ROLE's format (checked before anything is written).
valid_id() {
  local role=$1 id=$2 re
  case $role in
    node) re='^[0-9]{6}$' ;;
    operator) re='^[0-9]{6}:[A-Za-z0-9_-]{1,32}$' ;;
    institution) re='^[A-Z][A-Z0-9]{1,31}$' ;;
    platform) re='^[a-z0-9-]{1,32}$' ;;
    *) die 2 "unknown role '$role' (node, operator, institution, platform)" ;;
  esac
  [[ $id =~ $re ]] || die 2 "bad $role id '$id' (want ${re:1:${#re}-2})"
}

valid_days() { [[ $1 =~ ^[1-9][0-9]{0,4}$ ]] || die 2 "bad --days '$1' (a positive number)"; }

subject_of() { printf '/O=gongji/OU=%s/CN=%s' "$1" "$2"; }
base_of() { printf '%s/%s-%s' "$dir" "$1" "${2//:/-}"; }

# ossl ARGS...: run openssl inside DIR (the config uses paths relative to DIR, so DIR can
# be moved); its chatter is shown only when it fails.
ossl() {
  local out
  if ! out=$(cd -- "$dir" && openssl "$@" 2>&1); then
    printf '%s\n' "$out" >&2
    die 1 "openssl $1 failed in $dir"
  fi
}

# One writer per DIR: openssl ca rewrites index.txt and serial without locking them.
lock() {
  exec 9>"$dir/.lock"
  flock 9
}

has_ca() { [ -f "$dir/ca.crt" ] && [ -f "$dir/ca.key" ] && [ -f "$dir/openssl.cnf" ]; }
need_ca() { has_ca || die 1 "no CA in $dir (run: pki.sh init $dir)"; }

write_config() {
  cat >"$dir/openssl.cnf" <<'EOF'
# Written by gongji deploy/pki.sh. Paths are relative: openssl runs with DIR as its cwd.
[ ca ]
default_ca = gongji_ca
[ gongji_ca ]
database         = index.txt
new_certs_dir    = newcerts
certificate      = ca.crt
private_key      = ca.key
serial           = serial
crlnumber        = crlnumber
default_md       = sha256
default_days     = 825
default_crl_days = 90
policy           = gongji_policy
# Reissuing an identity (--force, or after a revoke) is allowed.
unique_subject   = no
# Extensions come from leaf_ext only, never from the request.
copy_extensions  = none
x509_extensions  = leaf_ext
crl_extensions   = crl_ext
email_in_dn      = no
# The subject is rebuilt in this order and anything else in the request is dropped.
[ gongji_policy ]
organizationName       = supplied
organizationalUnitName = supplied
commonName             = supplied
[ leaf_ext ]
basicConstraints       = CA:FALSE
keyUsage               = critical, digitalSignature, keyAgreement
extendedKeyUsage       = serverAuth, clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
[ ca_ext ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
[ crl_ext ]
authorityKeyIdentifier = keyid:always
[ req ]
distinguished_name = req_dn
[ req_dn ]
EOF
}

# New P-256 key in SEC1 form ("EC PRIVATE KEY", named curve), which every mbedTLS reads.
new_key() { ossl ecparam -name prime256v1 -genkey -noout -out "$1"; }

# Written aside and renamed: a node reloading crl.pem never reads half a file.
gen_crl() {
  ossl ca -config openssl.cnf -batch -gencrl -crldays "$1" -out crl.pem.tmp
  mv -f "$dir/crl.pem.tmp" "$dir/crl.pem"
}

# Called with the lock held, and never as a condition (that would switch off set -e inside).
do_init() {
  chmod 700 "$dir"
  write_config
  mkdir -p "$dir/newcerts"
  : >"$dir/index.txt"
  echo 'unique_subject = no' >"$dir/index.txt.attr"
  # Random serials: two CAs (a test dir, a rebuilt CA) never hand out the same numbers.
  printf '01%s\n' "$(openssl rand -hex 15)" >"$dir/serial"
  echo 1000 >"$dir/crlnumber"
  new_key ca.key.tmp
  ossl req -config openssl.cnf -new -x509 -sha256 -days 3650 -key ca.key.tmp \
    -subj '/O=gongji/CN=gongji federation CA' -extensions ca_ext -out ca.crt.tmp
  mv -f "$dir/ca.key.tmp" "$dir/ca.key"
  mv -f "$dir/ca.crt.tmp" "$dir/ca.crt" # last: ca.crt present means the CA is complete
  gen_crl 90
}

# status_of SERIAL: V, R or E from index.txt (empty if unknown).
status_of() { awk -F'\t' -v s="$1" '$4 == s { print $1 }' "$dir/index.txt"; }

serial_of() { openssl x509 -noout -serial -in "$1" | sed 's/^serial=//'; }

# Called with the lock held. Counts new certs in $issued.
do_issue() {
  local role=$1 id=$2 days=$3 force=$4 base tmp t
  base=$(base_of "$role" "$id")
  # Reuse only a complete set: .pem is renamed last, so it equals .crt+.key only when all
  # three files come from the same issue.
  if [ "$force" = 0 ] && [ -f "$base.crt" ] && [ -f "$base.key" ] &&
    cmp -s "$base.pem" <(cat "$base.crt" "$base.key") &&
    [ "$(status_of "$(serial_of "$base.crt")")" = V ] &&
    openssl x509 -noout -checkend 0 -in "$base.crt" >/dev/null; then
    echo "$base.crt"
    return
  fi
  tmp=$(mktemp -d "$dir/.issue.XXXXXX")
  t=${tmp##*/} # the same directory as openssl (running in DIR) names it
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf -- $(printf %q "$tmp")" EXIT
  new_key "$t/key"
  ossl req -config openssl.cnf -new -sha256 -key "$t/key" -subj "$(subject_of "$role" "$id")" \
    -out "$t/csr"
  ossl ca -config openssl.cnf -batch -notext -days "$days" -in "$t/csr" -out "$t/crt"
  cat "$tmp/crt" "$tmp/key" >"$tmp/pem"
  mv -f "$tmp/key" "$base.key"
  mv -f "$tmp/crt" "$base.crt"
  mv -f "$tmp/pem" "$base.pem"
  rm -rf "$tmp"
  trap - EXIT
  issued=$((issued + 1))
  echo "$base.crt"
}

# Serials of the certs of one subject that are still marked valid in index.txt.
valid_serials() { awk -F'\t' -v subj="$1" '$1 == "V" && $6 == subj { print $4 }' "$dir/index.txt"; }

do_revoke() {
  local role=$1 id=$2 serials s
  serials=$(valid_serials "$(subject_of "$role" "$id")")
  [ -n "$serials" ] || die 1 "$role $id has no valid cert in $dir"
  for s in $serials; do
    [ -f "$dir/newcerts/$s.pem" ] || die 1 "newcerts/$s.pem is missing; cannot revoke serial $s"
    ossl ca -config openssl.cnf -batch -revoke "newcerts/$s.pem"
    echo "revoked $role $id serial $s"
  done
  gen_crl 90
}

# index.txt: status, notAfter, revoked-at, serial, file, subject, tab-separated. notAfter
# is UTCTime (YYMMDDHHMMSSZ) or, past 2049, GeneralizedTime. The fields go through awk
# because `read` merges the adjacent tabs around an empty revoked-at.
do_list() {
  local now st exp serial subj role id t
  now=$(date -u +%Y%m%d%H%M%S)
  while IFS='|' read -r st exp serial subj; do
    [[ $subj =~ ^/O=gongji/OU=([^/]+)/CN=(.+)$ ]] || continue
    role=${BASH_REMATCH[1]} id=${BASH_REMATCH[2]}
    t=${exp%Z}
    if [ ${#t} -eq 12 ]; then t=20$t; fi
    case $st in
      R) st=revoked ;;
      *) if [[ $t < $now ]]; then st=expired; else st=valid; fi ;;
    esac
    printf '%-12s %-40s %-34s %s-%s-%s %s:%s:%sZ  %s\n' "$role" "$id" "$serial" \
      "${t:0:4}" "${t:4:2}" "${t:6:2}" "${t:8:2}" "${t:10:2}" "${t:12:2}" "$st"
  done < <(awk -F'\t' -v OFS='|' '{ print $1, $2, $4, $6 }' "$dir/index.txt")
}

# ---- arguments: COMMAND DIR, positional args, then options anywhere after DIR
cmd=${1:-}
case $cmd in
  -h | --help | help) usage; exit 0 ;;
  init | issue | revoke | crl | cluster | list) shift ;;
  '') usage_error "no command" ;;
  *) usage_error "unknown command '$cmd'" ;;
esac
[ -n "${1:-}" ] || usage_error "$cmd needs DIR"
dir=$1; shift
days='' force=0 args=()
while [ $# -gt 0 ]; do
  case $1 in
    --days) [ $# -ge 2 ] || usage_error "--days needs a value"; valid_days "$2"; days=$2; shift 2 ;;
    --force) force=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage_error "unknown option '$1'" ;;
    *) args+=("$1"); shift ;;
  esac
done
nargs() { [ "${#args[@]}" -eq "$1" ] || usage_error "$cmd: wrong number of arguments"; }
issued=0

case $cmd in
  init)
    nargs 0
    mkdir -p -- "$dir"; lock
    if has_ca; then echo "CA already exists in $dir (unchanged)"; exit 0; fi
    do_init
    echo "CA created in $dir" ;;
  issue)
    nargs 2
    valid_id "${args[0]}" "${args[1]}"
    need_ca; lock
    do_issue "${args[0]}" "${args[1]}" "${days:-825}" "$force" ;;
  revoke)
    nargs 2
    valid_id "${args[0]}" "${args[1]}"
    need_ca; lock
    do_revoke "${args[0]}" "${args[1]}" ;;
  crl)
    nargs 0
    need_ca; lock
    gen_crl "${days:-90}"
    echo "$dir/crl.pem" ;;
  cluster)
    [ "${#args[@]}" -ge 1 ] || usage_error "cluster needs at least one REGION"
    for r in "${args[@]}"; do valid_id node "$r"; done
    mkdir -p -- "$dir"; lock
    if ! has_ca; then do_init; fi
    n=0
    for r in "${args[@]}"; do
      do_issue node "$r" "${days:-825}" "$force" >/dev/null
      do_issue operator "$r:ops1" "${days:-825}" "$force" >/dev/null
      n=$((n + 2))
    done
    for i in institution:H43010000001 institution:H51010000001 platform:national-app; do
      do_issue "${i%%:*}" "${i#*:}" "${days:-825}" "$force" >/dev/null
      n=$((n + 1))
    done
    echo "cluster: $n certs in $dir ($issued new) for regions ${args[*]}" ;;
  list)
    nargs 0
    need_ca; lock
    do_list ;;
esac
