# connwatch — see README.md. `make deps` installs what the build, tests and
# demo need on Debian 12; `make` leaves build/connwatch.
OUT        := build
CLANG      ?= clang
CC         ?= gcc
BPFTOOL    ?= bpftool
ARCH       := x86
VERSION    := 0.1.0

WARN       := -Wall -Wextra -Werror -Wno-format-truncation
CFLAGS     ?= -O2 -g
CFLAGS     += $(WARN) -std=gnu11 -D_GNU_SOURCE -DCW_VERSION='"$(VERSION)"' \
	      -I$(OUT) -Ibpf
LDLIBS     := -lbpf -ldw -lelf -lz -lcapstone -lyaml -lmicrohttpd -lcurl \
	      -lcrypt -lpthread

USER_MODULES := elf_symbols gopclntab go_inline go_offsets dwarf_inline disasm spec labels \
		utf8 presets procfs symbolize resolve attach pin anomalies anomaly_counts json alert_sinks \
		proc_tables \
		alert_push metrics summary preload_collector sock_sweep spawn daemon run \
		yaml_doc web_config config_file supervise privs
USER_OBJS  := $(patsubst %,$(OUT)/user/%.o,$(USER_MODULES))
BPF_OBJ    := $(OUT)/connwatch.bpf.o
SKEL       := $(OUT)/connwatch.skel.h

DEB_PKGS   := clang llvm libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev \
	      libcapstone-dev libmicrohttpd-dev libyaml-dev libcmocka-dev \
	      libclang-rt-14-dev pkg-config curl bpftrace procps nginx \
	      redis-server redis-tools wrk golang-go prometheus \
	      golang-github-lucas-clemente-quic-go-dev libcurl4-openssl-dev \
	      prometheus-alertmanager libcrypt-dev openssl python3 patch \
	      dpkg-dev binutils man-db liburing-dev

# Go 1.22, for a fixture with the 1.20+ pclntab layout; Debian 12 has it
# only in backports.
GO122      := /usr/lib/go-1.22/bin/go
BACKPORTS  := deb http://deb.debian.org/debian bookworm-backports main

.PHONY: all deps test unit integration bench demo install clean asan tsan deb

PRELOAD        := $(OUT)/libconnwatch-preload.so
PRELOAD_CFLAGS := -O2 -g -fPIC -shared $(WARN) -std=gnu11 -D_GNU_SOURCE \
		  -fvisibility=hidden

all: $(OUT)/connwatch $(PRELOAD) fixtures

deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all installed"; fi
	@dpkg-query -W -f='$${Status}' golang-1.22-go 2>/dev/null | \
		grep -q "install ok installed" && exit 0; \
	grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list \
		/etc/apt/sources.list.d/ || \
		echo '$(BACKPORTS)' > /etc/apt/sources.list.d/bookworm-backports.list; \
	echo "installing: golang-1.22-go (bookworm-backports)"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends golang-1.22-go || \
	{ echo "deps: golang-1.22-go not installed: the Go 1.20+ pclntab" \
		"tests need $(GO122) ($(BACKPORTS))"; exit 1; }

$(OUT) $(OUT)/user $(OUT)/fixtures $(OUT)/unit:
	mkdir -p $@

$(OUT)/vmlinux.h: | $(OUT)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp
	mv $@.tmp $@

$(BPF_OBJ): bpf/connwatch.bpf.c bpf/connwatch.h $(OUT)/vmlinux.h
	$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
		-Wall -Werror -I$(OUT) -Ibpf -c $< -o $@

$(SKEL): $(BPF_OBJ)
	$(BPFTOOL) gen skeleton $< name connwatch_bpf > $@.tmp
	mv $@.tmp $@

