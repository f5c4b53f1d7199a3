#!/bin/bash
# Seed corpora for the fuzz harnesses (tests/fuzz/fuzz.mk), made at build
# time from real inputs: the fixtures (C and Go, stripped or not), the
# unit tests' synthetic Go tables (every pclntab layout), the specs and
# examples of this tree, a few system files. Nothing large is kept: Go
# binaries are cut down to what a parser reads, big ones sampled.
# Usage: tests/fuzz/seeds.sh DIR (from the repo root, after `make all`).
set -e -o pipefail
OUT=$1
FX=build/fixtures
[ -n "$OUT" ] || { echo "usage: $0 DIR" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/cw-seeds.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

corpus() { mkdir -p "$OUT/$1"; echo "$OUT/$1"; }

# A Go binary with only what the table, the version and the inline
# trees are read from (objcopy warns of the segments left empty).
go_min() {
	objcopy -j .gopclntab -j .go.buildinfo -j .rodata -j .noptrdata \
		-j .data "$@" 2>/dev/null
}

D=$(corpus elf_symbols)
for f in tracker_server double_close_server load_client; do
	cp "$FX/$f" "$D/$f"
	strip -o "$D/$f.stripped" "$FX/$f"
done
cp build/libconnwatch-preload.so /bin/true "$D/"
# Go's .symtab, without the code and DWARF it describes.
objcopy --only-keep-debug -R '.debug_*' -R '.zdebug_*' "$FX/go_close_twice" \
	"$D/go_close_twice.symtab" 2>/dev/null
# The headers and the start of the text of large binaries.
head -c 65536 "$FX/go_hello" >"$D/go_hello.head"
[ -r /usr/bin/prometheus ] &&
	head -c 65536 /usr/bin/prometheus >"$D/prometheus.head"

D=$(corpus gopclntab)
# Its own failures are `make unit`'s to report; the images are written.
CW_SYNTH_DUMP=$D build/unit/test_gopclntab >/dev/null 2>&1 || true
go_min "$FX/go_inline.stripped" "$D/go_inline.119"
go_min "$FX/go_inline.go122.stripped" "$D/go_inline.122"
# No section names the table: found by the scan.
go_min --rename-section .gopclntab=.data.rel.ro \
	"$FX/go_inline.go122.stripped" "$D/go_inline.122.scan"

D=$(corpus dwarf_inline)
named() {	# named FUNCTION FILE SEED: the harness reads "FUNCTION\0FILE"
	{ printf '%s\0' "$1"; cat "$2"; } >"$3"
}
named usage "$FX/tracker_server" "$D/tracker_server.usage"
objcopy --only-keep-debug "$FX/tracker_server" "$WORK/tracker.debug"
named sleep_ms "$WORK/tracker.debug" "$D/tracker.debug.sleep_ms"
named tracker_wait_done "$WORK/tracker.debug" "$D/tracker.debug.wait_done"
# Go's DWARF, compressed (1.19) and not.
objcopy -j .debug_info -j .debug_abbrev -j .debug_ranges "$FX/go_inline" \
	"$WORK/go.debug" 2>/dev/null
named 'main.(*server).release' "$WORK/go.debug" "$D/go_inline.release"
objcopy --decompress-debug-sections "$WORK/go.debug" "$WORK/go.plain"
named 'main.(*server).drained' "$WORK/go.plain" "$D/go_inline.plain.drained"

# Functions with their real addresses (fuzz_disasm.c's header): C ones
# with locked counters, Go ones with their stack-check prologue, panics
# (closechan, WaitGroup.Add) and the calls the presets probe.
python3 - "$(corpus disasm)" <<'PY'
import struct, subprocess, sys

out = sys.argv[1]
FX = "build/fixtures"
RAX, RDI = 1, 6

def symbols(path):
    nm = subprocess.run(["nm", "-S", "--defined-only", path],
                        capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in nm.splitlines():
        f = line.split(" ", 3)
        if len(f) == 4:
            syms[f[3]] = (int(f[0], 16), int(f[1], 16))
    return syms

def code(path, addr, size):
    with open(path, "rb") as f:
        b = f.read()
    phoff, = struct.unpack_from("<Q", b, 32)
    phentsize, phnum = struct.unpack_from("<HH", b, 54)
    for i in range(phnum):
        typ, _, off, vaddr, _, filesz = struct.unpack_from(
            "<IIQQQQ", b, phoff + i * phentsize)
        if typ == 1 and vaddr <= addr < vaddr + filesz:
            return b[off + addr - vaddr:off + addr - vaddr + size]
    raise SystemExit(f"{path}: 0x{addr:x} not loaded")

def seed(binary, func, callee=None, gopanic=None, reg=0):
    s = symbols(f"{FX}/{binary}")
    addr, size = s[func]
    hdr = struct.pack("<QQQHHB3x", addr, s[callee][0] if callee else 0,
                      s[gopanic][0] if gopanic else 0, 0,
                      min(size, 0xffff), reg)
    name = f"{binary}.{func.rsplit('.', 1)[-1]}"
    with open(f"{out}/{name}", "wb") as f:
        f.write(hdr + code(f"{FX}/{binary}", addr, size))

for f in ["tracker_add", "tracker_done", "tracker_close_done",
          "tracker_begin_shutdown"]:
    seed("tracker_server", f)
seed("tracker_server", "conn_thread", "tracker_done", reg=RDI)
seed("go_close_twice", "runtime.closechan", gopanic="runtime.gopanic")
seed("go_close_twice", "main.main", "runtime.closechan", reg=RAX)
seed("go_tracker", "sync.(*WaitGroup).Add", gopanic="runtime.gopanic")
seed("quic_v048_buggy",
     "github.com/lucas-clemente/quic-go/http3.(*Server).decreaseConnCount",
     "runtime.closechan", reg=RAX)
PY

D=$(corpus spec)
cp tests/specs/*.yaml "$D/"

D=$(corpus config)
# README's example, and one naming the sandbox's spec files.
sed -n '/^    listen: 127.0.0.1:9877/,/^$/s/^    //p' README.md >"$D/readme.yaml"
printf 'listen: 127.0.0.1:9877\nweb_config: web.yml\ntargets:\n  - pid: 1\n    specs: [tracker.yaml]\n    on_critical: stop\n  - exe: /bin/true\n    specs: [bad.yaml]\n' \
	>"$D/sandbox.yaml"

D=$(corpus web_config)
cp deploy/web.yml.example "$D/example.yml"
hash=$(python3 -W ignore -c 'import crypt; print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))')
printf 'tls_server_config:\n  cert_file: cert.pem\n  key_file: /etc/connwatch/key.pem\nbasic_auth_users:\n  prometheus: %s\n  other: "%s"\n' \
	"$hash" "$hash" >"$D/tls_auth.yml"
printf 'tls_server_config:\n  cert_file: cert.pem\n  key_file: encrypted.key\n  client_ca_file: ca.pem\nhttp_server_config:\n  http2: true\n' \
	>"$D/refused.yml"

# The shim's messages (user/preload/preload_proto.h), after fuzz_preload's
# flag byte (1 hello first, 2 with the page, 8 the input in the page,
# 16 the message's pid made the harness').
python3 - "$(corpus preload)" <<'PY'
import os, struct, sys

out = sys.argv[1]
MAGIC = 0x32505743
pid = 4242
dc = struct.pack("<iiQII16Q16s", 7, 9, 3, 4, 0,
                 *[0x401000 + i for i in range(16)], b"double_close")
counts = struct.pack("<Q56xQQ11QQQQQQIIII16s", 120, 118, 5000, *range(11),
                     1, 0, 0, 0, 0, 1, 0, 4242, 0, b"nginx")
seeds = {
    "hello": (3, b""),
    "double_close": (19, struct.pack("<IHHII", MAGIC, 2, 16 + len(dc), pid,
                                    4243) + dc),
    "counts_in_page": (11, counts),
    "hello_twice": (19, struct.pack("<IHHII", MAGIC, 1, 16, pid, 1)),
}
for name, (flags, msg) in seeds.items():
    with open(f"{out}/{name}", "wb") as f:
        f.write(bytes([flags]) + msg)
PY

D=$(corpus proc_maps)
cat /proc/self/maps >"$D/cat"
cat "/proc/$$/maps" >"$D/bash"
# A file mapped executable from a path as long as paths get (PATH_MAX).
python3 - "$WORK" "$D/long_path" <<'PY'
import mmap, os, sys

path = sys.argv[1]
while len(path) < 4000:
    path = os.path.join(path, "d" * min(200, 4000 - len(path)))
    os.mkdir(path)
path = os.path.join(path, "l" * (4095 - len(path) - 1))
with open(path, "wb") as f:
    f.write(b"\0" * 4096)
with open(path, "rb") as f:
    m = mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC)
    with open("/proc/self/maps") as maps, open(sys.argv[2], "w") as out:
        out.write(maps.read())
    m.close()
PY

# The first byte is a buffer size, then the alert's strings, NUL apart.
D=$(corpus json)
printf '\x40critical\0duplicate_drain\0quic-go "h3"\0drain:runtime.closechan\0caddy\0drain fired twice on key 0xc000\0main.(*Server).Close+0x1f (caddy)\0sync.Map[go.shape.string,go.shape.int].Load (inlined)\0' \
	>"$D/alert"
printf '\x08warning\0drain_rearmed\0caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\0probe\0comm\x01\x1b[31m\0line\nbreak\ttab\\ \x7f\0\xff\xfe\xc0\xaf\xed\xa0\x80\0' \
	>"$D/unicode"
# Frames of control characters, escaped six times over: past the line.
{
	printf '\x10critical\0close_of_closed_channel\0t\0p\0c\0m\0'
	for _ in $(seq 64); do head -c 190 /dev/zero | tr '\0' '\1'; printf '\0'; done
} >"$D/overlong"
