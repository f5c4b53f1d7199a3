#!/bin/bash
# dashboards/: the Prometheus rules pass promtool (check and unit tests), the
# example prometheus.yml and alertmanager.yml are valid, and end to end a
# real Prometheus scraping a real connwatch that watches the buggy fixture
# loads every rule healthy, pages on the duplicate drain (and only on it),
# and answers every query of the Grafana dashboard, most with data.
. tests/lib.sh

D=dashboards
DASH=$D/connwatch.json

# ---------------------------------------------------------------- static
check "promtool check rules $D/rules/*.yml" \
	sh -c "promtool check rules $D/rules/*.yml >$TMP/check-rules.log 2>&1"
check "promtool test rules $D/rules/tests/*.yml" \
	sh -c "promtool test rules $D/rules/tests/*.yml >$TMP/test-rules.log 2>&1"
grep -q FAILED "$TMP/test-rules.log" && sed -n '/FAILED/,$p' "$TMP/test-rules.log" | head -40
check "promtool check config $D/prometheus.yml (rule files relative to it)" \
	sh -c "cd /tmp && promtool check config $PWD/$D/prometheus.yml >$TMP/check-config.log 2>&1"
if command -v amtool >/dev/null; then
	check "amtool check-config $D/alertmanager.yml (and its template)" \
		sh -c "cd /tmp && amtool check-config $PWD/$D/alertmanager.yml >$TMP/amtool.log 2>&1"
	route() { amtool config routes test --config.file="$D/alertmanager.yml" "$@" 2>/dev/null; }
	check_eq "a critical anomaly (rule or connwatch's own push) pages" \
		"$(route alertname=ConnwatchDuplicateDrain kind=duplicate_drain severity=critical target=t)/$(route alertname=connwatch_duplicate_drain kind=duplicate_drain severity=critical target=t pid=1)" \
		"pager/pager"
	check_eq "a warning goes to chat, not the pager" \
		"$(route alertname=ConnwatchDrainRearmed kind=drain_rearmed severity=warning target=t)/$(route alertname=ConnwatchDown severity=warning)" \
		"chat/chat"
else
	echo "SKIP: amtool not installed (apt-get install prometheus-alertmanager)"
fi

# Rule files: every alert has a severity and an actionable summary and
# description; the dashboard is valid JSON with the variables it needs; every
# connwatch_* metric either of them names is one connwatch exports.
python3 - "$D" >"$TMP/lint.out" 2>&1 <<'PY'
import glob, json, re, sys, yaml
d = sys.argv[1]
rules, problems = [], []
for f in sorted(glob.glob(d + "/rules/*.yml")):
    for g in yaml.safe_load(open(f))["groups"]:
        for r in g["rules"]:
            rules.append(r)
            a, n = r.get("annotations", {}), r.get("alert", r.get("record"))
            if r.get("labels", {}).get("severity") not in ("critical", "warning"):
                problems.append(n + ": severity")
            if len(a.get("summary", "")) < 20 or "Do:" not in a.get("description", ""):
                problems.append(n + ": summary/description with what to do")
dash = json.load(open(d + "/connwatch.json"))
var = {v["name"]: v for v in dash["templating"]["list"]}
if var.get("datasource", {}).get("type") != "datasource" or var["datasource"].get("query") != "prometheus":
    problems.append("no prometheus datasource variable")
for v in ("target", "pid"):
    if var.get(v, {}).get("type") != "query":
        problems.append("no %s query variable" % v)
panels = [p for p in dash["panels"] if p["type"] != "row"]
ids = [p["id"] for p in dash["panels"]]
if len(set(ids)) != len(ids):
    problems.append("duplicate panel ids")
for p in panels:
    if p["datasource"].get("uid") != "${datasource}" or not p.get("targets"):
        problems.append("panel %r: datasource/targets" % p["title"])
exprs = [t["expr"] for p in panels for t in p["targets"]]
exprs += [a["expr"] for a in dash["annotations"]["list"] if "expr" in a]
exprs += [r["expr"] for r in rules]
exported = set(re.findall(r"connwatch_[a-z_]+", open("user/metrics.c").read()))
for e in exprs:
    for m in re.findall(r"connwatch_[a-z_]+", e):
        base = re.sub(r"_(bucket|sum|count)$", "", m) if "duration" in m else m
        if base not in exported:
            problems.append("unknown metric " + m)
