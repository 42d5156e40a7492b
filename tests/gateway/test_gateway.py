"""A hospital system (HIS) calling gongji-gateway as it calls the national platform.

The HIS half uses nothing but Python's standard library and HTTP, as an integrator
would. Balances are read on both nodes with the gongji CLI before and after each
transaction (that is the test's view, not the HIS's). Environment from test_gateway.sh.
"""
import base64
import hashlib
import http.client
import io
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.parse
import uuid
import zipfile

GW = os.environ["GW_URL"]
CD, NQ = os.environ["CD_URL"], os.environ["NQ_URL"]
PKI = os.path.join(os.environ["GW_DIR"], "pki")

failures = 0


def check(name, ok, detail=""):
    global failures
    if not ok:
        failures += 1
        print(f"FAIL {name} {detail}")


# ---- the HIS: envelope, signature, POST ----

class HIS:
    def __init__(self, code, paasid, token, first_seq=0):
        # msgid = code + time + a 4-digit sequence: two HIS programs in the same second
        # start their sequences apart.
        self.code, self.paasid, self.token, self.seq = code, paasid, token, first_seq

    def msgid(self):
        self.seq += 1
        return self.code + time.strftime("%Y%m%d%H%M%S") + "%04d" % (self.seq % 10000)

    def headers(self, ts=None, nonce=None, token=None, paasid=None):
        ts = str(int(time.time())) if ts is None else str(ts)
        nonce = nonce or uuid.uuid4().hex
        sig = hashlib.sha256((ts + (token or self.token) + nonce + ts).encode()).hexdigest()
        return {"x-tif-paasid": paasid or self.paasid, "x-tif-timestamp": ts,
                "x-tif-nonce": nonce, "x-tif-signature": sig}

    def envelope(self, infno, data, msgid=None, insuplc="510100", block="data"):
        return {"infno": infno, "msgid": msgid or self.msgid(), "mdtrtarea_admvs": "510100",
                "insuplc_admdvs": insuplc, "recer_sys_code": "FSI_LOCAL", "dev_no": "", "dev_safe_info": "",
                "cainfo": "", "signtype": "SM3", "infver": "V1.0", "opter_type": "1", "opter": "0001",
                "opter_name": "收费员", "inf_time": time.strftime("%Y-%m-%d %H:%M:%S"),
                "fixmedins_code": self.code, "fixmedins_name": "成都市第一人民医院", "sign_no": "",
                "input": {block: data}}

    def post(self, body, headers, path="/fsi/api/rsfComIfsService/callService"):
        u = urllib.parse.urlparse(GW)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
        h = {"Content-Type": "application/json;charset=utf-8"}
        h.update(headers)
        conn.request("POST", path, body=body, headers=h)
        res = conn.getresponse()
        raw = res.read()
        conn.close()
        if res.getheader("Content-Type", "").startswith("application/octet-stream"):
            return res.status, {"file": raw}
        try:
            return res.status, json.loads(raw.decode("utf-8"))
        except ValueError:
            return res.status, {"raw": raw.decode("utf-8", "replace")}

    def call(self, infno, data, msgid=None, insuplc="510100", block="data", path=None, headers=None):
        env = self.envelope(infno, data, msgid, insuplc, block)
        body = json.dumps(env, ensure_ascii=False).encode("utf-8")
        kw = {"path": path} if path else {}
        return self.post(body, headers if headers is not None else self.headers(), **kw)


# ---- the test's view: the gongji CLI on each node ----

def cli(node, region, *args):
    cert = os.path.join(PKI, f"operator-{region}-ops1.pem")
    cmd = [os.environ["CLI"], "--node", node, "--ca", os.environ["CA"], "--crl", os.environ["CRL"],
           "--cert", cert, *args]
    return subprocess.run(cmd, capture_output=True, text=True)


def balance(node, region, psn):
    r = cli(node, region, "--json", "balance", "--psn-no", psn)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)["balance"]["balance"]


def certno(base17):
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return base17 + "10X98765432"[sum(int(c) * k for c, k in zip(base17, w)) % 11]


