#!/bin/bash
# deploy/deb.sh VERSION OUTDIR: builds OUTDIR/connwatch_VERSION_ARCH.deb
# from what `make` left in build/ (`make deb` runs it). Debian paths, so
# nothing of `make install`'s /usr/local is touched:
#   /usr/bin/connwatch, /usr/lib/connwatch/libconnwatch-preload.so (where
#   `run --preload` looks: ../lib/connwatch/ beside the binary),
#   /usr/share/man/man8/connwatch.8.gz, /lib/systemd/system/*.service,
#   /usr/share/doc/connwatch/examples/ (env, drop-in, web config).
# Depends is computed by dpkg-shlibdeps from the libraries the binary and
# the shim link, so it is what they need on the installing machine.
set -euo pipefail

VERSION=$1
OUT=$2
ARCH=$(dpkg --print-architecture)
DEB=$OUT/connwatch_${VERSION}_$ARCH.deb
# dpkg-shlibdeps wants the tree at debian/PACKAGE (with its DEBIAN/)
# beside debian/control.
WORK=$(mktemp -d "$(realpath "$OUT")/deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/debian/connwatch
mkdir -p "$ROOT/DEBIAN"
chmod 0755 "$ROOT" "$ROOT/DEBIAN"
printf 'Source: connwatch\n\nPackage: connwatch\nArchitecture: any\n' \
	>"$WORK/debian/control"

# The units and the drop-in name `make install`'s /usr/local paths.
to_usr() { sed -e 's|/usr/local/bin/|/usr/bin/|g' -e 's|/usr/local/lib/|/usr/lib/|g' "$1"; }

install -D -m 0755 "$OUT/connwatch" "$ROOT/usr/bin/connwatch"
install -D -m 0644 "$OUT/libconnwatch-preload.so" \
	"$ROOT/usr/lib/connwatch/libconnwatch-preload.so"
mkdir -p "$ROOT/usr/share/man/man8" "$ROOT/lib/systemd/system" \
	"$ROOT/usr/share/doc/connwatch/examples"
gzip -9n <deploy/connwatch.8 >"$ROOT/usr/share/man/man8/connwatch.8.gz"
for unit in connwatch@.service connwatch-collect.service; do
	to_usr "deploy/$unit" >"$ROOT/lib/systemd/system/$unit"
done
for f in connwatch.env.example connwatch-preload.conf web.yml.example; do
	to_usr "deploy/$f" >"$ROOT/usr/share/doc/connwatch/examples/$f"
done
printf 'connwatch\nLicense: LGPL-2.1 OR BSD-2-Clause\n' \
	>"$ROOT/usr/share/doc/connwatch/copyright"
chmod -R u=rwX,go=rX "$ROOT/usr" "$ROOT/lib"
strip --strip-unneeded "$ROOT/usr/bin/connwatch" \
	"$ROOT/usr/lib/connwatch/libconnwatch-preload.so"

DEPENDS=$(cd "$WORK" && dpkg-shlibdeps -O debian/connwatch/usr/bin/connwatch \
	debian/connwatch/usr/lib/connwatch/libconnwatch-preload.so |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$DEPENDS" ] || { echo "deb.sh: dpkg-shlibdeps gave no dependencies" >&2; exit 1; }

cat >"$ROOT/DEBIAN/control" <<EOF
Package: connwatch
Version: $VERSION
Architecture: $ARCH
Maintainer: connwatch developers <connwatch@localhost>
Section: admin
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
Depends: $DEPENDS
Description: alerts before a server's connection accounting crashes it
 eBPF uprobes on a running server's accept/close, counter and drain
 functions keep a shadow of its connection accounting in the kernel and
 report counter underflow and duplicate drain signals (quic-go#4705 and
 its family) with a symbolized stack, on disk, as Prometheus metrics.
 An LD_PRELOAD shim does the socket-level part where eBPF is not allowed.
EOF
dpkg-deb --root-owner-group --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"
echo "Depends: $DEPENDS"