print("rules=%d panels=%d exprs=%d" % (len(rules), len(panels),
      len([t for p in panels for t in p["targets"]]) + len([a for a in dash["annotations"]["list"] if "expr" in a])))
for p in sorted(set(problems)):
    print("PROBLEM", p)
PY
read -r COUNTS <"$TMP/lint.out"
echo "# $COUNTS"
check "rules and dashboard lint clean (severity, 'Do:' in every description, variables, known metrics)" \
	test -z "$(grep PROBLEM "$TMP/lint.out")"
grep PROBLEM "$TMP/lint.out" | head

# ---------------------------------------------------------------- end to end
start_server buggy || exit 1
# The sockets preset too, so the connection duration histogram has data.
start_connwatch --pid "$SRV_PID" --spec "$SPEC" --preset sockets || exit 1

mkdir -p "$TMP/prom"
cat >"$TMP/prom/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $PWD/$D/rules/*.yml
scrape_configs:
  - job_name: connwatch
    static_configs:
      - targets: ["127.0.0.1:$CW_PORT"]
YML
start_prometheus "$TMP/prom/prometheus.yml" ||
	{ fail "prometheus did not start" "$(tail -3 "$TMP/prom/log")"; exit 1; }
API=http://127.0.0.1:$PROM_PORT/api/v1

# q EXPR: the instant query's values, one per line.
q() {
	curl -sfG "$API/query" --data-urlencode "query=$1" |
		python3 -c 'import json, sys
for r in json.load(sys.stdin)["data"]["result"]: print(r["value"][1])'
}
scraped() { [ "$(q 'count(connwatch_anomalies_total{job="connwatch"})')" -ge 8 ] 2>/dev/null; }
check "Prometheus scrapes connwatch (every anomaly kind from 0)" wait_for 15 scraped
sleep 2	# a few zero samples before the anomalies: increase() sees them

# The bug, as test_buggy_server.sh drives it: overlapping connections, idle
# (first drain), one more connection (re-arm), idle again: double drain.
load --connections 10 --concurrency 10 --hold-ms 300
wait_for 5 grep -qs drain_without_shutdown "$CW_LOG"
load --connections 1
{ wait "$SRV_PID"; } 2>/dev/null
check_eq "the buggy server crashed (SIGABRT)" "$?" 134
wait_for 5 grep -qs duplicate_drain "$CW_LOG"