def enroll(node, region, psn, serial, yuan):
    r = cli(node, region, "enroll", "--psn-no", psn, "--certno", certno("51010419800101" + "%03d" % serial),
            "--insutype", "310", "--region-code", region)
    check(f"enroll {psn}", r.returncode == 0, r.stderr)
    if yuan:
        r = cli(node, region, "credit", "--psn-no", psn, "--amount", yuan)
        check(f"credit {psn}", r.returncode == 0, r.stderr)


def ok(ans):
    return ans.get("infcode") == 0


def family_codes(his):
    """gongji's own codes (95xx), called by the platform for the person signed in to it."""
    app = HIS("national-app", "national-app-1", "9c8b7a6f5e4d3c2b", first_seq=7000)
    enroll(CD, "510100", "GW-N1", 4, None)
    st, a = app.call("9504", {"psn_no": "GW-P1"})
    check("9504 bindings", ok(a) and len(a["output"]["as_beneficiary"]) == 2
          and a["output"]["deduction_order"] == ["GW-S1", "GW-L1"], a)
    st, a = app.call("9503", {"psn_no": "GW-P1", "sponsors": ["GW-L1", "GW-S1"]})
    check("9503 order", ok(a) and a["output"]["sponsors"] == ["GW-L1", "GW-S1"], a)
    st, a = his.call("2207", {"psn_no": "GW-P1", "med_type": "11", "medfee_sumamt": "40.00", "psn_part_amt": "40.00",
                              "acct_used_flag": "1"})
    new_order_setl = a.get("output", {}).get("setlinfo", {}).get("setl_id", "")
    check("the new order pays: own 30.00, then Chengdu's sponsor 10.00",
          ok(a) and a["output"]["setlinfo"]["gongji_mulaid_detail"] == [
              {"psn_no": "GW-L1", "insuplc_admdvs": "510100", "amount": 10.0}], a)
    check("Chengdu's sponsor paid", balance(CD, "510100", "GW-L1") == "40.00")
    check("Nagqu's sponsor did not", balance(NQ, "540600", "GW-S1") == "100.00")
    st, a = app.call("9505", {"psn_no": "GW-P1", "begndate": "", "enddate": ""})
    recs = a.get("output", {}).get("setlinfo", [])
    check("9505 records", ok(a) and len(recs) >= 3 and any(r["revoked"] for r in recs)
          and recs[-1]["acct_mulaid_pay"] == 10.0, a)
    checked = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 8 * 3600 - 60))  # CST, a minute ago
    st, a = app.call("9501", {"psn_no": "GW-L1", "beneficiary_psn_no": "GW-N1", "relation": "child",
                              "verify_method": "face", "verify_time": checked})
    check("9501 bind", ok(a) and a["output"]["binding"]["beneficiary_psn_no"] == "GW-N1"
          and a["output"]["binding"].get("verified_by") == "national-app"
          and a["output"]["binding"].get("verify_time") == checked, a)
    st, a = app.call("9502", {"psn_no": "GW-N1", "sponsor_psn_no": "GW-L1", "beneficiary_psn_no": "GW-P1"})
    check("a person ending someone else's binding is refused", not ok(a)
          and a["gongji_status"] == "PERMISSION_DENIED", a)
    st, a = app.call("9502", {"psn_no": "GW-L1", "sponsor_psn_no": "GW-L1", "beneficiary_psn_no": "GW-N1"})
    check("9502 unbind", ok(a) and a["output"]["binding"]["end_date"] > 0, a)
    st, a = app.call("9501", {"psn_no": "GW-L1", "beneficiary_psn_no": "GW-N1", "relation": "cousin"})
    check("an unknown relation", a.get("gongji_reason") == "RELATION_INVALID", a)
    st, a = his.call("9504", {"psn_no": "GW-P1"})
    check("an institution may not call the family codes", a.get("gongji_reason") == "CALLER_NOT_ALLOWED", a)
    st, a = app.call("2207", {"psn_no": "GW-P1", "med_type": "11", "medfee_sumamt": "1.00", "psn_part_amt": "1.00",
                              "acct_used_flag": "1"})
    check("the platform may not settle", a.get("gongji_reason") == "CALLER_NOT_ALLOWED", a)
    st, a = his.call("2208", {"setl_id": new_order_setl, "psn_no": "GW-P1"})
    check("revoked: every fen back", ok(a) and (balance(CD, "510100", "GW-P1"), balance(CD, "510100", "GW-L1"))
          == ("30.00", "50.00"), a)


