#!/usr/bin/env bash
# Call gongji-gateway as a hospital system does, with curl: the national envelope,
# signed with the x-tif-* headers (docs/his.md).
#
#   deploy/his-curl.sh URL PAASID TOKEN FIXMEDINS_CODE INFNO INPUT-JSON [MSGID] [INSUPLC]
#
#   deploy/his-curl.sh http://127.0.0.1:7280 cd-hospital-1 3f6b1c0e9d2a4b7c H51010000001 \
#       1101 '{"data":{"psn_no":"51010000000000000001"}}'
#
# Prints the answer envelope (HIS_CURL_OUT=FILE writes the answer to FILE instead: a
# 9102 download answers the file itself). MSGID defaults to FIXMEDINS_CODE + the time +
# 4 random digits; INSUPLC (the patient's region) to 510100.
set -euo pipefail
[ $# -ge 6 ] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
url=$1 paasid=$2 token=$3 code=$4 infno=$5 input=$6
msgid=${7:-$code$(date +%Y%m%d%H%M%S)$(printf '%04d' $((RANDOM % 10000)))}
insuplc=${8:-510100}
ts=$(date +%s)
nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
sig=$(printf '%s' "$ts$token$nonce$ts" | sha256sum | cut -d' ' -f1)
body=$(cat <<JSON
{"infno":"$infno","msgid":"$msgid","mdtrtarea_admvs":"510100","insuplc_admdvs":"$insuplc",
 "recer_sys_code":"FSI_LOCAL","signtype":"SM3","infver":"V1.0","opter_type":"1","opter":"0001",
 "opter_name":"demo","inf_time":"$(date '+%Y-%m-%d %H:%M:%S')","fixmedins_code":"$code",
 "fixmedins_name":"demo","sign_no":"","input":$input}
JSON
)
curl -sS -X POST "$url/fsi/api/rsfComIfsService/callService" \
  -H 'Content-Type: application/json;charset=utf-8' \
  -H "x-tif-paasid: $paasid" -H "x-tif-timestamp: $ts" -H "x-tif-nonce: $nonce" -H "x-tif-signature: $sig" \
  --data-binary "$body" ${HIS_CURL_OUT:+-o "$HIS_CURL_OUT"}
[ -n "${HIS_CURL_OUT:-}" ] || echo
