#!/bin/bash
# A target in another mount namespace (a container; connwatch in a pod
# sees the host the other way round): its binary and libraries are not
# at the paths /proc shows. connwatch reaches them through /proc/PID/root.
. tests/lib.sh

command -v unshare >/dev/null || { fail "unshare missing"; exit 1; }
# The server runs from a tmpfs that only its own mount namespace has.
unshare -m --propagation private sh -c "mount -t tmpfs none /mnt &&
	cp $FX/tracker_server /mnt/hidden_server &&
	exec /mnt/hidden_server --mode buggy" >"$TMP/ns.out" 2>"$TMP/ns.err" &
NS=$!
STARTED+=("$NS")
wait_for 5 grep -qs listening "$TMP/ns.out" || { fail "namespaced server did not start"; exit 1; }
SRV_PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/ns.out")
check "the binary is not visible from here" test ! -e /mnt/hidden_server
start_connwatch --pid "$NS" --spec "$SPEC" || exit 1
check "attached through /proc/PID/root" grep -q "/proc/$NS/root/mnt/hidden_server" "$CW_ERR"
load --connections 5 --concurrency 5 --hold-ms 300
load --connections 1 --hold-ms 200
{ wait "$NS"; } 2>/dev/null
wait_for 5 grep -qs duplicate_drain "$CW_LOG"
check "the duplicate drain of the namespaced server is caught" \
	grep -q '"kind":"duplicate_drain"' "$CW_LOG"
check "its stack is symbolized from the binary only it could see" \
	grep -q '"stack":\["tracker_close_done+0x0 (hidden_server)","tracker_done+' "$CW_LOG"