def statements(his):
    """3201: the institution's totals for today against gongji's (every earlier settlement
    of this test has been revoked or reversed by now)."""
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))  # China Standard Time
    st, a = his.call("2207", {"psn_no": "GW-P1", "med_type": "11", "medfee_sumamt": "5.00", "psn_part_amt": "5.00",
                              "acct_used_flag": "1"})
    setl = a.get("output", {}).get("setlinfo", {}).get("setl_id", "")
    check("2207 for the statement", ok(a), a)

    def stmt(count, acct_pay, optins="510100", end=today):
        return his.call("3201", {"insutype": "310", "clr_type": "11", "setl_optins": optins,
                                 "stmt_begndate": today, "stmt_enddate": end, "medfee_sumamt": acct_pay,
                                 "fund_pay_sumamt": "0.00", "acct_pay": acct_pay, "fixmedins_setl_cnt": count})[1]
    a = stmt(1, "5.00")
    s = a.get("output", {}).get("stmtinfo", {})
    check("3201 balanced", ok(a) and s.get("stmt_rslt") == "0" and s.get("gongji_setl_cnt") == 1
          and "revoked since: 3" in s.get("stmt_rslt_dscr", ""), a)
    check("3201 the centre has more", stmt(0, "0.00")["output"]["stmtinfo"]["stmt_rslt"] == "1")
    check("3201 the institution has more", stmt(2, "9.00")["output"]["stmtinfo"]["stmt_rslt"] == "2")
    check("3201 they differ", stmt(2, "1.00")["output"]["stmtinfo"]["stmt_rslt"] == "3")
    a = stmt(0, "0.00", optins="540600")
    check("3201 of Nagqu's settlements: none for this institution", ok(a)
          and a["output"]["stmtinfo"]["gongji_setl_cnt"] == 0, a)
    a = stmt(1, "5.00", end="2026-13-01")
    check("3201 with a bad date", a.get("gongji_reason") == "FIELD_INVALID", a)
    st, a = his.call("2208", {"setl_id": setl, "psn_no": "GW-P1"})
    check("the statement's settlement revoked", ok(a) and balance(CD, "510100", "GW-P1") == "30.00", a)


def zipped(name, text):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, text)
    return buf.getvalue()