# rule_state NAME: its state in /api/v1/rules.
rules_json() { curl -sf "$API/rules"; }
rule_state() {
	rules_json | python3 -c 'import json, sys
for g in json.load(sys.stdin)["data"]["groups"]:
    for r in g["rules"]:
        if r["name"] == sys.argv[1]: print(r["state"])' "$1"
}
# Rules loaded, how many healthy, and the alerts firing (sorted).
rules_summary() {
	rules_json | python3 -c 'import json, sys
rs = [r for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"]]
ok = [r for r in rs if r["health"] == "ok" and not r.get("lastError")]
bad = ["%s:%s:%s" % (r["name"], r["health"], r.get("lastError", "")) for r in rs if r not in ok]
print(len(rs), len(ok), " ".join(bad))'
}
firing() { [ "$(rule_state ConnwatchDuplicateDrain)" == firing ]; }
check "ConnwatchDuplicateDrain fires (for: 0m) after the crash" wait_for 15 firing
NRULES=$(grep -c '^ *- alert:' $D/rules/*.yml | awk -F: '{s += $2} END {print s}')
read -r LOADED HEALTHY BAD <<<"$(rules_summary)"
check_eq "every rule of $D/rules is loaded ($NRULES)" "$LOADED" "$NRULES"
check_eq "every rule is healthy" "$HEALTHY/$BAD" "$NRULES/"
FIRING=$(rules_json | python3 -c 'import json, sys
print(" ".join(sorted(r["name"] for g in json.load(sys.stdin)["data"]["groups"]
                      for r in g["rules"] if r["state"] == "firing")))')
check_eq "only the duplicate drain fires: no false page, no health alert" \
	"$FIRING" "ConnwatchDuplicateDrain"
# ConnwatchDrainRearmed's group (connwatch-warning) is evaluated at its
# own offset in the interval: up to one interval after the critical one.
rearmed() { grep -Eq '^(pending|firing)$' <<<"$(rule_state ConnwatchDrainRearmed)"; }
check "the drain_rearmed warning is pending (for: 1m) or firing" \
	wait_for 10 rearmed
check_eq "ConnwatchDown is inactive while connwatch is scraped" \
	"$(rule_state ConnwatchDown)" inactive
ALERT=$(curl -sf "$API/alerts" | python3 -c 'import json, sys
for a in json.load(sys.stdin)["data"]["alerts"]:
    if a["labels"]["alertname"] == "ConnwatchDuplicateDrain":
        print(a["labels"]["severity"], a["labels"]["target"], a["labels"]["kind"])
        print(a["annotations"]["summary"]); print(a["annotations"]["description"])')
check_eq "the page is severity=critical, target=tracker, kind=duplicate_drain" \
	"$(head -1 <<<"$ALERT")" "critical tracker duplicate_drain"
check "its description names the crashed pid $SRV_PID (looked up in connwatch_target_up)" \
	grep -q "pid $SRV_PID exited" <<<"$ALERT"

# Every dashboard query, as Grafana would send it: range queries for graphs,
# instant ones for stats and tables. Twice: variables at All (.*) and at the
# real values. $__rate_interval, $__range, $__interval -> 1m.
sleep 2
python3 - "$DASH" "$API" "$CW_PORT" "$SRV_PID" >"$TMP/queries.out" 2>&1 <<'PY'
import json, sys, time, urllib.parse, urllib.request
dash, api, port, pid = sys.argv[1:]
d = json.load(open(dash))
targets = [(p["title"], t) for p in d["panels"] if p["type"] != "row" for t in p["targets"]]
targets += [("annotation " + a["name"], {"expr": a["expr"]}) for a in d["annotations"]["list"] if "expr" in a]

def get(path, **params):
    url = api + path + "?" + urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)

# The variables' own queries: label_values(METRIC{...}, LABEL).
import re
allv = {"instance": ".*", "target": ".*", "pid": ".*"}
for v in d["templating"]["list"]:
    if v["type"] != "query":
        continue
    m = re.match(r"label_values\((.*),\s*(\w+)\)$", v["definition"])
    sel, label = m.group(1), m.group(2)
    for k, val in allv.items():
        sel = sel.replace("$" + k, val)
    r = get("/label/%s/values" % label, **{"match[]": sel})
    print("VAR", v["name"], r["status"], ",".join(r.get("data", [])))

passes = {
    "all": allv,
    "real": {"instance": "127\\\\.0\\\\.0\\\\.1:" + port, "target": "tracker", "pid": pid},
}
now = time.time()
for name, vals in passes.items():
    ok = data = 0
    for title, t in targets:
        e = t["expr"]
        for k in ("__rate_interval", "__range", "__interval"):
            e = e.replace("$" + k, "1m")
        for k, val in vals.items():
            e = e.replace("${%s}" % k, val).replace("$" + k, val)
        if t.get("instant"):
            r = get("/query", query=e, time=now)
        else:
            r = get("/query_range", query=e, start=now - 60, end=now, step=2)
        good = r.get("status") == "success"
        has = good and len(r["data"]["result"]) > 0
        ok += good
        data += has
        print("Q", name, "ok" if good else "ERROR", "data" if has else "nodata",
              title, "|", e if good else e + " | " + r.get("error", ""))
    print("PASS", name, len(targets), ok, data)
PY
grep -E '^(VAR|Q .* (ERROR|nodata))' "$TMP/queries.out" | sed 's/^/# /'
VARS=$(grep '^VAR' "$TMP/queries.out")
check "variable instance lists 127.0.0.1:$CW_PORT" grep -q "^VAR instance success .*127.0.0.1:$CW_PORT" <<<"$VARS"
check "variable target lists tracker" grep -Eq "^VAR target success (.*,)?tracker(,|$)" <<<"$VARS"
check "variable pid lists $SRV_PID" grep -Eq "^VAR pid success (.*,)?$SRV_PID(,|$)" <<<"$VARS"
for pass in all real; do
	read -r _ _ N OK DATA < <(grep "^PASS $pass " "$TMP/queries.out")
	check_eq "every dashboard query runs, variables=$pass ($N queries)" "${OK:-0}" "${N:-x}"
	check "most dashboard queries show data, variables=$pass: $DATA of $N (>= 70%)" \
		test "$(( ${DATA:-0} * 100 ))" -ge "$(( ${N:-1} * 70 ))"
done

check "connwatch is still running" kill -0 "$CW_PID"
stop "$PROM_PID"
check_eq "prometheus exits 0 on SIGTERM" "$?" 0
stop "$CW_PID"
check_eq "connwatch exits 0 on SIGTERM" "$?" 0
