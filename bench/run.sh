#!/bin/bash
# `make bench`: connwatch's costs (DESIGN.md §7, README.md "Speed"), one
# section after the other, the machine header once:
#
#   bench/uprobe_cost.sh       per-hit cost of a uprobe vs the floor and bpftrace
#   bench/attach_time.sh       attach time on a 50 MB stripped Go binary,
#                              attach time vs bpftrace on an unstripped one
#   bench/nginx_throughput.sh  nginx requests/s plain, under the LD_PRELOAD
#                              shim, under eBPF tracepoints
#   bench/preload_cost.sh      CPU per close, accept and fork, plain and
#                              under the LD_PRELOAD shim
#   bench/uring_cost.sh        ns per io_uring NOP on the host, plain and
#                              with the sockets preset attached elsewhere
#   bench/go_http.sh           a Go HTTP server (Prometheus) req/s plain,
#                              under the syscall tracing path alone, the
#                              bare tracepoints (the floor) and each
#                              preset, uprobe hits per request
#   bench/quic_v048.sh         the seed's server: probe hits per connection
#                              (caller-scoped drain vs closechan), attach time
#   bench/storm.sh             an alert storm of 10^6 counter underflows:
#                              time, exact counts, RSS, /metrics latency,
#                              alert log lines
#   bench/scale.sh             memory and scrape time against keys (10^5
#                              live, 10^6 churned) and processes (10^3
#                              live, 10^4 over a watch's life)
#
# Each section can run alone (the same options, its own header); see their
# heads for what they measure and the environment that overrides it. Every
# section interleaves its modes over rounds and reports medians; a missed
# goal is reported, a failed measurement makes this exit 1. Run as root.
cd "$(dirname "$0")/.." || exit 2
. bench/lib.sh

SECTIONS=(uprobe_cost attach_time nginx_throughput preload_cost uring_cost
	  go_http quic_v048 storm scale)

preflight bpftrace bpftool curl wrk nginx prometheus readelf python3
header
export BENCH_IN_RUN=1
failed=()
for s in "${SECTIONS[@]}"; do
	"bench/$s.sh" || failed+=("$s")
done
echo
echo "bench time: ${SECONDS} s"
[ ${#failed[@]} -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
