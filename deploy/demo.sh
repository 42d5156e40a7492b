#!/usr/bin/env bash
# Load demo people and bindings into a running local cluster and walk settlements,
# printing each command and its answer. Safe to run twice: call ids make it idempotent.
#
# Every call goes over TLS with a credential of the demo federation, made by
# deploy/cluster.sh start in $GONGJI_CLUSTER_DIR/pki, and each is made by whoever may make
# it: a region's own operator enrolls and credits its people, the platform (national-app)
# binds for the sponsor, an institution settles, the national auditor audits the cluster.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
gongji=${GONGJI_BUILD:-$root/build}/client/gongji
cluster_dir=${GONGJI_CLUSTER_DIR:-$PWD/demo-cluster}
case $cluster_dir in /*) ;; *) cluster_dir=$PWD/$cluster_dir ;; esac
pki=$cluster_dir/pki
# The CA and its revocation list for every call; the certificate says who calls.
export GONGJI_CA=$pki/ca.crt GONGJI_CRL=$pki/crl.pem
unset GONGJI_NODE GONGJI_CERT GONGJI_KEY

# A valid 18-character resident ID (GB 11643): region(6) birth(8) serial(3) + check.
certno() {
  local base=$1 w=(7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) checks=(1 0 X 9 8 7 6 5 4 3 2) sum=0 i
  for i in $(seq 0 16); do sum=$((sum + ${base:$i:1} * ${w[$i]})); done
  echo "$base${checks[$((sum % 11))]}"
}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }

# Identities (files in $pki; deploy/cluster.sh creds explains each).
OP_CS=operator-430100-ops1      # Changsha's own operator, 430100:ops1
OP_XT=operator-430300-ops1      # Xiangtan's
OP_CD=operator-510100-ops1      # Chengdu's
OP_NQ=operator-540600-ops1      # Nagqu's
OP_FZ=operator-350100-ops1      # Fuzhou's
OP_HUB=operator-430000-ops1     # Hunan's provincial operator, at the hub
AUDITOR=operator-000000-auditor # national, 000000:auditor: may read every node
HOSP_CS=institution-H43010000001 # a Changsha hospital
HOSP_CD=institution-H51010000001 # a Chengdu hospital
HOSP_FZ=institution-H35010000001 # a Fuzhou pharmacy
APP=platform-national-app       # the national app, acting for a person who signed in
for f in ca.crt crl.pem $OP_CS $OP_XT $OP_CD $OP_NQ $OP_FZ $OP_HUB $AUDITOR $HOSP_CS $HOSP_CD $HOSP_FZ $APP; do
  case $f in *.*) ;; *) f=$f.pem ;; esac
  if [ ! -f "$pki/$f" ]; then
    echo "demo: no $pki/$f: start the cluster first (deploy/cluster.sh start makes the credentials)" >&2
    exit 1
  fi
done

# as WHO ARGS...: gongji with WHO's certificate. run WHO ARGS...: the same, printed first
# (the certificate by its file name in $pki). For a person, WHO is APP:PSN_NO; none: no
# credential at all.
as() {
  local who=$1
  shift
  case $who in
    "$APP":*) "$gongji" --cert "$pki/$APP.pem" --role person --caller "${who#*:}" "$@" ;;
    none) env -u GONGJI_CA -u GONGJI_CRL "$gongji" "$@" ;;
    *) "$gongji" --cert "$pki/$who.pem" "$@" ;;
  esac
}
run() {
  local who=$1
  case $who in
    "$APP":*) printf '$ gongji --cert %s.pem --role person --caller %s %s\n' "$APP" "${who#*:}" "${*:2}" ;;
    none) printf '$ gongji %s\n' "${*:2}" ;;
    *) printf '$ gongji --cert %s.pem %s\n' "$who" "${*:2}" ;;
  esac
  as "$@"
}

# node URL per region
CS=tls+tcp://127.0.0.1:7101   # Changsha 430100: single sponsor pays, 10 per sponsor
CD=tls+tcp://127.0.0.1:7201   # Chengdu 510100: cascade, pilot
FZ=tls+tcp://127.0.0.1:7301   # Fuzhou 350100: 2000-yuan reserve floor

# The region's own operator enrolls and credits; the sponsor binds, through the platform.
enroll() { # operator url psn_no certno-base insutype region name
  as "$1" --node "$2" --call-id "demo-enroll-${3: -4}" enroll --psn-no "$3" \
    --certno "$(certno "$4")" --insutype "$5" --region-code "$6" --name "$7" >/dev/null
}
credit() { as "$1" --node "$2" --call-id "demo-credit-${3: -4}" credit --psn-no "$3" --amount "$4" >/dev/null; }
bind() { as "$APP:$2" --node "$1" --call-id "demo-bind-${2: -4}-${3: -4}" bind --sponsor "$2" --beneficiary "$3" --relation "$4" >/dev/null; }

printf 'Credentials: %s (GONGJI_CA and GONGJI_CRL exported; --cert names a file there).\n' "$pki"

say "Changsha (430100): a family of three"
note "Changsha's operator enrolls and credits them; each parent binds the child in the national app."
enroll $OP_CS $CS 4301000001 43010219780312001 310 430100 "张伟 Zhang Wei"
enroll $OP_CS $CS 4301000002 43010219800607002 310 430100 "李娜 Li Na"
enroll $OP_CS $CS 4301000003 43010220100115003 390 430100 "张小明 Zhang Xiaoming"
credit $OP_CS $CS 4301000001 5000.00
credit $OP_CS $CS 4301000002 800.00
bind $CS 4301000001 4301000003 child
bind $CS 4301000002 4301000003 child
run $OP_CS --node $CS bindings --psn-no 4301000003

say "Changsha pays from a single sponsor: the first in order with money"
run $HOSP_CS --node $CS --call-id demo-settle-cs-1 \
  settle --psn-no 4301000003 --amount 120.00 --use outpatient --institution H43010000001
run $OP_CS --node $CS balance --psn-no 4301000001

say "A sibling is refused under Changsha's policy (R2)"
enroll $OP_CS $CS 4301000004 43010219820909004 310 430100 "张强 Zhang Qiang"
run "$APP:4301000004" --node $CS --call-id demo-bind-sibling \
  bind --sponsor 4301000004 --beneficiary 4301000001 --relation sibling || true

say "Chengdu (510100) cascades across sponsors: own 30 + A 50 + B 100, paying 120"
enroll $OP_CD $CD 5101000001 51010419600101001 310 510100 "王芳 Wang Fang (patient)"
enroll $OP_CD $CD 5101000002 51010419850202002 310 510100 "陈刚 Chen Gang (son)"
enroll $OP_CD $CD 5101000003 51010419880303003 310 510100 "陈丽 Chen Li (daughter)"
credit $OP_CD $CD 5101000001 30.00
credit $OP_CD $CD 5101000002 50.00
credit $OP_CD $CD 5101000003 100.00
bind $CD 5101000002 5101000001 parent
bind $CD 5101000003 5101000001 parent
run $HOSP_CD --node $CD --call-id demo-settle-cd-1 \
  settle --psn-no 5101000001 --amount 120.00 --use inpatient --institution H51010000001

say "Fuzhou (350100) keeps 2000.00 yuan in a sponsor's account"
enroll $OP_FZ $FZ 3501000001 35010219700101001 310 350100 "林海 Lin Hai"
enroll $OP_FZ $FZ 3501000002 35010219950505002 390 350100 "林小燕 Lin Xiaoyan"
credit $OP_FZ $FZ 3501000001 2500.00
bind $FZ 3501000001 3501000002 child
run $HOSP_FZ --node $FZ --call-id demo-settle-fz-1 \
  settle --psn-no 3501000002 --amount 1000.00 --use pharmacy --institution H35010000001
run $OP_FZ --node $FZ balance --psn-no 3501000001

say "What each relative spent from Zhang Wei's account"
run $OP_CS --node $CS records --psn-no 4301000001

XT=tls+tcp://127.0.0.1:7102   # Xiangtan 430300
NQ=tls+tcp://127.0.0.1:7202   # Nagqu 540600: pilot, like Chengdu

say "Across Hunan: a Xiangtan son pays for his Changsha mother (through the Hunan hub)"
enroll $OP_CS $CS 4301000005 43010219550505005 390 430100 "刘梅 Liu Mei (Changsha)"
enroll $OP_XT $XT 4303000001 43030219800808001 310 430300 "王军 Wang Jun (Xiangtan)"
credit $OP_XT $XT 4303000001 300.00
# Sent to the mother's node: it forwards to the son's node, which decides (it owns the money).
run "$APP:4303000001" --node $CS --call-id demo-bind-xt \
  bind --sponsor 4303000001 --sponsor-region 430300 --beneficiary 4301000005 --beneficiary-region 430100 --relation parent
run $HOSP_CS --node $CS --call-id demo-settle-cs-xt \
  settle --psn-no 4301000005 --amount 88.00 --use pharmacy --institution H43010000001
sleep 0.3
note "The son checks his account in the app; Changsha's node routes the call to Xiangtan's."
run "$APP:4303000001" --node $CS --region 430300 balance --psn-no 4303000001

say "Across provinces in the pilot: a Nagqu daughter pays for her Chengdu father"
enroll $OP_CD $CD 5101000004 51010419500909004 310 510100 "赵强 Zhao Qiang (Chengdu)"
enroll $OP_NQ $NQ 5406000001 54062119820202001 310 540600 "赵兰 Zhao Lan (Nagqu)"
credit $OP_CD $CD 5101000004 20.00
credit $OP_NQ $NQ 5406000001 1000.00
run "$APP:5406000001" --node $NQ --call-id demo-bind-nq \
  bind --sponsor 5406000001 --sponsor-region 540600 --beneficiary 5101000004 --beneficiary-region 510100 --relation parent
run $HOSP_CD --node $CD --call-id demo-settle-cd-nq \
  settle --psn-no 5101000004 --amount 260.00 --use inpatient --institution H51010000001
sleep 0.3
run "$APP:5406000001" --node $CD --region 540600 balance --psn-no 5406000001

say "The cross-province wallet (R24): the Nagqu daughter sends money to her father's wallet in Chengdu"
note "Nagqu's node applies its caps: 2000 yuan a transfer, 3 a day, none from 22:00 to 06:00."
run "$APP:5406000001" --node $CD --call-id demo-wallet-big \
  wallet-transfer --sponsor 5406000001 --sponsor-region 540600 --beneficiary 5101000004 --beneficiary-region 510100 --amount 2500.00 || true
if run "$APP:5406000001" --node $CD --call-id demo-wallet-1 \
  wallet-transfer --sponsor 5406000001 --sponsor-region 540600 --beneficiary 5101000004 --beneficiary-region 510100 --amount 500.00; then
  setl=$(as "$APP:5406000001" --node $CD --call-id demo-wallet-1 --json \
    wallet-transfer --sponsor 5406000001 --sponsor-region 540600 --beneficiary 5101000004 --beneficiary-region 510100 --amount 500.00 |
    grep -o '"setl_id": *"[0-9-]*"' | grep -o '[0-9][0-9-]*')
  note "It waits in his wallet until he accepts it; then his bills use it after his own account."
  run "$APP:5101000004" --node $CD --call-id demo-wallet-accept wallet-accept --psn-no 5101000004 --setl-id "$setl" >/dev/null
  run "$APP:5101000004" --node $CD wallet --psn-no 5101000004
else
  note "(refused: in the blackout hours a transfer waits until 06:00)"
fi

say "Changsha is not in the pilot: a Chengdu sponsor cannot bind a Changsha relative (R4)"
run "$APP:5101000002" --node $CD --call-id demo-bind-refused \
  bind --sponsor 5101000002 --sponsor-region 510100 --beneficiary 4301000003 --beneficiary-region 430100 --relation parent || true

say "A person moves from Chengdu to Nagqu, and their balance goes with them (R23)"
note "Chengdu's operator lets them go: their bindings end, and Chengdu answers for them with where they went."
enroll $OP_CD $CD 5101000009 51010419750101009 310 510100 "赵敏 Zhao Min"
credit $OP_CD $CD 5101000009 300.00
run $OP_CD --node $CD --call-id demo-move-1 move --psn-no 5101000009 --to-region 540600
note "Nagqu's operator takes them in: the whole balance crosses, exactly once."
run $OP_NQ --node $NQ --call-id demo-move-in-1 move-in --psn-no 5101000009 --from-region 510100
run $OP_NQ --node $NQ balance --psn-no 5101000009
run $OP_CD --node $CD balance --psn-no 5101000009 || true

say "A family pool at Changsha (R20): a mother moves part of her account into it for her family"
enroll $OP_CS $CS 4301000020 43010219780303020 310 430100 "刘芳 Liu Fang (creator)"
enroll $OP_CS $CS 4301000021 43010220100404021 390 430100 "刘小宇 Liu Xiaoyu (son, resident)"
enroll $OP_XT $XT 4303000022 43030219500505022 310 430300 "刘父 Liu's father (Xiangtan)"
credit $OP_CS $CS 4301000020 5000.00
note "She creates the pool through the app; only the part above 2000 yuan may go in."
pool_id=$(as "$APP:4301000020" --node $CS --call-id demo-pool-create --json pool-create --psn-no 4301000020 |
  grep -o '"pool_id": *"[A-Z0-9]*"' | grep -o 'POOL[0-9]*')
note "pool $pool_id"
run "$APP:4301000020" --node $CS --call-id demo-pool-in-big pool-contribute --pool "$pool_id" --psn-no 4301000020 --amount 3500.00 || true
run "$APP:4301000020" --node $CS --call-id demo-pool-in pool-contribute --pool "$pool_id" --psn-no 4301000020 --amount 3000.00 >/dev/null
note "Her son (Changsha) and her father (Xiangtan, the same province) become members."
run "$APP:4301000020" --node $CS --call-id demo-pool-son pool-add --pool "$pool_id" --psn-no 4301000021 --relation child >/dev/null
run "$APP:4301000020" --node $CS --call-id demo-pool-father   pool-add --pool "$pool_id" --psn-no 4303000022 --relation parent --member-region 430300 >/dev/null
note "The son's pharmacy bill: he has no account of his own, the pool pays."
run $HOSP_CS --node $CS --call-id demo-settle-pool   settle --psn-no 4301000021 --amount 120.00 --use pharmacy --institution H43010000001
run "$APP:4301000020" --node $CS pool --pool "$pool_id"
note "She closes the pool: what is left goes back to her account."
run "$APP:4301000020" --node $CS --call-id demo-pool-close pool-close --pool "$pool_id" >/dev/null
run "$APP:4301000020" --node $CS balance --psn-no 4301000020

say "The month's credit file at Changsha (划入): rows credited once, however often it runs"
note "A file as the office's Excel saves it: Chinese headers, an amount with a thousands separator,"
note "and a row for nobody. Each row is credited once: running it again credits nothing."
printf '序号,人员编号,划入金额,备注\r\n1,4301000001,"1,000.00",十二月划入\r\n2,4301000020,300.00,\r\n3,4301999999,10.00,\r\n' \
  > "$cluster_dir/credits-demo.csv"
run $OP_CS --node $CS credit --file "$cluster_dir/credits-demo.csv" --batch demo || true
run $OP_CS --node $CS credit --file "$cluster_dir/credits-demo.csv" --batch demo 2>/dev/null | grep -E '^(credited|credited_before) ' || true

say "Hunan's clearing at a glance, at the provincial hub (docs/clearing.md)"
note "The hub asks each Hunan region's node for its totals this month and sets them side by side."
month=$(date +%Y-%m)
run $OP_HUB --node tls+tcp://127.0.0.1:7100 clearing --province --window "$month" \
  --csv "$cluster_dir/clearing-hunan.csv" --svg "$cluster_dir/clearing-hunan.svg" || true
note "Written: $cluster_dir/clearing-hunan.csv (3201 names) and clearing-hunan.svg (open it in a browser)."

say "Every node's books balance, and every cross-region payment appears on both sides"
note "The national auditor (000000:auditor) may read every node, and change none."
run $AUDITOR audit --cluster $CS,$XT,tls+tcp://127.0.0.1:7103,tls+tcp://127.0.0.1:7100,$CD,$NQ,$FZ || true

balance_of() { # operator url psn_no: the balance, yuan
  as "$1" --node "$2" --json balance --psn-no "$3" | grep -o '"balance": *"[0-9.]*"' | grep -o '[0-9.]*"$' | tr -d '"'
}

say "Trust at work: a call from the wrong operator, and a call with no credential"
before=$(balance_of $OP_CS $CS 4301000001)
note "Zhang Wei's balance at Changsha: $before"
note "Chengdu's operator tries to credit a Changsha account (only Changsha's own operator may):"
rc=0
out=$(run $OP_CD --node $CS --call-id demo-refused-credit credit --psn-no 4301000001 --amount 1000.00 2>&1) || rc=$?
printf '%s\n' "$out"
case $rc:$out in
  1:*"PERMISSION_DENIED OPERATOR_SCOPE"*) note "-> exit 1: Changsha's node refused it: an operator acts on their own region only" ;;
  *) note "-> exit $rc: not the refusal expected (PERMISSION_DENIED OPERATOR_SCOPE)" ;;
esac
note "A caller with no certificate at all, in plaintext to Changsha's TLS port:"
rc=0
out=$(run none --node tcp://127.0.0.1:7101 --timeout 500 health 2>&1) || rc=$?
printf '%s\n' "$out"
case $rc in
  3) note "-> exit 3: no answer: the port speaks only TLS, to holders of a federation certificate" ;;
  *) note "-> exit $rc: expected no answer (exit 3)" ;;
esac
after=$(balance_of $OP_CS $CS 4301000001)
if [ "$after" = "$before" ]; then
  note "Zhang Wei's balance is still $after: neither call moved any money."
else
  note "Zhang Wei's balance changed from $before to $after: that should not happen!"
  exit 1
fi

say "A hospital's HIS settles through the HTTP/JSON gateway, as with the national platform (docs/his.md)"
note "national 2207: POST of the JSON envelope, signed with x-tif-* headers (deploy/his-curl.sh shows how);"
note "psn_part_amt is the patient's own part after the fund; gongji pays it from personal accounts."
gw=http://127.0.0.1:7280
if curl -sf "$gw/readyz" >/dev/null 2>&1; then
  bash "$root/deploy/his-curl.sh" "$gw" cd-hospital-1 3f6b1c0e9d2a4b7c H51010000001 2207 \
    '{"data":{"psn_no":"5101000001","med_type":"11","medfee_sumamt":"50.00","psn_part_amt":"20.00","acct_used_flag":"1","mdtrt_id":"DEMO-MD-1","insutype":"310"}}' \
    H51010000001202601010000000001
else
  note "(the gateway is not running: deploy/cluster.sh start starts it)"
fi