$(OUT)/user/%.o: user/%.c $(wildcard user/*.h user/preload/*.h) bpf/connwatch.h $(SKEL) | $(OUT)/user
	$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/connwatch: user/connwatch.c $(USER_OBJS) | $(OUT)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# The LD_PRELOAD shim, for hosts where eBPF is not allowed.
PRELOAD_SRCS   := user/preload/preload.c user/preload/preload_report.c
$(PRELOAD): $(PRELOAD_SRCS) $(wildcard user/preload/*.h) bpf/connwatch.h \
		| $(OUT)
	$(CC) $(PRELOAD_CFLAGS) -o $@ $(PRELOAD_SRCS) -ldl -lpthread

# connwatch under a sanitizer, for the tests that hammer it (tests/run.sh's
# sanitizer pass, test_scrape_lifecycle.sh): ASan+UBSan (`make asan`,
# build/asan/connwatch) and TSan (`make tsan`, build/tsan/connwatch). The
# same sources with the unit tests' clang flags, and the same skeleton.
SAN_FLAGS_asan = $(UNIT_SAN_CFLAGS)
SAN_FLAGS_tsan = $(filter-out -fsanitize=% -fno-sanitize-recover=%,\
		  $(UNIT_SAN_CFLAGS)) -fsanitize=thread
define sanitized_connwatch
$(1): $(OUT)/$(1)/connwatch

$(OUT)/$(1)/user:
	mkdir -p $$@

$(OUT)/$(1)/user/%.o: user/%.c $(wildcard user/*.h user/preload/*.h) \
		bpf/connwatch.h $(SKEL) | $(OUT)/$(1)/user
	$$(UNIT_SAN_CC) $$(SAN_FLAGS_$(1)) -DCW_VERSION='"$(VERSION)"' -c $$< -o $$@

$(OUT)/$(1)/connwatch: user/connwatch.c \
		$(patsubst %,$(OUT)/$(1)/user/%.o,$(USER_MODULES))
	$$(UNIT_SAN_CC) $$(SAN_FLAGS_$(1)) -DCW_VERSION='"$(VERSION)"' $$^ \
		-o $$@ $(LDLIBS)
endef
$(foreach san,asan tsan,$(eval $(call sanitized_connwatch,$(san))))

# --- fixtures: real servers with the bug, built with frame pointers ---
FIXTURE_CFLAGS := -O2 -g -fno-omit-frame-pointer $(WARN) -pthread
GO_FIXTURES := go_tracker h3_server h3_client go_inline go_close_twice go_net_http
GO_FIXTURE_BINS := $(foreach f,$(GO_FIXTURES),$(OUT)/fixtures/$(f) \
		   $(OUT)/fixtures/$(f).stripped)
# The seed's bug on the seed's code: quic_v048 built on v0.48.0's
# tracking (buggy) and with v0.48.1's fix (fixed), each stripped or not.
QUIC_V048_BINS := $(foreach v,buggy fixed,$(OUT)/fixtures/quic_v048_$(v) \
		  $(OUT)/fixtures/quic_v048_$(v).stripped)
GO122_FIXTURE_BINS := $(OUT)/fixtures/go_inline.go122 \
		      $(OUT)/fixtures/go_inline.go122.stripped \
		      $(OUT)/fixtures/go_net_http.go122 \
		      $(OUT)/fixtures/go_net_http.go122.stripped \
		      $(foreach v,buggy fixed,$(OUT)/fixtures/quic_v048_shape_$(v) \
			$(OUT)/fixtures/quic_v048_shape_$(v).stripped)
FIXTURES := $(OUT)/fixtures/tracker_server $(OUT)/fixtures/load_client \
	    $(OUT)/fixtures/storm_counter $(OUT)/fixtures/scale_objects \
	    $(OUT)/fixtures/double_close_server $(OUT)/fixtures/go_hello \
	    $(OUT)/fixtures/preload_paths_server \
	    $(OUT)/fixtures/sock_paths_server $(OUT)/fixtures/unnamed_frames \
	    $(GO_FIXTURE_BINS) $(GO122_FIXTURE_BINS) $(QUIC_V048_BINS)
fixtures: $(FIXTURES)
$(OUT)/fixtures/%: tests/fixtures/%.c | $(OUT)/fixtures
	$(CC) $(FIXTURE_CFLAGS) $< -o $@
$(OUT)/fixtures/double_close_server $(OUT)/fixtures/preload_paths_server: \
		tests/fixtures/fixture_server.h
# Every way a socket is accepted and closed, io_uring's too (liburing-dev).
$(OUT)/fixtures/sock_paths_server: tests/fixtures/sock_paths_server.c \
		tests/fixtures/fixture_server.h | $(OUT)/fixtures
	$(CC) $(FIXTURE_CFLAGS) $< -o $@ -luring

# Unstripped on purpose: its .symtab is the pclntab parser's ground truth.
$(OUT)/fixtures/go_hello: tests/fixtures/go_hello/main.go | $(OUT)/fixtures
	GOCACHE=$(abspath $(OUT))/gocache GOFLAGS= go build -o $@ $<

# Go fixtures, each twice: with DWARF and .symtab, and stripped (-s -w:
# names only in .gopclntab, like production Go). GOPATH mode, offline:
# the h3 ones use quic-go 0.29 from golang-github-lucas-clemente-quic-go-dev,
# and what the fixtures share from tests/fixtures/gopath.
FIXTURE_GOPATH := $(abspath tests/fixtures/gopath)
FIXTURE_GO_SRC := $(shell find tests/fixtures/gopath -name '*.go')
GO_FIXTURE_ENV := GOCACHE=$(abspath $(OUT))/gocache GOFLAGS= \
		  GOPATH=/usr/share/gocode:$(FIXTURE_GOPATH) GO111MODULE=off
$(filter-out %.stripped,$(GO_FIXTURE_BINS)): $(OUT)/fixtures/%: \
		tests/fixtures/%/main.go $(FIXTURE_GO_SRC) | $(OUT)/fixtures
	$(GO_FIXTURE_ENV) go build -o $@ $<
$(filter %.stripped,$(GO_FIXTURE_BINS)): $(OUT)/fixtures/%.stripped: \
		tests/fixtures/%/main.go $(FIXTURE_GO_SRC) | $(OUT)/fixtures
	$(GO_FIXTURE_ENV) go build -ldflags='-s -w' -o $@ $<

# Go 1.19 cannot build quic-go v0.48, so Debian's quic-go 0.29 (3.5 MB
# of source) is copied into a GOPATH overlay, first on GOPATH so that it
# wins over /usr/share/gocode, and its http3 package patched: buggy gets
# v0.48.0's connection tracking, fixed also gets v0.48.1's fix.
QUIC_GO_SRC := /usr/share/gocode/src/github.com/lucas-clemente/quic-go
V048_DIR    := tests/fixtures/quic_v048
V048_PATCHES_buggy := $(V048_DIR)/v0.48.0-conn-tracking.patch
V048_PATCHES_fixed := $(V048_PATCHES_buggy) $(V048_DIR)/v0.48.1-fix.patch
$(OUT)/gopath-%/.patched: $(V048_DIR)/v0.48.0-conn-tracking.patch \
		$(V048_DIR)/v0.48.1-fix.patch
	rm -rf $(@D)
	mkdir -p $(@D)/src/github.com/lucas-clemente
	cp -r $(QUIC_GO_SRC) $(@D)/src/github.com/lucas-clemente/
	for p in $(V048_PATCHES_$*); do \
		patch -s -p1 -d $(@D)/src/github.com/lucas-clemente/quic-go \
			< $$p || exit 1; done
	touch $@
.SECONDARY: $(OUT)/gopath-buggy/.patched $(OUT)/gopath-fixed/.patched
V048_ENV = GOCACHE=$(abspath $(OUT))/gocache GOFLAGS= GO111MODULE=off \
	   GOPATH=$(abspath $(OUT))/gopath-$*:/usr/share/gocode:$(FIXTURE_GOPATH)
$(OUT)/fixtures/quic_v048_%: $(V048_DIR)/main.go $(FIXTURE_GO_SRC) \
		$(OUT)/gopath-%/.patched \
		| $(OUT)/fixtures
	$(V048_ENV) go build -o $@ ./$(V048_DIR)
$(OUT)/fixtures/quic_v048_%.stripped: $(V048_DIR)/main.go $(FIXTURE_GO_SRC) \
		$(OUT)/gopath-%/.patched | $(OUT)/fixtures
	$(V048_ENV) go build -ldflags='-s -w' -o $@ ./$(V048_DIR)

# go_inline again with Go 1.22: the inline tree of the 1.20+ layout;
# go_net_http: the runtime's itab is internal/abi.ITab from 1.22.
$(OUT)/fixtures/%.go122: tests/fixtures/%/main.go $(FIXTURE_GO_SRC) $(GO122) \
		| $(OUT)/fixtures
	$(GO_FIXTURE_ENV) $(GO122) build -o $@ $<
$(OUT)/fixtures/%.go122.stripped: tests/fixtures/%/main.go $(FIXTURE_GO_SRC) \
		$(GO122) | $(OUT)/fixtures
	$(GO_FIXTURE_ENV) $(GO122) build -ldflags='-s -w' -o $@ $<
# v0.48.0's http3.Server shape (TCP for QUIC) at quic-go's new module
# path, built by Go 1.22, which inlines decreaseConnCount into its
# deferred calls; fixed: -tags fixed (v0.48.1's decreaseConnCount).
SHAPE_DIR := tests/fixtures/quic_v048_shape
SHAPE_PKG := $(OUT)/gopath-shape/src/github.com/quic-go/quic-go/http3
SHAPE_ENV := GOCACHE=$(abspath $(OUT))/gocache GOFLAGS= GO111MODULE=off \
	     GOPATH=$(abspath $(OUT))/gopath-shape
SHAPE_TAGS_buggy :=
SHAPE_TAGS_fixed := -tags fixed
$(SHAPE_PKG)/.copied: $(wildcard $(SHAPE_DIR)/http3/*.go)
	rm -rf $(@D)
	mkdir -p $(@D)
	cp $^ $(@D)/
	touch $@
.SECONDARY: $(SHAPE_PKG)/.copied
$(OUT)/fixtures/quic_v048_shape_%: $(SHAPE_DIR)/main.go $(SHAPE_PKG)/.copied \
		$(GO122) | $(OUT)/fixtures
	$(SHAPE_ENV) $(GO122) build $(SHAPE_TAGS_$*) -o $@ ./$(SHAPE_DIR)
$(OUT)/fixtures/quic_v048_shape_%.stripped: $(SHAPE_DIR)/main.go \
		$(SHAPE_PKG)/.copied $(GO122) | $(OUT)/fixtures
	$(SHAPE_ENV) $(GO122) build $(SHAPE_TAGS_$*) -ldflags='-s -w' \
		-o $@ ./$(SHAPE_DIR)
$(GO122):
	@echo "$@ missing: run 'make deps' (golang-1.22-go, bookworm-backports)"
	@exit 1

# --- tests ---
include tests/unit/unit.mk
include tests/fuzz/fuzz.mk

test: deps
	$(MAKE) all unit-bins
	tests/run.sh

bench: deps all
	bench/run.sh

demo: deps all
	tests/demo.sh

install: all
	install -D -m 0755 $(OUT)/connwatch /usr/local/bin/connwatch
	install -D -m 0644 $(PRELOAD) /usr/local/lib/connwatch/libconnwatch-preload.so
	install -D -m 0644 deploy/connwatch.8 /usr/local/share/man/man8/connwatch.8
	install -D -m 0644 deploy/connwatch@.service \
		/usr/local/lib/systemd/system/connwatch@.service
	install -D -m 0644 deploy/connwatch-collect.service \
		/usr/local/lib/systemd/system/connwatch-collect.service
	install -D -m 0644 -t /usr/local/share/doc/connwatch \
		deploy/connwatch.env.example deploy/connwatch-preload.conf \
		deploy/web.yml.example
	-[ -d /run/systemd/system ] && systemctl daemon-reload

# A Debian package of the binary and the shim (deploy/deb.sh: the paths,
# Depends from what they link); nothing else is built for it.
deb: $(OUT)/connwatch $(PRELOAD)
	deploy/deb.sh $(VERSION) $(OUT)

clean:
	rm -rf $(OUT)
