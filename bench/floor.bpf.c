// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark floor: the cheapest useful program, a per-CPU counter
 * bump, on a uprobe or on the syscall tracepoints the sockets preset
 * uses at every accept and close. What connwatch costs above this is
 * what its own accounting adds; the rest is the uprobe trap, or the
 * kernel's syscall tracing path, that any tool there pays. On acct(2),
 * which nothing calls, the tracing path alone: once any syscall
 * tracepoint is on, every system call on the host takes it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static int bump(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&hits, &zero);

	if (n)
		*n += 1;
	return 0;
}

SEC("uprobe")
int count_hit(void *ctx)
{
	return bump();
}

SEC("tracepoint/syscalls/sys_exit_accept")
int count_accept(void *ctx)
{
	return bump();
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int count_accept4(void *ctx)
{
	return bump();
}

SEC("tracepoint/syscalls/sys_enter_close")
int count_close(void *ctx)
{
	return bump();
}

SEC("tracepoint/syscalls/sys_enter_acct")
int count_acct(void *ctx)
{
	return bump();
}