def detail_statement(his):
    """3202 as the platform does it: 9101 uploads the detail file, 3202 compares it with
    gongji's settlements of the window, 9102 downloads the result."""
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    pay = {"psn_no": "GW-P1", "med_type": "11", "medfee_sumamt": "9.00", "acct_used_flag": "1"}
    m_a, m_b, m_c = his.msgid(), his.msgid(), his.msgid()
    a = his.call("2207", dict(pay, psn_part_amt="6.00"), msgid=m_a)[1]
    b = his.call("2207", dict(pay, psn_part_amt="4.00"), msgid=m_b)[1]
    c = his.call("2207", dict(pay, psn_part_amt="1.00"), msgid=m_c)[1]
    ids = [x.get("output", {}).get("setlinfo", {}).get("setl_id", "") for x in (a, b, c)]
    check("2207s for the detail statement", ok(a) and ok(b) and ok(c), (a, b, c))
    check("4.00 revoked", ok(his.call("2208", {"setl_id": ids[1], "psn_no": "GW-P1"})[1]))
    money_before = (balance(CD, "510100", "GW-P1"), balance(NQ, "540600", "GW-S1"), balance(CD, "510100", "GW-L1"))
    fake = "510100-20261203-9999999"
    lines = [f"{ids[0]}\tMD-A\tGW-P1\t9.00\t3.00\t6.00\t0",      # agrees
             f"{ids[1]}\tMD-B\tGW-P1\t9.00\t5.00\t4.00\t0",      # paid, then
             f"{ids[1]}\tMD-B\tGW-P1\t-\t-\t4.00\t1",            # ... refunded (bad amounts: refused below)
             f"{ids[2]}\tMD-C\tGW-P1\t9.00\t8.00\t1.50\t0",      # acct_pay differs
             f"{fake}\tMD-X\tGW-P1\t9.00\t0.00\t2.00\t0"]        # unknown to gongji

    def upload(text, as_array=False, name="detail.txt.zip"):
        raw = zipped("detail.txt", text) if name.endswith(".zip") else text.encode()
        data = list(raw) if as_array else base64.b64encode(raw).decode()
        st, ans = his.call("9101", {"in": data, "filename": name, "fixmedins_code": his.code}, block="fsUploadIn")
        check("9101 " + name, st == 200 and ok(ans) and len(ans["output"]["file_qury_no"]) == 30
              and ans["output"]["dld_endtime"] > today, ans)
        return ans.get("output", {}).get("file_qury_no", "")

    def detail(fid, count=None):
        data = {"setl_optins": "510100", "file_qury_no": fid, "stmt_begndate": today, "stmt_enddate": today,
                "medfee_sumamt": "0.00", "fund_pay_sumamt": "0.00", "cash_payamt": "0.00"}
        if count is not None:
            data["fixmedins_setl_cnt"] = count
        return his.call("3202", data)[1]

    a = detail(upload("\n".join(lines)))
    check("a bad amount names its line", not ok(a) and a["gongji_reason"] == "DETAIL_INVALID"
          and "line 3" in a["err_msg"] and "明细" in a["err_msg"], a)
    lines[2] = f"{ids[1]}\tMD-B\tGW-P1\t9.00\t5.00\t4.00\t1"
    fid = upload("\r\n".join(lines) + "\r\n", as_array=True)
    a = detail(fid, count=4)
    check("fixmedins_setl_cnt must count the file's lines", not ok(a) and a["gongji_reason"] == "DETAIL_INVALID", a)
    a = detail(fid, count=5)
    counts = a.get("output", {}).get("gongji_counts", {})
    check("3202 answered", ok(a) and counts.get("balanced") == 2 and counts.get("differ") == 1
          and counts.get("institution_more") == 1 and counts.get("gongji_more", 0) >= 3, a)
    info = a.get("output", {}).get("fileinfo", {})
    st, f = his.call("9102", {"file_qury_no": info.get("file_qury_no", ""), "filename": info.get("filename", ""),
                              "fixmedins_code": his.code}, block="fsDownloadIn")
    check("9102 answers the zip", st == 200 and "file" in f, f)
    rows = []
    if "file" in f:
        with zipfile.ZipFile(io.BytesIO(f["file"])) as z:
            rows = [r.split("\t") for r in z.read("result.txt").decode().splitlines()]
    by_id = {r[2]: r for r in rows}
    check("result.txt has ten columns", rows and all(len(r) == 10 for r in rows), rows)
    check("agreeing settlement: 0, gongji's msgid and acct_pay", by_id.get(ids[0], [""] * 10)[3:5] == [m_a, "0"]
          and by_id[ids[0]][9] == "6.00", by_id.get(ids[0]))
    check("revoked and refunded: 0", by_id.get(ids[1], [""] * 10)[4:6] == ["0", "1"], by_id.get(ids[1]))
    check("acct_pay differs: 3, gongji's 1.00", by_id.get(ids[2], [""] * 10)[4] == "3"
          and by_id[ids[2]][9] == "1.00", by_id.get(ids[2]))
    check("unknown to gongji: 2", by_id.get(fake, [""] * 10)[4] == "2", by_id.get(fake))
    # A day gongji settled nothing: every line is the institution's alone.
    quiet = dict(stmt_begndate="2026-01-02", stmt_enddate="2026-01-02")
    a = his.call("3202", {"setl_optins": "510100", "file_qury_no": fid, "medfee_sumamt": "0.00",
                          "fund_pay_sumamt": "0.00", "cash_payamt": "0.00", **quiet})[1]
    counts = a.get("output", {}).get("gongji_counts", {})
    check("3202 for a day with no settlements", ok(a) and counts.get("institution_more", 0) == 5
          and counts.get("balanced", 0) == 0 and counts.get("differ", 0) == 0
          and counts.get("gongji_more", 0) == 0, a)
    others = [r for r in rows if r[2] not in ids and r[2] != fake]
    check("the rest are gongji's only (1), all this institution's today", others and all(
        r[4] == "1" and r[2].startswith("510100-") and r[3].startswith(his.code) for r in others), others)

    # Refusals: nothing moves, nothing leaks across institutions.
    a = detail("0" * 30)
    check("unknown file_qury_no", not ok(a) and a["gongji_reason"] == "FILE_NOT_FOUND", a)
    cs = HIS("H43010000001", "cs-hospital-1", "0a1b2c3d4e5f6a7b", first_seq=5000)
    st, g = cs.call("9102", {"file_qury_no": info.get("file_qury_no", ""), "fixmedins_code": cs.code},
                    block="fsDownloadIn", insuplc="430100")
    check("another institution cannot download it", g.get("gongji_reason") == "FILE_NOT_FOUND", g)
    st, g = his.call("9101", {"in": "not base64!", "filename": "x.zip"}, block="fsUploadIn")
    check("bad Base64", g.get("gongji_reason") == "FIELD_INVALID", g)
    st, g = his.call("9101", {"in": [1, 2, 300], "filename": "x.zip"}, block="fsUploadIn")
    check("a byte over 255", g.get("gongji_reason") == "FIELD_INVALID", g)
    a = detail(upload("PK\x03\x04 damaged", name="damaged.txt"))
    check("a damaged zip", not ok(a) and a["gongji_reason"] == "FILE_INVALID", a)
    a = detail(upload("only\tfour\tfields\there\n", name="short.txt"))
    check("a short line", not ok(a) and "line 1" in a["err_msg"], a)
    big = his.envelope("9101", {"in": "A" * (9 * 1024 * 1024), "filename": "big.zip"}, block="fsUploadIn")
    st, g = his.post(json.dumps(big).encode(), his.headers())
    check("an upload over the body limit", st == 413 and g.get("gongji_reason") == "MESSAGE_TOO_LARGE", (st, g))
    money_after = (balance(CD, "510100", "GW-P1"), balance(NQ, "540600", "GW-S1"), balance(CD, "510100", "GW-L1"))
    check("reconciling moved nothing", money_after == money_before, (money_before, money_after))
    for setl in (ids[0], ids[2]):
        check("detail statement settlements revoked", ok(his.call("2208", {"setl_id": setl, "psn_no": "GW-P1"})[1]))


