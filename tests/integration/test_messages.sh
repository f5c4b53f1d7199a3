#!/bin/bash
# What the CLI says to bad input, as a table: arguments -> exit status and
# the exact one line on stderr. Each line names what is wrong and what to
# do (the option's --help, the presets list, the preset that fits). None
# of these attaches anything: they stop before the kernel.
. tests/lib.sh

# STATUS <TAB> EXACT STDERR LINE <TAB> ARGUMENTS (@FX@: the fixtures)
TABLE=$(sed "s|@FX@|$PWD/$FX|g" <<'EOF'
2	connwatch: unknown command 'bogus' (see `connwatch --help`)	bogus
2	connwatch attach: give exactly one of --pid PID or --exe PATH (see `connwatch attach --help`)	attach
2	connwatch attach: give exactly one of --pid PID or --exe PATH (see `connwatch attach --help`)	attach --pid 1 --exe /bin/true
1	connwatch: no process with pid 999999	attach --pid 999999
2	connwatch attach: --pid: 'abc' is not a number in 1..2147483647 (see `connwatch attach --help`)	attach --pid abc
2	connwatch attach: --pid needs a value (see `connwatch attach --help`)	attach --pid
1	connwatch: /etc/passwd: not an ELF file	attach --exe /etc/passwd
1	connwatch: /nonexistent: No such file or directory	attach --exe /nonexistent
2	connwatch attach: --preset: unknown preset 'nope' (`connwatch presets` lists them) (see `connwatch attach --help`)	attach --exe /bin/true --preset nope
2	connwatch attach: --duration: 'soon' is not a number in 1..100000000 (see `connwatch attach --help`)	attach --exe /bin/true --duration soon
2	connwatch attach: --on-critical: 'kill' is not stop (see `connwatch attach --help`)	attach --exe /bin/true --on-critical kill
2	connwatch attach: --preload, --preload-socket and --fail-on are options of `connwatch run` (see `connwatch attach --help`)	attach --exe /bin/true --fail-on critical
2	connwatch attach: unexpected argument 'extra' (see `connwatch attach --help`)	attach --exe /bin/true extra
2	connwatch attach: unknown option '--frobnicate' (see `connwatch attach --help`)	attach --frobnicate
2	connwatch attach: --user: no user 'cw-no-such-user' on this system (see `connwatch attach --help`)	attach --exe /bin/true --user cw-no-such-user
2	connwatch check: --user is an option of attach, run and collect: check only reads (see `connwatch check --help`)	check --exe /bin/true --user nobody
1	connwatch: preset go-runtime: /usr/sbin/nginx is not a Go program (no Go 1.16+ pclntab); --preset sockets counts the connections of any process	check --exe /usr/sbin/nginx --preset go-runtime
1	connwatch: preset go-net-http: @FX@/tracker_server is not a Go program (no Go 1.16+ pclntab); --preset sockets counts the connections of any process	check --exe @FX@/tracker_server --preset go-net-http
1	connwatch: preset go-net-http: no net/http server in this binary (no net/http.(*Server).trackConn); `connwatch check` without --preset says which presets fit it	check --exe @FX@/go_hello --preset go-net-http
1	connwatch: preset quic-go-http3: no quic-go HTTP/3 server in this binary (no github.com/lucas-clemente/quic-go/http3.(*Server).handleConn or github.com/quic-go/quic-go/http3.(*Server).handleConn); `connwatch check` without --preset says which presets fit it	check --exe @FX@/go_hello --preset quic-go-http3
2	connwatch symbols: '[' is not a valid regular expression (see `connwatch symbols --help`)	symbols --exe /bin/true [
2	connwatch symbols: at most one REGEX (see `connwatch symbols --help`)	symbols --exe /bin/true a b
2	connwatch symbols: --target is an option of attach, run, check and collect (see `connwatch symbols --help`)	symbols --exe /bin/true --target x
2	connwatch run: no command: connwatch run [options] -- CMD [ARG]... (see `connwatch run --help`)	run
2	connwatch run: the command is the target: no --pid or --exe (see `connwatch run --help`)	run --pid 1 -- true
2	connwatch run: --preload counts sockets only: --spec and --preset need eBPF (see `connwatch run --help`)	run --preload --preset sockets -- true
2	connwatch run: --fail-on: 'never' is not warning or critical (see `connwatch run --help`)	run --fail-on never -- true
2	connwatch run: --fresh is an option of `connwatch attach`: what run watches is new anyway (see `connwatch run --help`)	run --fresh -- true
127	connwatch: /nonexistent: No such file or directory	run -- /nonexistent
2	connwatch presets: takes no argument (see `connwatch presets --help`)	presets x
2	connwatch --config: expected FILE, then optionally --fresh (see `connwatch --config --help`)	--config
1	connwatch: /nonexistent.yaml: No such file or directory	--config /nonexistent.yaml
2	connwatch collect: collect takes no target, spec or preset (see `connwatch collect --help`)	collect --pid 1
2	connwatch collect: unexpected argument 'extra' (see `connwatch collect --help`)	collect extra
EOF
)

while IFS=$'\t' read -r want_status want_line args; do
	# shellcheck disable=SC2086 # the arguments are words
	$CW $args >/dev/null 2>"$TMP/err"
	status=$?
	check_eq "connwatch $args: exit $want_status, one line: $want_line" \
		"$status $(wc -l <"$TMP/err") $(cat "$TMP/err")" "$want_status 1 $want_line"
done <<<"$TABLE"

# Every --help named above exists and exits 0.
for cmd in attach check run collect symbols presets --config; do
	check "connwatch $cmd --help answers" sh -c "$CW $cmd --help >/dev/null"
done
