#!/usr/bin/env bash
# Run a local gongji cluster on loopback: one node per config in deploy/cluster/.
#
#   deploy/cluster.sh start            start every node (skips ones already running)
#   deploy/cluster.sh stop             stop every node (SIGTERM, then wait)
#   deploy/cluster.sh status           each node: pid, URL, and its Health answer
#   deploy/cluster.sh kill REGION      kill -9 one node (crash testing)
#   deploy/cluster.sh restart REGION   start one node again
#
# Environment: GONGJI_CLUSTER_DIR (default ./demo-cluster) holds each node's rendered
# config, data directory, log and pid file; GONGJI_BUILD (default ./build) the binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export GONGJI_CLUSTER_DIR=${GONGJI_CLUSTER_DIR:-$PWD/demo-cluster}
build=${GONGJI_BUILD:-$root/build}
node_bin=$build/node/gongji-node
cli_bin=$build/client/gongji
configs=("$root"/deploy/cluster/*.ini)

region_of() { sed -n 's/^region *= *//p' "$1" | head -1; }
url_of() { sed -n 's/^listen *= *//p' "$1" | head -1; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

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
    if "$cli_bin" --node "$(url_of "$cfg")" --timeout 200 health >/dev/null 2>&1; then
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

case ${1:-} in
  start)
    [ -x "$node_bin" ] || { echo "build first: $node_bin is missing" >&2; exit 1; }
    for cfg in "${configs[@]}"; do start_one "$cfg"; done ;;
  stop)
    for cfg in "${configs[@]}"; do stop_one "$(region_of "$cfg")"; done ;;
  status)
    for cfg in "${configs[@]}"; do
      region=$(region_of "$cfg"); dir=$GONGJI_CLUSTER_DIR/$region
      if pid_alive "$dir/pid"; then
        printf '%-7s pid %-7s %-22s ' "$region" "$(cat "$dir/pid")" "$(url_of "$cfg")"
        "$cli_bin" --node "$(url_of "$cfg")" --timeout 500 --json health | tr -d '\n'; echo
      else
        printf '%-7s down\n' "$region"
      fi
    done ;;
  kill)
    dir=$GONGJI_CLUSTER_DIR/${2:?region}
    pid_alive "$dir/pid" && kill -9 "$(cat "$dir/pid")" && echo "$2 killed (-9)"
    rm -f "$dir/pid" ;;
  restart)
    start_one "$(config_for "${2:?region}")" ;;
  *)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
