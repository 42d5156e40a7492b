#!/usr/bin/env bash
# Run a local gongji cluster on loopback: one node per config in deploy/cluster/, every
# link TLS with the certificates of one federation CA.
#
#   deploy/cluster.sh start            start every node (skips ones already running)
#   deploy/cluster.sh stop             stop every node (SIGTERM, then wait)
#   deploy/cluster.sh status           each node: pid, URL, and its Health answer
#   deploy/cluster.sh kill REGION      kill -9 one node (crash testing)
#   deploy/cluster.sh restart REGION   start one node again
#   deploy/cluster.sh creds [WHO]      print the exports that make the CLI call as WHO:
#                                      a region code (its operator), auditor, an
#                                      institution or national-app; no WHO lists them
#
# Environment: GONGJI_CLUSTER_DIR (default ./demo-cluster) holds each node's rendered
# config, data directory, log and pid file, and pki/ (the CA and every credential, made
# on the first start by deploy/pki.sh); GONGJI_BUILD (default ./build) the binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export GONGJI_CLUSTER_DIR=${GONGJI_CLUSTER_DIR:-$PWD/demo-cluster}
case $GONGJI_CLUSTER_DIR in /*) ;; *) GONGJI_CLUSTER_DIR=$PWD/$GONGJI_CLUSTER_DIR ;; esac
build=${GONGJI_BUILD:-$root/build}
node_bin=$build/node/gongji-node
cli_bin=$build/client/gongji
gateway_bin=$build/gateway/gongji-gateway
gateway_cfg=$root/deploy/gateway/chengdu-gateway.ini
gateway_dir=$GONGJI_CLUSTER_DIR/gateway-510100
pki_sh=$root/deploy/pki.sh
pki=$GONGJI_CLUSTER_DIR/pki
configs=("$root"/deploy/cluster/*.ini)
# Besides what `pki.sh cluster` makes for every region (its node, its operator REGION:ops1,
# institutions H43010000001 and H51010000001, the platform national-app): a national
# auditor who may read every node, and an institution in Fuzhou.
extra_ids=("operator 000000:auditor" "institution H35010000001")

region_of() { sed -n 's/^region *= *//p' "$1" | head -1; }
url_of() { sed -n 's/^listen *= *//p' "$1" | head -1; }
regions() { for cfg in "${configs[@]}"; do region_of "$cfg"; done; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

pem_of() { echo "$pki/$1-${2//:/-}.pem"; } # ROLE ID

# cli_as ROLE ID ARGS...: the CLI with ROLE/ID's credential.
cli_as() {
  local role=$1 id=$2
  shift 2
  "$cli_bin" --ca "$pki/ca.crt" --crl "$pki/crl.pem" --cert "$(pem_of "$role" "$id")" "$@"
}

# The CA and every credential, made once; later starts only renew a CRL about to expire
# (past its nextUpdate, every TLS connection that checks it is refused).
ensure_pki() {
  local missing=0 r e next
  [ -f "$pki/ca.crt" ] && [ -f "$pki/crl.pem" ] || missing=1
  for r in $(regions); do
    [ -f "$(pem_of node "$r")" ] && [ -f "$(pem_of operator "$r:ops1")" ] || missing=1
  done
  for e in "${extra_ids[@]}" "institution H43010000001" "institution H51010000001" "platform national-app"; do
    # shellcheck disable=SC2086 # "ROLE ID" is two words on purpose
    [ -f "$(pem_of $e)" ] || missing=1
  done
  if [ "$missing" = 1 ]; then
    mkdir -p "$GONGJI_CLUSTER_DIR"
    # shellcheck disable=SC2046 # one region per word
    bash "$pki_sh" cluster "$pki" $(regions)
    for e in "${extra_ids[@]}"; do
      # shellcheck disable=SC2086
      bash "$pki_sh" issue "$pki" $e >/dev/null
    done
    echo "pki: federation CA and credentials in $pki (see: deploy/cluster.sh creds)"
    return
  fi
  next=$(openssl crl -in "$pki/crl.pem" -noout -nextupdate 2>/dev/null | sed 's/^nextUpdate=//')
  if [ -z "$next" ] || [ "$(date -d "$next" +%s 2>/dev/null || echo 0)" -lt $(($(date +%s) + 7 * 86400)) ]; then
    bash "$pki_sh" crl "$pki" >/dev/null
    echo "pki: crl.pem renewed (the nodes reload it)"
  fi
}

start_one() {
  local cfg=$1 region dir
  region=$(region_of "$cfg")
  dir=$GONGJI_CLUSTER_DIR/$region
  mkdir -p "$dir"
  if pid_alive "$dir/pid"; then echo "$region already running (pid $(cat "$dir/pid"))"; return; fi
  sed "s|\${GONGJI_CLUSTER_DIR}|$GONGJI_CLUSTER_DIR|g" "$cfg" > "$dir/node.ini"
  # Detached from this shell: the node outlives it and holds none of its output pipes.
  setsid "$node_bin" --config "$dir/node.ini" </dev/null >>"$dir/node.log" 2>&1 &
  echo $! > "$dir/pid"
  for _ in $(seq 1 100); do
    # Health as the region's own operator: it proves the node's certificate and the CA too.
    if cli_as operator "$region:ops1" --node "$(url_of "$cfg")" --timeout 200 health >/dev/null 2>&1; then
      printf '%-7s up   pid %-7s %s\n' "$region" "$(cat "$dir/pid")" "$(url_of "$cfg")"; return
    fi
    pid_alive "$dir/pid" || break
    sleep 0.05
  done
  echo "$region failed to start; see $dir/node.log" >&2
  tail -5 "$dir/node.log" >&2 || true
  if tail -1 "$dir/node.log" 2>/dev/null | grep -q "another store format"; then
    echo "(the demo data there was written by an older build: remove $GONGJI_CLUSTER_DIR to start the demo afresh)" >&2
  fi
  return 1
}

# The hospitals' HTTP/JSON gateway in front of Chengdu (docs/his.md).
start_gateway() {
  mkdir -p "$gateway_dir"
  if pid_alive "$gateway_dir/pid"; then echo "gateway already running (pid $(cat "$gateway_dir/pid"))"; return; fi
  sed "s|\${GONGJI_CLUSTER_DIR}|$GONGJI_CLUSTER_DIR|g" "$gateway_cfg" > "$gateway_dir/gateway.ini"
  setsid "$gateway_bin" --config "$gateway_dir/gateway.ini" </dev/null >>"$gateway_dir/gateway.log" 2>&1 &
  echo $! > "$gateway_dir/pid"
  local url
  url=$(sed -n 's/^listen *= *//p' "$gateway_cfg" | head -1)
  for _ in $(seq 1 100); do
    if curl -sf "$url/readyz" >/dev/null 2>&1; then
      printf '%-7s up   pid %-7s %s (HIS gateway, docs/his.md)\n' gateway "$(cat "$gateway_dir/pid")" "$url"; return
    fi
    pid_alive "$gateway_dir/pid" || break
    sleep 0.05
  done
  echo "the gateway failed to start; see $gateway_dir/gateway.log" >&2
  tail -5 "$gateway_dir/gateway.log" >&2 || true
  return 1
}

stop_one() {
  local region=$1 dir=$GONGJI_CLUSTER_DIR/$1
  if pid_alive "$dir/pid"; then
    kill -TERM "$(cat "$dir/pid")"
    for _ in $(seq 1 200); do pid_alive "$dir/pid" || break; sleep 0.05; done
    echo "$region stopped"
  fi
  rm -f "$dir/pid"
}

config_for() {
  for cfg in "${configs[@]}"; do [ "$(region_of "$cfg")" = "$1" ] && { echo "$cfg"; return; }; done
  echo "no config for region $1" >&2; exit 2
}

# The node URL of a region, or the Hunan hub's when no config has that region.
node_for() {
  local cfg
  for cfg in "${configs[@]}"; do [ "$(region_of "$cfg")" = "$1" ] && { url_of "$cfg"; return; }; done
  url_of "$(config_for 430000)"
}

creds_list() {
  local cfg
  echo "Credentials of the demo federation, in $pki:"
  echo "  deploy/cluster.sh creds REGION        that region's operator REGION:ops1, at its node:"
  for cfg in "${configs[@]}"; do
    printf '      %s  %-22s %s\n' "$(region_of "$cfg")" "$(sed -n 's/^name *= *//p' "$cfg" | head -1)" \
      "$(url_of "$cfg")"
  done
  cat <<'TXT'
  deploy/cluster.sh creds auditor       the national operator 000000:auditor: reads every
                                        node (audit --cluster), may change nothing
  deploy/cluster.sh creds H43010000001  an institution (also H51010000001, H35010000001):
                                        settles, revokes and reverses its own settlements
  deploy/cluster.sh creds national-app  the platform, calling for a person who signed in:
                                        gongji --role person --caller PSN_NO ...
Use one in this shell:  eval "$(deploy/cluster.sh creds 430100)"
TXT
}

creds() {
  local who=$1 role id node what
  case $who in
    auditor | 000000:auditor) role=operator id=000000:auditor node=$(node_for 430000)
      what="the national auditor 000000:auditor (reads every node)" ;;
    [0-9][0-9][0-9][0-9][0-9][0-9]) role=operator id=$who:ops1 node=$(node_for "$who")
      what="operator $who:ops1 of region $who" ;;
    [0-9][0-9][0-9][0-9][0-9][0-9]:*) role=operator id=$who node=$(node_for "${who%%:*}")
      what="operator $who" ;;
    H[0-9][0-9][0-9][0-9][0-9][0-9]*) role=institution id=$who node=$(node_for "${who:1:6}")
      what="institution $who" ;;
    national-app) role=platform id=$who node=$(node_for 430000)
      what="the platform national-app; add: --role person --caller PSN_NO" ;;
    *) echo "creds: unknown identity '$who'" >&2; creds_list >&2; exit 2 ;;
  esac
  if [ ! -f "$(pem_of "$role" "$id")" ]; then
    echo "creds: no credential $(pem_of "$role" "$id") (run: deploy/cluster.sh start," \
      "or deploy/pki.sh issue $pki $role $id)" >&2
    exit 1
  fi
  cat <<TXT
