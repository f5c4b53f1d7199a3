#!/bin/bash
# Stacks never lie (issue #10): a counter_underflow reached through a
# frame no symbol names (tests/fixtures/unnamed_frames: main -> code in
# an anonymous executable mapping -> relay -> counter_dec), symbolized
#
#   live      while the process runs: its mappings are read
#   exited    after it is gone (connwatch stopped while it ran): its
#             mappings were never read, only the probed binary is known
#
# Each time the unnamed frame is a bare address ("[anon]", "[unknown]")
# inside the mapping the fixture printed, and no "function+0xoff" frame
# has an offset past its function's end (st_size; a size-0 symbol such
# as _fini: the end of its section), as "_fini+0x29f4fca1d581" had.
. tests/lib.sh

BIN=$FX/unnamed_frames
LIBC=$(ldd "$BIN" | awk '$1 == "libc.so.6" {print $3}')

# stack_of PID: the alert log's stack of PID's counter_underflow, one
# frame a line.
stack_of() {
	python3 - "$CW_LOG" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    a = json.loads(line)
    if a["pid"] == int(sys.argv[2]) and a["kind"] == "counter_underflow":
        print("\n".join(a["stack"]))
        break
PY
}

# overreaching STACK MODULE=PATH...: the frames of STACK (one a line)
# whose offset is past their function's end in that module (or whose
# function it has not), one a line; nothing when each is inside its own.
overreaching() {
	python3 - "$@" <<'PY'
import re, subprocess, sys

def funcs(path):
    """name -> (value, size, section end) of every FUNC symbol."""
    sec_end = {}
    for l in subprocess.run(["readelf", "-SW", path], capture_output=True,
                            text=True).stdout.splitlines():
        m = re.match(r"\s*\[\s*(\d+)\]\s+\S+\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", l)
        if m:
            sec_end[m[1]] = int(m[2], 16) + int(m[3], 16)
    out = {}
    for l in subprocess.run(["readelf", "-sW", path], capture_output=True,
                            text=True).stdout.splitlines():
        f = l.split()
        if len(f) >= 8 and f[3] == "FUNC" and f[6].isdigit():
            value, size = int(f[1], 16), int(f[2], 0)
            out.setdefault(f[7].split("@")[0],
                           (value, size, sec_end.get(f[6], 0)))
    return out

modules = dict(a.split("=", 1) for a in sys.argv[2:])
tables = {}
for frame in sys.argv[1].splitlines():
    m = re.fullmatch(r"(.+)\+0x([0-9a-f]+) \((.+)\)", frame)
    if not m:
        continue
    name, off, module = m[1], int(m[2], 16), m[3]
    if module not in modules:
        print(frame, "(module not known to the test)")
        continue
    tab = tables.setdefault(module, funcs(modules[module]))
    if name not in tab:
        print(frame, "(no such function)")
        continue
    value, size, end = tab[name]
    if off >= (size if size else end - value):
        print(frame, f"(size {size})")
PY
}

# in_anon_code ADDR: ADDR lies in the mapping the fixture printed ($OUT).
in_anon_code() {
	local lo hi
	read -r lo hi < <(sed -n 's/^anon code at 0x\([0-9a-f]*\)-0x\([0-9a-f]*\)$/\1 \2/p' "$OUT")
	[ -n "$lo" ] && (($1 >= 0x$lo && $1 < 0x$hi))
}

# frame N: the Nth frame of $stack.
frame() { sed -n "$1p" <<<"$stack"; }

# check_stack CASE PID MARK: the stack of PID's underflow; MARK is how
# its unnamed frame is told ("[anon]", "[unknown]").
check_stack() {
	local name=$1 pid=$2 mark=$3 stack unnamed bad
	wait_for 10 grep -qs "\"pid\":$pid," "$CW_LOG"
	stack=$(stack_of "$pid")
	echo "$name: stack:"; sed 's/^/    /' <<<"$stack"
	check_eq "$name: the probed function first" "$(frame 1)" \
		"counter_dec+0x0 (unnamed_frames)"
	check "$name: then its caller, named: $(frame 2)" \
		grep -qx 'relay+0x[0-9a-f]* (unnamed_frames)' <<<"$(frame 2)"
	unnamed=$(frame 3)
	check "$name: the frame in anonymous code is a bare address, $mark: '$unnamed'" \
		grep -qx "0x[0-9a-f]* \\$mark" <<<"$unnamed"
	check "$name: ... inside the mapping the fixture made" \
		in_anon_code "${unnamed%% *}"
	check "$name: its caller is named: $(frame 4)" \
		grep -qx 'main+0x[0-9a-f]* (unnamed_frames)' <<<"$(frame 4)"
	bad=$(overreaching "$stack" "unnamed_frames=$BIN" "libc.so.6=$LIBC")
	check_eq "$name: no frame's offset is past its function's end" "$bad" ""
}

start_connwatch --exe "$BIN" --spec tests/specs/storm.yaml || exit 1

# --- live: its mappings read when its record comes
OUT=$TMP/live.out
"$BIN" 60 >"$OUT" &
LIVE=$!
STARTED+=("$LIVE")
wait_for 5 grep -qs '^underflow done' "$OUT" ||
	{ echo "unnamed_frames did not run"; exit 1; }
check_stack live "$LIVE" "[anon]"

# --- exited: connwatch stopped while the process ran and exited, so
# its record is read after it is gone (as when the daemon lags a crash)
OUT=$TMP/exited.out
kill -STOP "$CW_PID"
timeout 10 "$BIN" 0 >"$OUT"
check_eq "exited: the fixture ran to its end" "$?" 0
LOGGED=$(wc -l <"$CW_LOG")
kill -CONT "$CW_PID"
check_eq "exited: nothing logged while connwatch was stopped" "$LOGGED" 1
wait_for 10 test "$(wc -l <"$CW_LOG")" -ge 2
EXITED=$(python3 -c 'import json, sys
print(json.loads(open(sys.argv[1]).readlines()[1])["pid"])' "$CW_LOG")
check "exited: pid $EXITED is gone" test ! -e "/proc/$EXITED"
check_stack exited "$EXITED" "[unknown]"
check "exited: the libc frames are bare too (no maps: not in the binary)" \
	test "$(stack_of "$EXITED" | grep -c '(libc.so.6)\|_fini')" -eq 0

stop "$CW_PID"
check_eq "detached: no probe left in the live fixture's code" \
	"$(code_diff "$LIVE")" 0
check "the live fixture is unharmed" kill -0 "$LIVE"
