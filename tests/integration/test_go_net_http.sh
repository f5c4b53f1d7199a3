#!/bin/bash
# go-net-http on a Go web server shaped like a real one (net/http.Server,
# a mux, a handler that hijacks as a websocket upgrade does), stripped
# first, Go 1.19 and 1.22, HTTP and HTTPS: connections counted from the
# sockets tracepoints with no uprobe trap; a hijack is one trap, counts
# the connection closed where net/http lets go of it, and its socket's
# later close is not counted again. The ground truth is net/http's own
# count: the fixture's ConnState hook (printed on SIGUSR1).
. tests/lib.sh

HIJACK='probe="hijack:net/http.(*conn).hijackLocked"'
HIJACKS=10		# by curl: hijacked, answered, closed at once
REPLY_BYTES=47		# the hijacking handler's whole answer

# counts_past FILE N: FILE has more than N count lines.
counts_past() { [ "$(grep -c '^conns ' "$1")" -gt "$2" ]; }

# net_http_says: "new closed hijacked", as net/http counted them.
net_http_says() {
	local out=${SRV_ERR%.err} n
	n=$(grep -c '^conns ' "$out")
	kill -USR1 "$SRV_PID"
	wait_for 10 counts_past "$out" "$n" || return 1
	grep '^conns ' "$out" | tail -1 | sed 's/^conns //; s/[a-z]*=//g'
}

# of SOURCE METRIC: the fixture's series of SOURCE.
of() { metric "connwatch_$2" "source=\"$1\",pid=\"$SRV_PID\""; }

# settled: net/http has no connection left (every one closed or hijacked).
settled() {
	local n
	read -r -a n <<<"$(net_http_says)"
	[ "${#n[@]}" -eq 3 ] && [ "${n[0]}" -eq $((n[1] + n[2])) ]
}

# hold_hijack SCHEME: a hijacked connection the client keeps open until
# "$TMP/release" exists; its answer goes to $TMP/held.out.
hold_hijack() {
	local req='GET /hijack HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
	rm -f "$TMP/release" "$TMP/held.out"
	if [ "$1" == https ]; then
		(printf "$req"; wait_for 20 test -e "$TMP/release") |
			timeout 30 openssl s_client -quiet -no_ign_eof \
				-connect "127.0.0.1:$SRV_PORT" >"$TMP/held.out" 2>/dev/null &
	else
		(
			exec 3<>"/dev/tcp/127.0.0.1/$SRV_PORT"
			printf "$req" >&3
			timeout 10 head -c $REPLY_BYTES <&3 >"$TMP/held.out"
			wait_for 20 test -e "$TMP/release"
		) &
	fi
	HELD=$!
	STARTED+=("$HELD")
}

# churn URL: 2 s of wrk, a new connection per request.
churn() { timeout 20 wrk -t2 -c8 -d2s -H 'Connection: close' "$1" >/dev/null; }

# scenario NAME SCHEME BINARY PRESETS...
scenario() {
	local name=$1 scheme=$2 bin=$3 opened closed n
	local url="$scheme://127.0.0.1"
	shift 3
	start_fixture "$FX/$bin" $([ "$scheme" == https ] && echo -tls) || return 1
	url=$url:$SRV_PORT
	start_connwatch --pid "$SRV_PID" "$@" || return 1

	# churn: a new connection per request, bounded in time
	check "$name: wrk, a new connection per request" churn "$url/"
	wait_for 10 settled
	opened=$(of go-net-http connections_opened_total)
	check "$name: connections counted under churn ($opened)" test "${opened:-0}" -gt 50
	check_eq "$name: no uprobe trap on $opened ordinary connections" \
		"$(metric connwatch_probe_hits_total "$HIJACK")" 0

	for _ in $(seq 1 $HIJACKS); do
		curl -sfk -m 5 "$url/hijack" -o /dev/null || break
	done
	hold_hijack "$scheme"
	wait_for 10 grep -qs hijacked "$TMP/held.out"
	check_eq "$name: one trap per hijack" \
		"$(metric connwatch_probe_hits_total "$HIJACK")" $((HIJACKS + 1))
	wait_eq 5 0 of go-net-http connections_open
	check_eq "$name: a hijacked connection is closed at the hijack (socket still open)" \
		"$(of go-net-http connections_open)" 0
	if [ -n "$(of sockets connections_open)" ]; then
		check_eq "$name: sockets still counts its socket open" \
			"$(of sockets connections_open)" 1
	fi
	closed=$(of go-net-http connections_closed_total)
	touch "$TMP/release"
	wait "$HELD"
	wait_for 10 settled
	[ -z "$(of sockets connections_open)" ] ||
		wait_eq 5 0 of sockets connections_open
	check_eq "$name: its socket's close is not counted again" \
		"$(of go-net-http connections_closed_total)" "$closed"

	read -r -a n <<<"$(net_http_says)"
	check_eq "$name: go-net-http opened == net/http's new (${n[0]})" \
		"$(of go-net-http connections_opened_total)" "${n[0]}"
	check_eq "$name: go-net-http closed == net/http's closed + hijacked" \
		"$(of go-net-http connections_closed_total)" $((n[1] + n[2]))
	check_eq "$name: hijack probe hits == net/http's hijacks (${n[2]})" \
		"$(metric connwatch_probe_hits_total "$HIJACK")" "${n[2]}"
	if [ -n "$(of sockets connections_open)" ]; then
		check_eq "$name: sockets closed every socket" \
			"$(of sockets connections_closed_total)" "${n[0]}"
	fi
	check_eq "$name: no alert" "$(metric_sum connwatch_anomalies_total)" 0
	check_exposition "$name: promtool clean, no series twice"
	stop "$CW_PID"
	stop "$SRV_PID"
	check_eq "$name: no probe left in the code" "$(code_diff_gone "$bin")" ok
}

# code_diff_gone BIN: a new process of BIN runs unprobed (the uprobes went
# with connwatch: the kernel keeps them per inode).
code_diff_gone() {
	local pid
	start_fixture "$FX/$1" || return 1
	pid=$SRV_PID
	[ "$(code_diff "$pid")" == 0 ] && echo ok
	stop "$pid"
}

scenario "stripped, go-net-http alone" http go_net_http.stripped \
	--preset go-net-http
scenario "DWARF, with sockets" http go_net_http \
	--preset go-net-http --preset sockets
scenario "go1.22 stripped, all presets" http go_net_http.go122.stripped \
	--preset go-net-http --preset sockets --preset go-runtime
scenario "HTTPS (hijack of a *tls.Conn), stripped" https go_net_http.stripped \
	--preset go-net-http --preset sockets

expect_error "go-net-http on a Go program with no net/http server" \
	"preset go-net-http: no net/http server in this binary" \
	$CW check --exe "$FX/go_hello" --preset go-net-http
check "check says what go-net-http hooks" \
	grep -q "hijackLocked" <($CW check --exe "$FX/go_net_http.stripped" --preset go-net-http)
