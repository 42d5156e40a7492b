"""/metrics, /healthz and /readyz of a node and the gateway, scraped during a settle
load through the gateway: every line is valid Prometheus text, and the counters move
by what the load did. Environment from test_gateway.sh."""
import os
import re
import sys
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import test_gateway as t  # noqa: E402  (the HIS)

NODE = os.environ["CD_PROBES"]
GW = os.environ["GW_URL"]
LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
                  r'(-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$')


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(base):
    st, body = get(base + "/metrics")
    t.check(f"{base}/metrics answers", st == 200, st)
    values = {}
    for line in body.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        if not LINE.match(line):
            t.check("a valid Prometheus line", False, repr(line))
            continue
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    return values


def main():
    for base in (NODE, GW):
        st, body = get(base + "/healthz")
        t.check(f"{base}/healthz", st == 200, (st, body))
        st, body = get(base + "/readyz")
        t.check(f"{base}/readyz", st == 200 and body.startswith("ready"), (st, body))
    settle_ok = 'gongji_calls_total{method="gongji.v1.Settlement/Settle",code="OK",reason=""}'
    settle_count = 'gongji_call_seconds_count{method="gongji.v1.Settlement/Settle"}'
    gw_ok = 'gongji_gateway_requests_total{infno="2207",code="OK"}'
    n0, g0 = scrape(NODE), scrape(GW)
    his = t.HIS("H51010000001", "cd-hospital-1", "3f6b1c0e9d2a4b7c", first_seq=5000)
    bill = {"psn_no": "GW-P1", "med_type": "11", "medfee_sumamt": "1.00", "psn_part_amt": "0.01",
            "acct_used_flag": "1", "insutype": "310"}
    answered = []

    def load():
        for _ in range(40):
            st, a = his.call("2207", bill)
            answered.append(a.get("infcode") == 0)
    worker = threading.Thread(target=load)
    worker.start()
    during = []
    while worker.is_alive():
        during.append(scrape(NODE).get(settle_ok, 0))
    worker.join()
    n1, g1 = scrape(NODE), scrape(GW)
    t.check("the load was served", answered.count(True) == 40, answered.count(True))
    t.check("Settle OK counted once per settlement", n1.get(settle_ok, 0) - n0.get(settle_ok, 0) == 40,
            (n0.get(settle_ok), n1.get(settle_ok)))
    t.check("Settle latency counted", n1.get(settle_count, 0) - n0.get(settle_count, 0) >= 40)
    t.check("the counter moved during the load", len(during) > 1 and during == sorted(during), during[:5])
    t.check("the gateway counted the 2207s", g1.get(gw_ok, 0) - g0.get(gw_ok, 0) == 40,
            (g0.get(gw_ok), g1.get(gw_ok)))
    t.check("the map is measured", 0 < n1.get("gongji_store_map_used_bytes", 0) <= n1.get("gongji_store_map_size_bytes", 0))
    t.check("the Nagqu link answered", 0 <= n1.get('gongji_peer_last_answer_age_seconds{peer="54"}', -1) < 600, n1)
    t.check("commits counted", n1.get("gongji_store_commits_total", 0) > n0.get("gongji_store_commits_total", 0))
    t.check("refused callers counted", g1.get("gongji_gateway_unproven_callers_total", 0) >= 5)
    print(f"metrics: {t.failures} failures")
    return 1 if t.failures else 0


if __name__ == "__main__":
    sys.exit(main())
