#!/bin/bash
# "at: return" probes are plain uprobes on every RET and tail-call JMP
# (found with capstone), never uretprobes: exact counts under concurrency,
# with the key saved at entry, and no uretprobe anywhere.
. tests/lib.sh

N=300
RET_SPEC=$TMP/return.yaml
cat >"$RET_SPEC" <<'YAML'
target: tracker-ret
probes:
  - role: inc
    symbol: tracker_add
    key: arg0
    at: return
  - role: dec
    symbol: tracker_done        # one RET and a tail call to mutex_unlock
    key: arg0
    at: return
counter:
  base: arg0
  offset: 8
  type: s64
YAML

CHECK=$($CW check --exe $FX/tracker_server --spec "$RET_SPEC")
check "check: tracker_done has its RET and its tail call as exits" \
	grep -qE 'dec:tracker_done .* exits:2 \(tail calls\)' <<<"$CHECK"

start_server fixed || exit 1
start_connwatch --pid "$SRV_PID" --spec "$RET_SPEC" || exit 1
check_eq "no uretprobe is used" \
	"$(bpftool perf show 2>/dev/null | grep -c uretprobe)" 0
check "load: $N connections, 16 at a time" \
	load --connections $N --concurrency 16
P="pid=\"$SRV_PID\""
wait_for 5 test "$(metric connwatch_counter_decrements_total "$P")" == $N
check_eq "increments at return == $N" \
	"$(metric connwatch_counter_increments_total "$P")" $N
check_eq "decrements at return (RET or tail call) == $N" \
	"$(metric connwatch_counter_decrements_total "$P")" $N
check_eq "counter read at return == 0" "$(metric connwatch_counter_value "$P")" 0
check_eq "no alert" "$(metric_sum connwatch_anomalies_total)" 0
check "the server is unharmed" kill -0 "$SRV_PID"