# gongji CLI as $what
export GONGJI_NODE=$node
export GONGJI_CA=$pki/ca.crt
export GONGJI_CRL=$pki/crl.pem
export GONGJI_CERT=$(pem_of "$role" "$id")
unset GONGJI_KEY
TXT
}

case ${1:-} in
  start)
    [ -x "$node_bin" ] || { echo "build first: $node_bin is missing" >&2; exit 1; }
    ensure_pki
    for cfg in "${configs[@]}"; do start_one "$cfg"; done
    [ -x "$gateway_bin" ] && start_gateway
    echo "CLI credentials: eval \"\$(deploy/cluster.sh creds 430100)\"  (deploy/cluster.sh creds lists them)" ;;
  stop)
    stop_one gateway-510100
    for cfg in "${configs[@]}"; do stop_one "$(region_of "$cfg")"; done ;;
  status)
    for cfg in "${configs[@]}"; do
      region=$(region_of "$cfg"); dir=$GONGJI_CLUSTER_DIR/$region
      if pid_alive "$dir/pid"; then
        printf '%-7s pid %-7s %-26s ' "$region" "$(cat "$dir/pid")" "$(url_of "$cfg")"
        cli_as operator "$region:ops1" --node "$(url_of "$cfg")" --timeout 500 --json health 2>&1 |
          tr -d '\n' || true
        echo
      else
        printf '%-7s down\n' "$region"
      fi
    done ;;
  kill)
    dir=$GONGJI_CLUSTER_DIR/${2:?region}
    pid_alive "$dir/pid" && kill -9 "$(cat "$dir/pid")" && echo "$2 killed (-9)"
    rm -f "$dir/pid" ;;
  restart)
    cfg=$(config_for "${2:?region}")
    ensure_pki
    start_one "$cfg" ;;
  creds)
    if [ -n "${2:-}" ]; then creds "$2"; else creds_list; fi ;;
  *)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
