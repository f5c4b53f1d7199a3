#!/bin/bash
# Packages people install. `make deb`'s package installed on this very
# machine (dpkg -i, then dpkg -r): --version, one attach and the preload
# shim from the installed paths, man page, units; /usr/local untouched.
# deploy/Dockerfile: built when a docker daemon answers; otherwise its
# build stage is replayed here (its COPY set, its RUN) and its instructions
# checked against the Makefile, the package and the DaemonSet.
. tests/lib.sh

VERSION=$(sed -n 's/^VERSION *:= *//p' Makefile)
ARCH=$(dpkg --print-architecture)
DEB=build/connwatch_${VERSION}_$ARCH.deb
# Tests of other worktrees may install the same package: one at a time.
exec 9>/run/lock/connwatch-package-test.lock
flock -w 300 9 || { fail "package test lock" "held for 300 s"; exit 1; }

# --- the .deb
rm -f "$DEB"
make -s deb >"$TMP/deb.out" 2>&1
check "make deb builds $DEB" test -s "$DEB"
dpkg-deb -c "$DEB" | awk '{print $NF}' >"$TMP/files"
for f in ./usr/bin/connwatch ./usr/lib/connwatch/libconnwatch-preload.so \
	./usr/share/man/man8/connwatch.8.gz ./lib/systemd/system/connwatch@.service \
	./lib/systemd/system/connwatch-collect.service \
	./usr/share/doc/connwatch/examples/connwatch.env.example; do
	check "deb holds $f" grep -qx -- "$f" "$TMP/files"
done
check_eq "deb: nothing under /usr/local" "$(grep -c '^./usr/local' "$TMP/files")" 0
# Depends: one package per library the binary and the shim link (NEEDED).
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
for lib in $(readelf -d build/connwatch build/libconnwatch-preload.so |
	     sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort -u); do
	pkg=$(dpkg -S "*/$lib" 2>/dev/null | grep -v -- '-dev' | head -1 | cut -d: -f1)
	check "deb Depends names $pkg (for $lib)" grep -q "\\b$pkg\\b" <<<"$DEPENDS"
done

STATE_BEFORE=$(find /usr/local -xdev -printf '%p %s %T@\n' 2>/dev/null | sort | md5sum)
if dpkg -s connwatch >/dev/null 2>&1; then
	fail "connwatch is not installed before the test" "$(dpkg -s connwatch | grep Version)"
	exit 1
fi
trap 'dpkg -r connwatch >/dev/null 2>&1; cleanup' EXIT
dpkg -i "$DEB" >"$TMP/dpkg.out" 2>&1
check "dpkg -i installs it (its Depends are met here)" \
	sh -c "dpkg -s connwatch | grep -q 'Status: install ok installed'"
check_eq "installed: /usr/bin/connwatch --version" \
	"$(/usr/bin/connwatch --version)" "connwatch $VERSION"
check "installed: man connwatch finds the page" \
	test "$(man -w connwatch)" == /usr/share/man/man8/connwatch.8.gz
check "installed: the units run /usr/bin/connwatch" \
	grep -q '^ExecStart=/usr/bin/connwatch attach' /lib/systemd/system/connwatch@.service

# One attach from the installed binary: the C tracker, presets chosen.
CW=/usr/bin/connwatch
start_server fixed || exit 1
start_connwatch --pid "$SRV_PID" || exit 1
load --connections 25 --concurrency 4
wait_eq 5 25 metric connwatch_connections_closed_total "pid=\"$SRV_PID\""
check_eq "installed: attach counts 25 connections" \
	"$(metric connwatch_connections_opened_total "pid=\"$SRV_PID\"")" 25
stop "$CW_PID"
# --preload finds the shim where the package put it (../lib/connwatch).
$CW run --preload --listen "127.0.0.1:$(free_port)" --alert-log "$TMP/p.jsonl" \
	-- /bin/true 2>"$TMP/preload.err"
check_eq "installed: run --preload finds /usr/lib/connwatch's shim, exit 0" "$?" 0
check "installed: ... and says it runs with it" \
	grep -Eq "runs with /usr/(bin/\.\./)?lib/connwatch/libconnwatch-preload.so" "$TMP/preload.err"

dpkg -r connwatch >/dev/null 2>&1
check "dpkg -r removes it" test ! -e /usr/bin/connwatch
check_eq "/usr/local is as it was" \
	"$(find /usr/local -xdev -printf '%p %s %T@\n' 2>/dev/null | sort | md5sum)" \
	"$STATE_BEFORE"
flock -u 9

# --- deploy/Dockerfile
DF=deploy/Dockerfile
IMAGE=$(sed -n 's/^ *image: *//p' deploy/kubernetes/daemonset.yaml)
check_eq "the DaemonSet's image is this version" "${IMAGE##*:}" "$VERSION"
check "the Dockerfile says how to build that image" \
	grep -q "docker build -f $DF -t $IMAGE \\.\$" "$DF"
if timeout 10 docker info >/dev/null 2>&1; then
	check "docker build -f $DF (a daemon answers)" \
		docker build -q -f "$DF" -t "$IMAGE" .
	check_eq "the image runs connwatch $VERSION" \
		"$(docker run --rm "$IMAGE" --version)" "connwatch $VERSION"
	exit 0
fi
echo "# no docker daemon here (docker info fails): $DF is checked, not built"
check_eq "multi-stage, Debian 12 both" \
	"$(grep -c '^FROM debian:12\b' "$DF") $(grep -c '^FROM' "$DF")" "2 2"
check "the runtime stage installs the package make deb builds" \
	grep -q "/tmp/connwatch_${VERSION}_$ARCH.deb" "$DF"
# Every library the Makefile links against: its -dev package in stage 1.
BUILD_PKGS=$(sed -n '/^FROM debian:12 AS build/,/^WORKDIR/p' "$DF" | tr -s ' \t\\' '\n')
for l in $(awk '/^LDLIBS/ { f = 1 } f { print } f && !/\\$/ { exit }' Makefile |
	   tr -s ' \t\\' '\n' | sed -n 's/^-l//p' | grep -v pthread | sort -u); do
	pkg=$(dpkg -S "/usr/lib/$(gcc -print-multiarch)/lib$l.so" 2>/dev/null | cut -d: -f1)
	check "Dockerfile build stage installs $pkg (-l$l)" grep -qx "$pkg" <<<"$BUILD_PKGS"
done
# Replay stage 1 here: its COPY set must be enough for its RUN.
mkdir -p "$TMP/ctx"
sed -n 's/^COPY \([^-][^ ]*\) .*/\1/p' "$DF" | while read -r src; do
	mkdir -p "$TMP/ctx/$(dirname "$src")"
	cp -r "$src" "$TMP/ctx/$(dirname "$src")/"
done
check "stage 1 replayed: make deb in a context of only the COPY'd files" \
	make -s -C "$TMP/ctx" deb >"$TMP/ctx.out" 2>&1
check "stage 1 replayed: it built the package stage 2 copies" \
	test -s "$TMP/ctx/build/connwatch_${VERSION}_$ARCH.deb"
