#!/usr/bin/env bash
# Load demo people and bindings into a running local cluster and walk settlements,
# printing each command and its answer. Safe to run twice: call ids make it idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
gongji=${GONGJI_BUILD:-$root/build}/client/gongji

# A valid 18-character resident ID (GB 11643): region(6) birth(8) serial(3) + check.
certno() {
  local base=$1 w=(7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) checks=(1 0 X 9 8 7 6 5 4 3 2) sum=0 i
  for i in $(seq 0 16); do sum=$((sum + ${base:$i:1} * ${w[$i]})); done
  echo "$base${checks[$((sum % 11))]}"
}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ gongji %s\n' "$*"; "$gongji" "$@"; }

# node URL per region
CS=tcp://127.0.0.1:7101   # Changsha 430100: single sponsor pays, 10 per sponsor
CD=tcp://127.0.0.1:7201   # Chengdu 510100: cascade, pilot
FZ=tcp://127.0.0.1:7301   # Fuzhou 350100: 2000-yuan reserve floor

enroll() { # url psn_no certno-base insutype region name
  "$gongji" --node "$1" --call-id "demo-enroll-$2" enroll --psn-no "$2" \
    --certno "$(certno "$3")" --insutype "$4" --region-code "$5" --name "$6" >/dev/null
}
credit() { "$gongji" --node "$1" --call-id "demo-credit-$2" credit --psn-no "$2" --amount "$3" >/dev/null; }
bind() { "$gongji" --node "$1" --call-id "demo-bind-$2-$3" bind --sponsor "$2" --beneficiary "$3" --relation "$4" >/dev/null; }

say "Changsha (430100): a family of three"
enroll $CS 4301000001 43010219780312001 310 430100 "张伟 Zhang Wei"
enroll $CS 4301000002 43010219800607002 310 430100 "李娜 Li Na"
enroll $CS 4301000003 43010220100115003 390 430100 "张小明 Zhang Xiaoming"
credit $CS 4301000001 5000.00
credit $CS 4301000002 800.00
bind $CS 4301000001 4301000003 child
bind $CS 4301000002 4301000003 child
run --node $CS bindings --psn-no 4301000003

say "Changsha pays from a single sponsor: the first in order with money"
run --node $CS --role institution --caller H43010200001 --call-id demo-settle-cs-1 \
  settle --psn-no 4301000003 --amount 120.00 --use outpatient --institution H43010200001
run --node $CS balance --psn-no 4301000001

say "A sibling is refused under Changsha's policy (R2)"
enroll $CS 4301000004 43010219820909004 310 430100 "张强 Zhang Qiang"
run --node $CS --call-id demo-bind-sibling bind --sponsor 4301000004 --beneficiary 4301000001 --relation sibling || true

say "Chengdu (510100) cascades across sponsors: own 30 + A 50 + B 100, paying 120"
enroll $CD 5101000001 51010419600101001 310 510100 "王芳 Wang Fang (patient)"
enroll $CD 5101000002 51010419850202002 310 510100 "陈刚 Chen Gang (son)"
enroll $CD 5101000003 51010419880303003 310 510100 "陈丽 Chen Li (daughter)"
credit $CD 5101000001 30.00
credit $CD 5101000002 50.00
credit $CD 5101000003 100.00
bind $CD 5101000002 5101000001 parent
bind $CD 5101000003 5101000001 parent
run --node $CD --role institution --caller H51010400001 --call-id demo-settle-cd-1 \
  settle --psn-no 5101000001 --amount 120.00 --use inpatient

say "Fuzhou (350100) keeps 2000.00 yuan in a sponsor's account"
enroll $FZ 3501000001 35010219700101001 310 350100 "林海 Lin Hai"
enroll $FZ 3501000002 35010219950505002 390 350100 "林小燕 Lin Xiaoyan"
credit $FZ 3501000001 2500.00
bind $FZ 3501000001 3501000002 child
run --node $FZ --role institution --caller H35010200001 --call-id demo-settle-fz-1 \
  settle --psn-no 3501000002 --amount 1000.00 --use pharmacy
run --node $FZ balance --psn-no 3501000001

say "What each relative spent from Zhang Wei's account"
run --node $CS records --psn-no 4301000001

XT=tcp://127.0.0.1:7102   # Xiangtan 430300
NQ=tcp://127.0.0.1:7202   # Nagqu 540600: pilot, like Chengdu

say "Across Hunan: a Xiangtan son pays for his Changsha mother (through the Hunan hub)"
enroll $CS 4301000005 43010219550505005 390 430100 "刘梅 Liu Mei (Changsha)"
enroll $XT 4303000001 43030219800808001 310 430300 "王军 Wang Jun (Xiangtan)"
credit $XT 4303000001 300.00
# Sent to the mother's node: it forwards to the son's node, which decides (it owns the money).
run --node $CS --call-id demo-bind-xt --role operator \
  bind --sponsor 4303000001 --sponsor-region 430300 --beneficiary 4301000005 --beneficiary-region 430100 --relation parent
run --node $CS --role institution --caller H43010200001 --call-id demo-settle-cs-xt \
  settle --psn-no 4301000005 --amount 88.00 --use pharmacy
sleep 0.3
run --node $CS --region 430300 balance --psn-no 4303000001

say "Across provinces in the pilot: a Nagqu daughter pays for her Chengdu father"
enroll $CD 5101000004 51010419500909004 310 510100 "赵强 Zhao Qiang (Chengdu)"
enroll $NQ 5406000001 54062119820202001 310 540600 "赵兰 Zhao Lan (Nagqu)"
credit $CD 5101000004 20.00
credit $NQ 5406000001 1000.00
run --node $NQ --call-id demo-bind-nq \
  bind --sponsor 5406000001 --sponsor-region 540600 --beneficiary 5101000004 --beneficiary-region 510100 --relation parent
run --node $CD --role institution --caller H51010400001 --call-id demo-settle-cd-nq \
  settle --psn-no 5101000004 --amount 260.00 --use inpatient
sleep 0.3
run --node $CD --region 540600 balance --psn-no 5406000001

say "Changsha is not in the pilot: a Chengdu sponsor cannot bind a Changsha relative (R4)"
run --node $CD --call-id demo-bind-refused \
  bind --sponsor 5101000002 --sponsor-region 510100 --beneficiary 4301000003 --beneficiary-region 430100 --relation parent || true

say "Every node's books balance, and every cross-region payment appears on both sides"
run audit --cluster $CS,$XT,tcp://127.0.0.1:7103,tcp://127.0.0.1:7100,$CD,$NQ,$FZ || true
