# Benchmark-only binaries, built into build/bench/ by bench/run.sh with
# `make -f bench/bench.mk`. Needs build/vmlinux.h from the main build.
OUT	:= build
B	:= $(OUT)/bench
CLANG	?= clang
CC	?= gcc
BPFTOOL	?= bpftool
WARN	:= -Wall -Wextra -Werror
CFLAGS	?= -O2 -g

all: $(B)/hit_loop $(B)/floor $(B)/preload_ops $(B)/uring_nop

$(B):
	mkdir -p $@

# Frame pointers, like the fixtures (gcc still omits them in the leaf
# bench_conn_inc, whose first instruction is the unlocked add).
$(B)/hit_loop: bench/hit_loop.c | $(B)
	$(CC) $(CFLAGS) -fno-omit-frame-pointer $(WARN) $< -o $@

$(B)/preload_ops: bench/preload_ops.c | $(B)
	$(CC) $(CFLAGS) $(WARN) $< -o $@

$(B)/uring_nop: bench/uring_nop.c | $(B)
	$(CC) $(CFLAGS) $(WARN) $< -o $@ -luring

$(B)/floor.bpf.o: bench/floor.bpf.c $(OUT)/vmlinux.h | $(B)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
		-I$(OUT) -c $< -o $@

$(B)/floor.skel.h: $(B)/floor.bpf.o
	$(BPFTOOL) gen skeleton $< name floor_bpf > $@.tmp
	mv $@.tmp $@

$(B)/floor: bench/floor.c $(B)/floor.skel.h
	$(CC) $(CFLAGS) $(WARN) -I$(B) $< -o $@ -lbpf -lelf -lz

.PHONY: all
