# libFuzzer harnesses, one per parser of untrusted input, included by the
# top-level Makefile. Each is built with clang's libFuzzer under
# ASan+UBSan, with the modules it covers compiled in from their sources
# (as the unit tests are). Seeds are made at build time from real inputs
# (tests/fuzz/seeds.sh); nothing large is checked in.
#
#   make fuzz                     each harness for FUZZ_SECONDS (600)
#   make fuzz FUZZ=json FUZZ_SECONDS=60
#   make fuzz-bins fuzz-seeds     what `make test`'s smoke runs on
#
# A crash found: copy the artifact to tests/fuzz/regressions/HARNESS/,
# where tests/integration/test_fuzz_smoke.sh replays it on every run.

# One per tests/fuzz/fuzz_NAME.c.
FUZZ_HARNESSES	:= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ		?= $(FUZZ_HARNESSES)
FUZZ_SECONDS	?= 600
FUZZ_OUT	:= $(OUT)/fuzz
FUZZ_CC		?= clang
FUZZ_CFLAGS	= -O1 -g -fsanitize=fuzzer,address,undefined \
		  -fno-omit-frame-pointer -fno-sanitize-recover=all \
		  -Wno-unknown-warning-option $(WARN) -std=gnu11 -D_GNU_SOURCE \
		  -I$(OUT) -Ibpf
FUZZ_BINS	:= $(patsubst %,$(FUZZ_OUT)/fuzz_%,$(FUZZ_HARNESSES))
FUZZ_DEPS	:= $(wildcard user/*.h user/preload/*.h tests/fuzz/*.h) \
		   bpf/connwatch.h

# The modules each harness covers, and what they link.
$(FUZZ_OUT)/fuzz_elf_symbols: user/elf_symbols.c
FUZZ_LIBS_elf_symbols	:= -lelf
$(FUZZ_OUT)/fuzz_gopclntab: user/gopclntab.c user/go_inline.c \
	user/elf_symbols.c
FUZZ_LIBS_gopclntab	:= -lelf
$(FUZZ_OUT)/fuzz_dwarf_inline: user/dwarf_inline.c user/elf_symbols.c
FUZZ_LIBS_dwarf_inline	:= -ldw -lelf
$(FUZZ_OUT)/fuzz_disasm: user/disasm.c
FUZZ_LIBS_disasm	:= -lcapstone
$(FUZZ_OUT)/fuzz_spec: user/spec.c user/yaml_doc.c
FUZZ_LIBS_spec		:= -lyaml
$(FUZZ_OUT)/fuzz_config: user/config_file.c user/spec.c user/yaml_doc.c \
	user/presets.c user/go_offsets.c user/elf_symbols.c user/gopclntab.c \
	user/go_inline.c user/labels.c user/utf8.c user/privs.c
FUZZ_LIBS_config	:= -lyaml -ldw -lelf -Wl,--wrap=fopen
$(FUZZ_OUT)/fuzz_web_config: user/web_config.c user/yaml_doc.c
FUZZ_LIBS_web_config	:= -lyaml -lcrypt -Wl,--wrap=fopen
$(FUZZ_OUT)/fuzz_preload: user/preload_collector.c user/labels.c user/utf8.c \
	user/procfs.c
FUZZ_LIBS_preload	:= -lpthread
$(FUZZ_OUT)/fuzz_proc_maps: user/procfs.c
FUZZ_LIBS_proc_maps	:=
$(FUZZ_OUT)/fuzz_json: user/json.c user/alert_sinks.c user/labels.c \
	user/utf8.c
FUZZ_LIBS_json		:=

$(FUZZ_OUT):
	mkdir -p $@

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DEPS) | $(FUZZ_OUT)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(filter %.c,$^) -o $@ $(FUZZ_LIBS_$*)

# Seeds from the fixtures, the specs and examples of this tree, and a
# few system binaries: remade when any of them is newer.
FUZZ_SEEDS	:= $(FUZZ_OUT)/seeds/.made
$(FUZZ_SEEDS): tests/fuzz/seeds.sh $(FIXTURES) $(PRELOAD) \
		$(OUT)/unit/test_gopclntab $(wildcard tests/specs/*.yaml) \
		deploy/web.yml.example README.md | $(FUZZ_OUT)
	tests/fuzz/seeds.sh $(FUZZ_OUT)/seeds
	touch $@

.PHONY: fuzz fuzz-bins fuzz-seeds
fuzz-bins: $(FUZZ_BINS)
fuzz-seeds: $(FUZZ_SEEDS)
# `make test` runs the smoke: it needs both.
unit-bins: fuzz-bins fuzz-seeds

fuzz: fuzz-bins fuzz-seeds
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ)
