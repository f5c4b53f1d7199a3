#!/bin/bash
# Every bad input gets one clear line and a non-zero exit, and never hurts
# the target.
. tests/lib.sh

start_server fixed || exit 1

ATTACH="$CW attach --alert-log $TMP/a.jsonl --listen 127.0.0.1:$(free_port) --duration 2"
expect_error "unknown pid" "no process with pid 999999" \
	$ATTACH --pid 999999 --spec "$SPEC"
expect_error "not an ELF file" "/etc/passwd: not an ELF file" \
	$ATTACH --exe /etc/passwd --spec "$SPEC"
expect_error "missing binary" "/nonexistent: No such file" \
	$ATTACH --exe /nonexistent --spec "$SPEC"

sed 's/symbol: tracker_add/symbol: tracker_addd/' "$SPEC" >"$TMP/missing.yaml"
expect_error "symbol missing, with spec line" \
	"missing.yaml:[0-9]+: symbol 'tracker_addd' not found in .*tracker_server" \
	$ATTACH --pid "$SRV_PID" --spec "$TMP/missing.yaml"

printf 'target: x\nprobes:\n  - role: inc\n    symbol: [unclosed\n' >"$TMP/bad.yaml"
expect_error "malformed YAML, with line" "bad.yaml:[0-9]+: " \
	$ATTACH --pid "$SRV_PID" --spec "$TMP/bad.yaml"
printf 'probes:\n  - role: incr\n    symbol: tracker_add\n' >"$TMP/role.yaml"
expect_error "unknown role, with line and choices" \
	"role.yaml:2: role: 'incr' is not one of open, close, inc" \
	$ATTACH --pid "$SRV_PID" --spec "$TMP/role.yaml"
expect_error "missing spec file" "nope.yaml: No such file" \
	$ATTACH --pid "$SRV_PID" --spec "$TMP/nope.yaml"
# No spec at all is no longer an error: the presets that fit are chosen
# (tests/integration/test_auto_presets.sh).
expect_error "--max-keys out of range" "--max-keys: '10' is not a number in 1024\.\." \
	$ATTACH --pid "$SRV_PID" --spec "$SPEC" --max-keys 10
expect_error "--max-processes not a number" "--max-processes: 'many' is not a number" \
	$ATTACH --pid "$SRV_PID" --spec "$SPEC" --max-processes many
expect_error "--exited-grace negative" "--exited-grace: '-1' is not a number" \
	$ATTACH --pid "$SRV_PID" --spec "$SPEC" --exited-grace -1
expect_error "both --pid and --exe" "exactly one of --pid" \
	$ATTACH --pid "$SRV_PID" --exe $FX/tracker_server --spec "$SPEC"
expect_error "bad --duration" "--duration: 'soon' is not a number" \
	$ATTACH --pid "$SRV_PID" --spec "$SPEC" --duration soon
expect_error "port in use" "cannot listen on 127.0.0.1:$SRV_PORT: Address already in use" \
	$CW attach --pid "$SRV_PID" --spec "$SPEC" --alert-log "$TMP/a.jsonl" \
	--listen "127.0.0.1:$SRV_PORT"
expect_error "bad --listen" "--listen localhost: expected ADDR:PORT" \
	$CW attach --pid "$SRV_PID" --spec "$SPEC" --alert-log "$TMP/a.jsonl" \
	--listen localhost
expect_error "unwritable alert log" "alert log /proc/nope/a.jsonl" \
	$ATTACH --pid "$SRV_PID" --spec "$SPEC" --alert-log /proc/nope/a.jsonl
expect_error "unknown command" "unknown command 'atach'" $CW atach
chmod 755 "$TMP"
expect_error "no privilege (pid of another user)" "permission denied" \
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	$ATTACH --pid "$SRV_PID" --spec "$SPEC"
# Copies nobody can read wherever the checkout is (a 0700 clone dir too).
mkdir -m 777 "$TMP/nobody" && cp "$SPEC" "$TMP/spec.yaml" && chmod 644 "$TMP/spec.yaml"
install -m 755 $FX/tracker_server $CW "$TMP/nobody/"
expect_error "no privilege (eBPF)" "run as root, or with CAP_BPF" \
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$TMP/nobody/connwatch" attach --exe "$TMP/nobody/tracker_server" \
	--spec "$TMP/spec.yaml" \
	--alert-log "$TMP/nobody/a.jsonl" --listen "127.0.0.1:$(free_port)"
expect_error "run --duration: refused, not ignored" \
	"run: --duration: run watches CMD until it exits" \
	$CW run --duration 5 -- /bin/true

check "the target is unharmed and serves" \
	load --connections 20 --concurrency 4
check "the target is still running" kill -0 "$SRV_PID"
