#!/usr/bin/env bash
# gongji-gateway against real nodes over TLS, called the way a hospital system calls
# the national platform: HTTP POST of the JSON envelope with x-tif-* signatures. Two
# regions (Chengdu 510100, Nagqu 540600, in the cross-province pilot) and a gateway in
# front of Chengdu; test_gateway.py is the HIS (Python standard library only) and checks
# balances on both nodes with the gongji CLI before and after each transaction.
set -uo pipefail
node_bin=${GONGJI_NODE_BIN:?} cli=${GONGJI_CLI_BIN:?} pki=${GONGJI_PKI:?} gateway_bin=${GONGJI_GATEWAY_BIN:?}
here=$(cd "$(dirname "$0")" && pwd)
unset GONGJI_NODE GONGJI_CA GONGJI_CERT GONGJI_KEY GONGJI_CRL
dir=$(mktemp -d /tmp/gongji-gateway-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [ -n "${GONGJI_KEEP_TEST_DIRS:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT

bash "$pki" cluster "$dir/pki" 510100 540600 >/dev/null || { echo "pki.sh cluster failed"; exit 1; }
ca=$dir/pki/ca.crt crl=$dir/pki/crl.pem
# shellcheck source=tests/cluster/ports.sh
. "$here/../cluster/ports.sh"

cd_port=$(free_port) nq_port=$(free_port) gw_port=$(free_port) probe_port=$(free_port) gws_port=$(free_port)
cd_url=tls+tcp://127.0.0.1:$cd_port nq_url=tls+tcp://127.0.0.1:$nq_port

node_config() { # REGION URL PEER-PREFIX PEER-URL [NODE-LINE]
  cat > "$dir/$1.ini" <<INI
[node]
${5:-}
region = $1
listen = $2
data_dir = $dir/$1-data
log_file = $dir/$1.log
tls_ca = $ca
tls_cert = $dir/pki/node-$1.pem
tls_crl = $crl
[policy]
live = yes
cascade = yes
cross_province_pilot = yes
[peers]
$3 = $4
INI
}
node_config 510100 "$cd_url" 54 "$nq_url" "probes_listen = http://127.0.0.1:$probe_port"
node_config 540600 "$nq_url" 51 "$cd_url"

op() { local region=$1; shift; "$cli" --ca "$ca" --crl "$crl" --cert "$dir/pki/operator-$region-ops1.pem" "$@"; }
for r in 510100 540600; do
  "$node_bin" --config "$dir/$r.ini" & pids+=($!)
done
for r in 510100 540600; do
  url=$cd_url; [ $r = 540600 ] && url=$nq_url
  up=0
  for _ in $(seq 1 100); do
    op $r --node "$url" --timeout 300 health >/dev/null 2>&1 && { up=1; break; }
    sleep 0.05
  done
  [ $up = 1 ] || { echo "node $r did not start"; tail -5 "$dir/$r.log"; exit 1; }
done

cat > "$dir/gateway.ini" <<INI
[gateway]
listen = http://127.0.0.1:$gw_port
insecure_plaintext = yes
node = $cd_url
tls_ca = $ca
tls_crl = $crl
region = 510100
workers = 4
clock_skew_s = 300
log_file = $dir/gateway.log
log_level = debug

[institution H51010000001]
paasid = cd-hospital-1
token = 3f6b1c0e9d2a4b7c
credential = $dir/pki/institution-H51010000001.pem

[platform national-app]
paasid = national-app-1
token = 9c8b7a6f5e4d3c2b
credential = $dir/pki/platform-national-app.pem

[institution H43010000001]
paasid = cs-hospital-1
token = 0a1b2c3d4e5f6a7b
credential = $dir/pki/institution-H43010000001.pem
INI
# The same over HTTPS, with a certificate of the federation CA (here Chengdu's node's).
sed -e "s|^listen = .*|listen = https://127.0.0.1:$gws_port\ntls_cert = $dir/pki/node-510100.pem|" \
    -e "s|^log_file = .*|log_file = $dir/gateway-https.log|" -e '/^insecure_plaintext = /d' "$dir/gateway.ini" \
    > "$dir/gateway-https.ini"
"$gateway_bin" --config "$dir/gateway-https.ini" & pids+=($!)
# A config the gateway must refuse at start, each with the reason in one line.
refuse_config() { # NAME EXPECTED-EXIT PATTERN: $dir/bad.ini
  local out rc
  out=$(timeout 10 "$gateway_bin" --config "$dir/bad.ini" 2>&1); rc=$?
  if [ "$rc" != "$2" ] || ! grep -q "$3" <<<"$out$(cat "$dir/bad.log" 2>/dev/null)"; then
    echo "FAIL config $1: exit $rc, $out"; config_failed=1
  fi
  rm -f "$dir/bad.log"
}
config_failed=0
sed -e 's/^clock_skew_s = 300$/clock_skew_s = 300\nnonces = 3000/' -e "s|^log_file = .*|log_file = $dir/bad.log|" \
  "$dir/gateway.ini" > "$dir/bad.ini"
refuse_config "nonces not a power of two" 2 "nonces must be a power of two"
sed -e 's/^workers = 4$/wokers = 4/' "$dir/gateway.ini" > "$dir/bad.ini"
refuse_config "unknown key" 2 "unknown key 'wokers'"
sed -e '/^node = /d' "$dir/gateway.ini" > "$dir/bad.ini"
refuse_config "no node" 2 "needs listen, node and region"
# Plain HTTP only when the config says so.
sed -e '/^insecure_plaintext = /d' "$dir/gateway.ini" > "$dir/bad.ini"
refuse_config "http:// without insecure_plaintext" 2 "would answer HIS in clear text"
if "$gateway_bin" --config "$dir/bad.ini" --check >/dev/null 2>&1; then echo "FAIL --check took http:// without insecure_plaintext"; config_failed=1; fi
if ! "$gateway_bin" --config "$dir/gateway-https.ini" --check | grep -q 'is fine'; then
  echo "FAIL --check of the HTTPS config"; config_failed=1
fi
# An institution given another institution's credential is refused: the node would
# see the other one.
sed -e "s|institution-H51010000001.pem|institution-H43010000001.pem|" -e "s|^log_file = .*|log_file = $dir/bad.log|" \
  "$dir/gateway.ini" > "$dir/bad.ini"
refuse_config "another institution's credential" 1 "is INSTITUTION H43010000001, not INSTITUTION H51010000001"
"$gateway_bin" --config "$dir/bad.ini" --check >/dev/null 2>"$dir/check.err"; check_rc=$?
if [ "$check_rc" != 1 ] || ! grep -q "is INSTITUTION H43010000001, not INSTITUTION H51010000001" "$dir/check.err"; then
  echo "FAIL --check of another institution's credential: exit $check_rc, $(cat "$dir/check.err")"; config_failed=1
fi

"$gateway_bin" --config "$dir/gateway.ini" & pids+=($!)
gw_url=http://127.0.0.1:$gw_port
for _ in $(seq 1 100); do
  curl -sf "$gw_url/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done

export GW_HTTPS_URL=https://127.0.0.1:$gws_port GW_URL=$gw_url GW_DIR=$dir CD_PROBES=http://127.0.0.1:$probe_port CD_URL=$cd_url NQ_URL=$nq_url CLI=$cli CA=$ca CRL=$crl
python3 "$here/test_gateway.py"
rc=$?
# Plain HTTP is said at start and in /metrics; HTTPS is not.
if [ "$(grep -c 'WARN .*insecure_plaintext = yes: HIS requests and answers cross the network unencrypted' "$dir/gateway.log")" != 1 ] ||
   grep -q 'unencrypted' "$dir/gateway-https.log"; then
  echo "FAIL the plaintext warning: once in gateway.log, never in gateway-https.log"; rc=1
fi
if ! curl -sf "$gw_url/metrics" | grep -qx 'gongji_gateway_insecure_plaintext 1' ||
   ! curl -sfk "https://127.0.0.1:$gws_port/metrics" | grep -qx 'gongji_gateway_insecure_plaintext 0'; then
  echo "FAIL gongji_gateway_insecure_plaintext: 1 over http, 0 over https"; rc=1
fi
# The client that did not trust the CA broke its handshake off: libmicrohttpd's word on it
# is a line of the gateway's log, not bare text on its stderr.
if ! grep -q ' http ' "$dir/gateway-https.log"; then
  echo "FAIL no http line about the broken handshake in gateway-https.log:"; tail -5 "$dir/gateway-https.log"; rc=1
fi
# The same with curl (deploy/his-curl.sh, which docs/his.md shows): GW-P1 has 30.00.
his=$here/../../deploy/his-curl.sh
curl_check() { # NAME PATTERN ANSWER
  if printf '%s' "$3" | grep -q "$2"; then :; else echo "FAIL curl $1: no $2 in $3"; rc=1; fi
}
a=$(bash "$his" "$gw_url" cd-hospital-1 3f6b1c0e9d2a4b7c H51010000001 1101 '{"data":{"psn_no":"GW-P1"}}')
curl_check 1101 '"balc":30.00' "$a"
a=$(bash "$his" "$gw_url" cd-hospital-1 3f6b1c0e9d2a4b7c H51010000001 2207 \
  '{"data":{"psn_no":"GW-P1","med_type":"11","medfee_sumamt":"12.00","psn_part_amt":"10.00","acct_used_flag":"1","mdtrt_id":"MD9","insutype":"310"}}')
curl_check 2207 '"acct_pay":10.00' "$a"
curl_check "2207 balc" '"balc":20.00' "$a"
setl=$(printf '%s' "$a" | grep -o '"setl_id":"[^"]*"' | head -1 | cut -d'"' -f4)
bal=$("$CLI" --node "$cd_url" --ca "$ca" --crl "$crl" --cert "$dir/pki/operator-510100-ops1.pem" balance --psn-no GW-P1)
curl_check "node balance after 2207" '20.00' "$bal"
a=$(bash "$his" "$gw_url" cd-hospital-1 3f6b1c0e9d2a4b7c H51010000001 2208 "{\"data\":{\"setl_id\":\"$setl\",\"psn_no\":\"GW-P1\"}}")
curl_check 2208 '"infcode":0' "$a"
bal=$("$CLI" --node "$cd_url" --ca "$ca" --crl "$crl" --cert "$dir/pki/operator-510100-ops1.pem" balance --psn-no GW-P1)
curl_check "node balance after 2208" '30.00' "$bal"
# Every other transaction with curl too: 9001, 2601, 3201, the 3202 files (9101, 3202,
# 9102) and a platform's own code.
h() { bash "$his" "$gw_url" cd-hospital-1 3f6b1c0e9d2a4b7c H51010000001 "$@"; }
a=$(h 9001 '{"signIn":{"opter_no":"0001","mac":"00-11-22-33-44-55","ip":"10.0.0.8"}}')
curl_check 9001 '"sign_no"' "$a"
m=H51010000001$(date +%Y%m%d%H%M%S)9901
a=$(h 2207 '{"data":{"psn_no":"GW-P1","med_type":"11","medfee_sumamt":"3.00","psn_part_amt":"3.00","acct_used_flag":"1"}}' "$m")
curl_check "2207 for 2601" '"acct_pay":3.00' "$a"
a=$(h 2601 "{\"data\":{\"psn_no\":\"GW-P1\",\"omsgid\":\"$m\",\"oinfno\":\"2207\"}}")
curl_check 2601 '"gongji_outcome":"REVOKED"' "$a"
today=$(date -u -d '+8 hours' +%F) # China Standard Time
a=$(h 3201 "{\"data\":{\"insutype\":\"310\",\"clr_type\":\"11\",\"setl_optins\":\"510100\",\"stmt_begndate\":\"$today\",\"stmt_enddate\":\"$today\",\"medfee_sumamt\":\"0\",\"fund_pay_sumamt\":\"0\",\"acct_pay\":\"0\",\"fixmedins_setl_cnt\":\"0\"}}")
curl_check 3201 '"stmt_rslt":"0"' "$a"
detail=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$setl" MD9 GW-P1 12.00 2.00 10.00 1 | base64 -w0)
a=$(h 9101 "{\"fsUploadIn\":{\"in\":\"$detail\",\"filename\":\"detail.txt\",\"fixmedins_code\":\"H51010000001\"}}")
curl_check 9101 '"file_qury_no"' "$a"
fid=$(printf '%s' "$a" | grep -o '"file_qury_no":"[^"]*"' | cut -d'"' -f4)
a=$(h 3202 "{\"data\":{\"setl_optins\":\"510100\",\"file_qury_no\":\"$fid\",\"stmt_begndate\":\"$today\",\"stmt_enddate\":\"$today\"}}")
curl_check 3202 '"fileinfo"' "$a"
rid=$(printf '%s' "$a" | grep -o '"file_qury_no":"[^"]*"' | cut -d'"' -f4)
HIS_CURL_OUT=$dir/result.zip h 9102 "{\"fsDownloadIn\":{\"file_qury_no\":\"$rid\",\"filename\":\"r.zip\",\"fixmedins_code\":\"H51010000001\"}}"
row=$(python3 -c 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("result.txt").decode())' "$dir/result.zip" 2>&1 | grep -F "$setl" || true)
curl_check "9102 result for the revoked settlement" "$(printf '\t0\t1\t')" "$row"
a=$(bash "$his" "$gw_url" national-app-1 9c8b7a6f5e4d3c2b national-app 9504 '{"data":{"psn_no":"GW-P1"}}')
curl_check 9504 '"deduction_order"' "$a"
# Metrics and probes of the node and the gateway, scraped during a settle load.
python3 "$here/check_metrics.py" || rc=1
# The gateway's log names no person: neither psn_no nor ID numbers appear in it.
if grep -qE 'GW-P1|GW-S1|GW-N1' "$dir/gateway.log"; then
  echo "FAIL the gateway log names a person"; rc=1
fi
# A gateway NAME on PORT in front of Nagqu's node, with WORKERS places and calls bounded
# by TIMEOUT_MS; started, and up.
nagqu_gateway() { # NAME PORT WORKERS TIMEOUT_MS
  sed -e "s|^listen = .*|listen = http://127.0.0.1:$2|" -e "s|^node = .*|node = $nq_url|" \
      -e "s/^workers = 4\$/workers = $3\ncall_timeout_ms = $4/" -e "s|^log_file = .*|log_file = $dir/gateway-$1.log|" \
      "$dir/gateway.ini" > "$dir/gateway-$1.ini"
  "$gateway_bin" --config "$dir/gateway-$1.ini" & pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
}
# A balance (1101) of a Nagqu person through the gateway on PORT.
ask_nagqu() { # PORT
  bash "$his" "http://127.0.0.1:$1" cd-hospital-1 3f6b1c0e9d2a4b7c H51010000001 1101 \
    '{"data":{"psn_no":"GW-S1"}}' '' 540600
}
# A request waits for one of `workers` places at most call_timeout_ms. With one worker
# and Nagqu's node stopped, three requests at once cannot all be answered in time: the
# ones that wait too long get 503 OVERLOADED.
busy_port=$(free_port)
nagqu_gateway busy "$busy_port" 1 500
kill -STOP "${pids[1]}"
asked=()
for i in 1 2 3; do ask_nagqu "$busy_port" > "$dir/busy-$i.json" 2>&1 & asked+=($!); done
for p in "${asked[@]}"; do wait "$p"; done
kill -CONT "${pids[1]}"
overloaded=$(grep -l '"gongji_reason":"OVERLOADED"' "$dir"/busy-*.json | wc -l)
[ "$overloaded" -ge 1 ] || { echo "FAIL no request was told OVERLOADED: $(cat "$dir"/busy-*.json)"; rc=1; }
# Stopped with SIGTERM it exits 0 within a few seconds.
kill -TERM "${pids[-1]}"
for _ in $(seq 1 100); do kill -0 "${pids[-1]}" 2>/dev/null || break; sleep 0.05; done
if kill -0 "${pids[-1]}" 2>/dev/null; then echo "FAIL the gateway did not stop"; rc=1; fi
wait "${pids[-1]}"; gw_rc=$?
[ $gw_rc = 0 ] || { echo "FAIL the gateway exited $gw_rc"; rc=1; }
# It stops as quickly with its node hung: eight connections, each with a call the
# stopped node never answered, are closed together, not one after another (each close
# waits up to a second for answers still due, and one for its reconnection).
hung_port=$(free_port)
nagqu_gateway hung "$hung_port" 8 700
eight_at_once() {
  asked=()
  for i in $(seq 1 8); do ask_nagqu "$hung_port" > /dev/null 2>&1 & asked+=($!); done
  for p in "${asked[@]}"; do wait "$p"; done
}
eight_at_once
kill -STOP "${pids[1]}"
eight_at_once
links=$(grep -c 'reason=NO_ANSWER' "$dir/gateway-hung.log")
[ "$links" -ge 2 ] || { echo "FAIL the hung node's gateway saw $links unanswered calls, not 2 or more"; rc=1; }
t0=$(date +%s%N)
kill -TERM "${pids[-1]}"
for _ in $(seq 1 200); do kill -0 "${pids[-1]}" 2>/dev/null || break; sleep 0.05; done
took_ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "${pids[1]}"
if kill -0 "${pids[-1]}" 2>/dev/null; then echo "FAIL the gateway of a hung node did not stop in 10 s"; rc=1; fi
wait "${pids[-1]}"; gw_rc=$?
[ $gw_rc = 0 ] || { echo "FAIL the gateway of a hung node exited $gw_rc"; rc=1; }
echo "gateway of a hung node ($links unanswered calls) stopped in $took_ms ms"
[ "$took_ms" -le 4500 ] || { echo "FAIL the gateway of a hung node took $took_ms ms to stop (at most 4500)"; rc=1; }
[ $rc = 0 ] || { echo "gateway log ends:"; tail -20 "$dir/gateway.log"; }
[ "$config_failed" = 0 ] || rc=1
exit $rc