def main():
    his = HIS("H51010000001", "cd-hospital-1", "3f6b1c0e9d2a4b7c")
    # Chengdu: a patient with 30.00 and a local sponsor with 50.00; Nagqu: a sponsor with 100.00.
    enroll(CD, "510100", "GW-P1", 1, "30")
    enroll(CD, "510100", "GW-L1", 2, "50")
    enroll(NQ, "540600", "GW-S1", 3, "100")
    r = cli(CD, "510100", "bind", "--sponsor", "GW-L1", "--beneficiary", "GW-P1", "--relation", "child")
    check("bind local sponsor", r.returncode == 0, r.stderr)
    r = cli(NQ, "540600", "bind", "--sponsor", "GW-S1", "--beneficiary", "GW-P1",
            "--beneficiary-region", "510100", "--relation", "child")
    check("bind Nagqu sponsor", r.returncode == 0, r.stderr)
    r = cli(CD, "510100", "order", "--beneficiary", "GW-P1", "--sponsors", "GW-S1,GW-L1")
    check("order: Nagqu first", r.returncode == 0, r.stderr)

    # 9001 sign-in, 1101 person and balance.
    st, a = his.call("9001", {"opter_no": "0001", "mac": "00-11-22-33-44-55", "ip": "10.0.0.8"}, block="signIn")
    check("9001", st == 200 and ok(a) and len(a["output"]["signinoutb"]["sign_no"]) > 0, a)
    st, a = his.call("1101", {"psn_no": "GW-P1", "mdtrt_cert_type": "02", "mdtrt_cert_no": "x", "psn_cert_type": "01"})
    check("1101", st == 200 and ok(a) and a["output"]["insuinfo"][0]["balc"] == 30.0, a)

    # 2207: 100.00 bill, own part after the fund 80.00: own 30.00, Nagqu 50.00, cash 0.
    before = (balance(CD, "510100", "GW-P1"), balance(NQ, "540600", "GW-S1"), balance(CD, "510100", "GW-L1"))
    check("balances before", before == ("30.00", "100.00", "50.00"), before)
    bill = {"psn_no": "GW-P1", "mdtrt_cert_type": "02", "mdtrt_cert_no": "x", "med_type": "11",
            "medfee_sumamt": 100.00, "psn_part_amt": "80.00", "psn_setlway": "01", "mdtrt_id": "MD0001",
            "chrg_bchno": "B0001", "insutype": "310", "acct_used_flag": "1"}
    m1 = his.msgid()
    st, a = his.call("2207", bill, msgid=m1)
    s = a.get("output", {}).get("setlinfo", {})
    check("2207 answered", st == 200 and ok(a), a)
    check("2207 parts", (s.get("acct_pay"), s.get("acct_mulaid_pay"), s.get("psn_cash_pay"), s.get("balc"))
          == (80.0, 50.0, 0.0, 0.0), s)
    check("2207 medins_setl_id is the msgid", s.get("medins_setl_id") == m1, s)
    after = (balance(CD, "510100", "GW-P1"), balance(NQ, "540600", "GW-S1"), balance(CD, "510100", "GW-L1"))
    check("2207 balances", after == ("0.00", "50.00", "50.00"), after)
    # The same msgid again moves nothing and answers the same settlement.
    st, a2 = his.call("2207", bill, msgid=m1)
    check("repeated msgid answers the same", ok(a2) and a2["output"]["setlinfo"]["setl_id"] == s.get("setl_id"), a2)
    after2 = (balance(CD, "510100", "GW-P1"), balance(NQ, "540600", "GW-S1"), balance(CD, "510100", "GW-L1"))
    check("repeated msgid moves nothing", after2 == after, after2)

    # 2208 revoke: every fen back, on both nodes.
    st, a = his.call("2208", {"setl_id": s.get("setl_id", ""), "psn_no": "GW-P1", "mdtrt_id": "MD0001"})
    check("2208", ok(a) and a["output"]["setlinfo"]["acct_pay"] == 80.0
          and a["output"]["setlinfo"]["acct_mulaid_pay"] == 50.0, a)
    back = (balance(CD, "510100", "GW-P1"), balance(NQ, "540600", "GW-S1"), balance(CD, "510100", "GW-L1"))
    check("2208 balances", back == before, back)
    st, a = his.call("2208", {"setl_id": s.get("setl_id", ""), "psn_no": "GW-P1", "mdtrt_id": "MD0001"})
    check("2208 twice is refused", not ok(a) and a["gongji_reason"] == "ALREADY_REVOKED"
          and "已撤销" in a["err_msg"], a)

    # 2601: a 2207 whose answer the HIS lost is reversed by its msgid; money back.
    m2 = his.msgid()
    st, a = his.call("2207", dict(bill, psn_part_amt=20.5), msgid=m2)
    check("2207 (answer lost)", ok(a) and a["output"]["setlinfo"]["acct_pay"] == 20.5, a)
    check("own account paid", balance(CD, "510100", "GW-P1") == "9.50")
    st, a = his.call("2601", {"psn_no": "GW-P1", "omsgid": m2, "oinfno": "2207"})
    check("2601 reverses", ok(a) and a["output"]["gongji_outcome"] == "REVOKED", a)
    check("2601 balances", (balance(CD, "510100", "GW-P1"), balance(NQ, "540600", "GW-S1")) == ("30.00", "100.00"))
    # A 2207 never seen is reversed in advance: arriving later, it is refused.
    m3 = his.msgid()
    st, a = his.call("2601", {"psn_no": "GW-P1", "omsgid": m3, "oinfno": "2207"})
    check("2601 before the 2207", ok(a) and a["output"]["gongji_outcome"] == "TOMBSTONED", a)
    st, a = his.call("2207", bill, msgid=m3)
    check("2207 after its reversal is refused", not ok(a) and a["gongji_reason"] == "CALL_REVERSED", a)
    check("nothing moved", balance(CD, "510100", "GW-P1") == "30.00")

    # acct_used_flag 0: no account pays.
    st, a = his.call("2207", dict(bill, acct_used_flag="0"))
    check("acct_used_flag 0", ok(a) and a["output"]["setlinfo"]["acct_pay"] == 0
          and a["output"]["setlinfo"]["psn_cash_pay"] == 80.0, a)
    check("acct_used_flag 0 moves nothing", balance(CD, "510100", "GW-P1") == "30.00")
    # The Guangdong style: the transaction in the URL, and it must agree with the body.
    st, a = his.call("1101", {"psn_no": "GW-P1"}, path="/hsa/hgs/1101")
    check("infno in the URL", ok(a), a)
    st, a = his.call("1101", {"psn_no": "GW-P1"}, path="/hsa/hgs/2207")
    check("infno in the URL disagreeing", not ok(a) and a["gongji_reason"] == "FIELD_INVALID", a)

    # A rule refused reads as the rule: Nagqu's sponsor pays only to its floor; a bill
    # for a patient nobody knows is refused in Chinese and English.
    st, a = his.call("2207", dict(bill, psn_no="GW-NOBODY"))
    check("unknown person", not ok(a) and a["gongji_reason"] == "PERSON_NOT_FOUND"
          and "未找到" in a["err_msg"] and "PERSON_NOT_FOUND" in a["err_msg"], a)

    # Who is calling: every refusal moves nothing and is HTTP 401 with infcode -1.
    cases = {
        "wrong signature": his.headers(token="not-the-token"),
        "stale timestamp": his.headers(ts=int(time.time()) - 3600),
        "unknown paasid": his.headers(paasid="nobody"),
        "no credentials": {},
    }
    for name, h in cases.items():
        st, a = his.call("2207", bill, headers=h)
        check(f"{name} refused", st == 401 and a.get("infcode") == -1 and a.get("gongji_status") == "UNAUTHENTICATED",
              (st, a))
    h = his.headers(nonce="same-nonce-" + uuid.uuid4().hex)
    st, a = his.call("1101", {"psn_no": "GW-P1"}, headers=h)
    check("a nonce used once", ok(a), a)
    st, a = his.call("1101", {"psn_no": "GW-P1"}, headers=h)
    check("a reused nonce refused", st == 401 and a.get("gongji_reason") == "NONCE_REUSED", a)
    # Another institution's signature does not let it act as this one.
    cs = HIS("H43010000001", "cs-hospital-1", "0a1b2c3d4e5f6a7b")
    env = his.envelope("2207", bill)
    st, a = cs.post(json.dumps(env).encode(), cs.headers())
    check("fixmedins_code of another institution", not ok(a) and a["gongji_reason"] == "INSTITUTION_MISMATCH", a)
    check("refusals moved nothing", (balance(CD, "510100", "GW-P1"), balance(NQ, "540600", "GW-S1")) == ("30.00", "100.00"))

    # Bad input: each a clear infcode -1 with err_msg; the gateway keeps serving.
    bad = {
        "malformed JSON": b'{"infno": "1101", ',
        "not an object": b'[1,2,3]',
        "not UTF-8": '{"infno":"1101","opter_name":"\u6536"}'.encode("gbk"),
        "overlong body": json.dumps(dict(his.envelope("1101", {"psn_no": "GW-P1"}), pad="x" * 70000)).encode(),
    }
    for name, body in bad.items():
        st, a = his.post(body, his.headers())
        check(f"{name}", st == 200 and a.get("infcode") == -1 and a.get("err_msg"), (st, a))
    env = his.envelope("2207", bill)
    del env["msgid"]
    st, a = his.post(json.dumps(env).encode(), his.headers())
    check("missing msgid", a.get("gongji_reason") == "FIELD_MISSING" and "msgid" in a.get("err_msg", ""), a)
    st, a = his.call("2207", dict(bill, psn_part_amt={"yuan": 3}))
    check("wrong type", a.get("gongji_reason") == "FIELD_INVALID", a)
    st, a = his.call("2207", dict(bill, psn_part_amt=12.345))
    check("three decimals", a.get("gongji_reason") == "AMOUNT_INVALID", a)
    st, a = his.call("2207", dict(bill, psn_part_amt="1e400"))
    check("overflowing amount", a.get("gongji_reason") == "AMOUNT_INVALID", a)
    st, a = his.call("9999", {})
    check("unknown infno", a.get("gongji_reason") == "UNKNOWN_INFNO", a)
    check("bad input moved nothing", balance(CD, "510100", "GW-P1") == "30.00")
    st, a = his.call("1101", {"psn_no": "GW-P1"})
    check("still serving", ok(a), a)

    # HTTPS: the gateway's certificate checked against the federation CA, as an HIS would
    # check the platform's; a client that does not trust that CA gets no answer.
    u = urllib.parse.urlparse(os.environ["GW_HTTPS_URL"])
    ctx = ssl.create_default_context(cafile=os.environ["CA"])
    ctx.check_hostname = False  # the demo certificate names a region, not a host
    env = his.envelope("1101", {"psn_no": "GW-P1"})
    body = json.dumps(env).encode()
    conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=15, context=ctx)
    conn.request("POST", "/fsi/api/rsfComIfsService/callService", body=body,
                 headers=dict(his.headers(), **{"Content-Type": "application/json"}))
    res = conn.getresponse()
    a = json.loads(res.read().decode())
    conn.close()
    check("HTTPS 1101", res.status == 200 and ok(a) and a["output"]["insuinfo"][0]["balc"] == 30.0, a)
    try:
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=5, context=ssl.create_default_context())
        conn.request("POST", "/", body=body, headers=his.headers())
        conn.getresponse()
        check("a client not trusting the CA is refused", False)
    except ssl.SSLError:
        pass
    # A client certificate of the federation is a credential too: no x-tif-* headers.
    def https_with_cert(pem, infno, data, headers=None):
        c = ssl.create_default_context(cafile=os.environ["CA"])
        c.check_hostname = False
        c.load_cert_chain(os.path.join(PKI, pem))
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=15, context=c)
        env = (HIS("national-app", "", "", 8000) if pem.startswith("platform") else his).envelope(infno, data)
        conn.request("POST", "/", body=json.dumps(env).encode(), headers=headers or {"Content-Type": "application/json"})
        res = conn.getresponse()
        answer = json.loads(res.read().decode())
        conn.close()
        return res.status, answer
    st, a = https_with_cert("institution-H51010000001.pem", "1101", {"psn_no": "GW-P1"})
    check("HTTPS with the institution's certificate", st == 200 and ok(a), (st, a))
    st, a = https_with_cert("platform-national-app.pem", "9504", {"psn_no": "GW-P1"})
    check("HTTPS with the platform's certificate", st == 200 and ok(a), (st, a))
    st, a = https_with_cert("operator-510100-ops1.pem", "1101", {"psn_no": "GW-P1"})
    check("an operator's certificate is no HIS credential", st == 401 and a.get("infcode") == -1, (st, a))
    st, a = https_with_cert("institution-H43010000001.pem", "1101", {"psn_no": "GW-P1"})
    check("another institution's certificate with this one's code", st == 200
          and a.get("gongji_reason") == "INSTITUTION_MISMATCH", (st, a))

    family_codes(his)
    statements(his)
    detail_statement(his)
    print(f"gateway: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
