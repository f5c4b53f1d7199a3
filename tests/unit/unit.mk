# cmocka unit tests, included by the top-level Makefile. Each test is
# built twice: build/unit/T with $(CC) $(CFLAGS), and build/unit-san/T
# with clang under ASan+UBSan, with the same warnings (less the gcc-only
# -Wno-format-truncation, which clang would reject as unknown). The module
# under test is compiled into the test from its source, not linked from
# build/user/*.o, so that the sanitizer build instruments it too; none of
# these modules needs the BPF skeleton.

UNIT_TESTS	:= test_spec test_elf_symbols test_disasm test_gopclntab \
		   test_alert_sinks test_limits test_labels test_symbolize \
		   test_go_offsets
UNIT_LDLIBS	:= -lcmocka -ldw -lelf -lz -lcapstone -lyaml
UNIT_SAN_CC	?= clang
UNIT_SAN_CFLAGS	= -O1 -g -fsanitize=address,undefined \
		  -fno-omit-frame-pointer -fno-sanitize-recover=all \
		  -Wno-unknown-warning-option $(WARN) -std=gnu11 -D_GNU_SOURCE \
		  -I$(OUT) -Ibpf
UNIT_DEPS	:= $(wildcard user/*.h tests/unit/*.h) bpf/connwatch.h
UNIT_BINS	:= $(foreach t,$(UNIT_TESTS),$(OUT)/unit/$(t) $(OUT)/unit-san/$(t))

# The module each test covers (added to the pattern rules' sources).
$(OUT)/unit/test_spec $(OUT)/unit-san/test_spec: user/spec.c user/yaml_doc.c
$(OUT)/unit/test_elf_symbols $(OUT)/unit-san/test_elf_symbols: \
	user/elf_symbols.c
$(OUT)/unit/test_disasm $(OUT)/unit-san/test_disasm: user/disasm.c
$(OUT)/unit/test_gopclntab $(OUT)/unit-san/test_gopclntab: \
	user/gopclntab.c user/go_inline.c user/elf_symbols.c user/dwarf_inline.c
$(OUT)/unit/test_alert_sinks $(OUT)/unit-san/test_alert_sinks: \
	user/alert_sinks.c user/json.c user/utf8.c
$(OUT)/unit/test_labels $(OUT)/unit-san/test_labels: user/labels.c user/utf8.c
$(OUT)/unit/test_symbolize $(OUT)/unit-san/test_symbolize: user/symbolize.c \
	user/procfs.c user/elf_symbols.c user/gopclntab.c user/go_inline.c \
	user/dwarf_inline.c
$(OUT)/unit/test_go_offsets $(OUT)/unit-san/test_go_offsets: \
	user/go_offsets.c user/elf_symbols.c user/gopclntab.c user/go_inline.c \
	user/dwarf_inline.c
$(OUT)/unit/test_limits $(OUT)/unit-san/test_limits: user/elf_symbols.c \
	user/gopclntab.c user/go_inline.c user/dwarf_inline.c user/spec.c \
	user/yaml_doc.c

.PHONY: unit-bins
# asan, tsan: the sanitized connwatch builds tests/run.sh runs tests with.
unit-bins: $(UNIT_BINS) fixtures asan tsan

# $(OUT)/unit's mkdir rule is in the top-level Makefile.
$(OUT)/unit-san:
	mkdir -p $@

$(OUT)/unit/%: tests/unit/%.c $(UNIT_DEPS) | $(OUT)/unit
	$(CC) $(CFLAGS) $(filter %.c,$^) -o $@ $(UNIT_LDLIBS)

$(OUT)/unit-san/%: tests/unit/%.c $(UNIT_DEPS) | $(OUT)/unit-san
	$(UNIT_SAN_CC) $(UNIT_SAN_CFLAGS) $(filter %.c,$^) -o $@ $(UNIT_LDLIBS)

# `make unit`: every unit test, both builds, TAP on stdout. The fixture
# path is relative to the repo root, where make runs.
unit: unit-bins
	@rc=0; for t in $(UNIT_BINS); do \
		echo "# $$t"; \
		CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1 $$t || rc=1; \
	done; exit $$rc
