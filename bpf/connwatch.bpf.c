// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * connwatch kernel side: one uprobe program attached once per probe site
 * (the attach cookie says which probe and which site), keeping the shadow
 * of the target's connection accounting in maps. Nothing goes to user
 * space per event: only anomalies and watched-process exits go through
 * the ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "connwatch.h"

#define EBADF_ERRNO 9	/* vmlinux.h has no errno values */
#define E2BIG_ERRNO 7	/* a hash map's insert when it is full */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CW_MAX_PROBES);
	__type(key, __u32);
	__type(value, struct cw_probe_cfg);
} probes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CW_MAX_PROBES);
	__type(key, __u32);
	__type(value, __u64);
} probe_hits SEC(".maps");

/* Detection state per key, and tombstones of keys that balanced. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CW_DEFAULT_MAX_KEYS);
	__type(key, struct cw_acct_key);
	__type(value, struct cw_acct);
} acct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CW_TOMBSTONES(CW_DEFAULT_MAX_KEYS));
	__type(key, struct cw_acct_key);
	__type(value, __u32);
} tombstones SEC(".maps");

/*
 * The counts per (process, target). Not LRU: a count is never evicted.
 * User space folds the entries of a process gone into totals_unkeyed
 * (after --exited-grace); what finds no room goes there at once.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CW_DEFAULT_MAX_PROCS);
	__type(key, struct cw_proc_key);
	__type(value, struct cw_totals);
} totals SEC(".maps");

struct cw_totals totals_unkeyed[CW_MAX_TARGET_SPECS];
/*
 * Keys in acct, as counted here: an LRU eviction goes unseen, so this
 * only overestimates. Below acct_evicts_above (set by user space from the
 * map's size, less what the per-CPU free lists may hold), no key was
 * evicted: a key not found is new.
 */
__s64 acct_keys;
const volatile __s64 acct_evicts_above = CW_DEFAULT_MAX_KEYS;
/* Inserts refused by a full table (enum cw_table): said once, counted. */
__u64 table_full[CW_TABLE__COUNT];

/*
 * A thread between a probe's entry and exit: what the exit needs. The
 * owner is the thread (C), or the goroutine (Go: it may move to another
 * thread between entry and RET). Two processes of one Go binary have
 * goroutines at the same addresses, and an entry left by a process gone
 * since (the map outlives connwatch) must not meet a new one's RET: the
 * process is part of the key.
 */
struct inflight_key {
	__u64 owner;
	__u32 slot;
	__u32 tgid;
};

struct inflight_val {
	__u64 key;
	__u64 counter_base;
};

/* LRU: a thread that never reaches a RET (longjmp, panic) ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CW_MAX_INFLIGHT);
	__type(key, struct inflight_key);
	__type(value, struct inflight_val);
} inflight SEC(".maps");

/*
 * Processes whose exit the daemon wants to hear about, with their start
 * time: a later connwatch adopting this map tells the process from
 * another one that got its pid since.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CW_DEFAULT_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u64);	/* start, clock ticks since boot */
} watched SEC(".maps");

/*
 * Processes that were already running when connwatch attached: their
 * shadow starts unknown (connections may be open), so a decrement below
 * zero is a pre-attach connection ending, not an underflow, until the
 * shadow is known exact (seeded from the real counter, or a drain).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CW_DEFAULT_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u32);
} preexisting SEC(".maps");

/* The sockets preset's processes (below), with their target. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CW_DEFAULT_MAX_PROCS);
	__type(key, __u32);		/* tgid */
	__type(value, __u32);		/* target_id */
} sock_targets SEC(".maps");

/* sock_targets, direct-mapped (see CW_SOCK_SLOTS). */
__u64 sock_slots[CW_SOCK_SLOTS];

/*
 * The current process' start, as /proc/PID/stat has it: what tells it
 * from a later process given its pid. Plain loads through BTF pointers.
 */
static __u64 current_start_ticks(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return task->group_leader->start_boottime / CW_NS_PER_TICK;
}

/* tgid's entry in sock_targets, if any: a clear slot says none. */
static __u32 *sock_target_id(__u32 tgid)
{
	if (!sock_slots[CW_SOCK_SLOT(tgid)])
		return NULL;
	return bpf_map_lookup_elem(&sock_targets, &tgid);
}

/*
 * The current process, tgid, is in sock_targets. Every close and accept
 * on the host asks: the process its slot names, and every process whose
 * slot is clear, are answered by that one load.
 */
static int sock_watched(__u32 tgid)
{
	__u64 slot = sock_slots[CW_SOCK_SLOT(tgid)];

	if (!slot)
		return 0;
	if (slot == cw_sock_who(tgid, current_start_ticks()))
		return 1;
	return bpf_map_lookup_elem(&sock_targets, &tgid) != NULL;
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CW_RINGBUF_BYTES);
} records SEC(".maps");

__u64 records_lost = 0;

/*
 * Set by user space once every uprobe of the session is attached: they
 * attach one after another, and a connection opened between the open
 * probe's attach and the close probe's never closed (connections_open
 * one above for good after an attach mid-load). One store: all go live.
 */
__u32 probes_live = 0;
/* --on-critical stop: SIGSTOP the target at the critical event. */
const volatile __u32 stop_on_critical = 0;

#define SIGSTOP_NR 19

/*
 * Processes already frozen once. One incident raises several criticals
 * (duplicate_drain at the load, close_of_closed_channel in closechan a
 * few instructions later): the first freezes the process, and once the
 * user resumes it the rest must let it run.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CW_DEFAULT_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u32);
} stopped SEC(".maps");

/* Whether this critical event freezes the process: its first one. */
static int first_stop(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, one = 1;

	return !bpf_map_update_elem(&stopped, &tgid, &one, BPF_NOEXIST);
}

/*
 * One register of the probed context. The verifier allows only constant
 * offsets into ctx, and clang merges plain loads of different fields
 * into one load at a computed offset: an asm load per field keeps each
 * offset a constant.
 */
#define CTX_REG(ctx, field) ({						\
	__u64 __v;							\
	asm volatile("%0 = *(u64 *)(%1 + %2)" : "=r"(__v)		\
		     : "r"(ctx), "i"(__builtin_offsetof(struct pt_regs, field))); \
	__v;								\
})

/* Go >= 1.17 register ABI: rax, rbx, rcx, rdi, rsi, r8, r9, r10, r11. */
static __always_inline __u64 go_arg(struct pt_regs *ctx, __u32 n)
{
	switch (n) {
	case 0: return CTX_REG(ctx, ax);
	case 1: return CTX_REG(ctx, bx);
	case 2: return CTX_REG(ctx, cx);
	case 3: return CTX_REG(ctx, di);
	case 4: return CTX_REG(ctx, si);
	case 5: return CTX_REG(ctx, r8);
	case 6: return CTX_REG(ctx, r9);
	case 7: return CTX_REG(ctx, r10);
	default: return CTX_REG(ctx, r11);
	}
}

/* System V AMD64: rdi, rsi, rdx, rcx, r8, r9. */
static __always_inline __u64 sysv_arg(struct pt_regs *ctx, __u32 n)
{
	switch (n) {
	case 0: return CTX_REG(ctx, di);
	case 1: return CTX_REG(ctx, si);
	case 2: return CTX_REG(ctx, dx);
	case 3: return CTX_REG(ctx, cx);
	case 4: return CTX_REG(ctx, r8);
	default: return CTX_REG(ctx, r9);
	}
}

static __always_inline __u64 arg_reg(struct pt_regs *ctx,
				     const struct cw_probe_cfg *cfg, __u32 n)
{
	return cfg->abi == CW_ABI_GO ? go_arg(ctx, n) : sysv_arg(ctx, n);
}

/* The register a call site's cookie names (enum cw_reg). */
static __always_inline __u64 site_reg(struct pt_regs *ctx, __u32 reg)
{
	switch (reg) {
	case CW_REG_RAX: return CTX_REG(ctx, ax);
	case CW_REG_RBX: return CTX_REG(ctx, bx);
	case CW_REG_RCX: return CTX_REG(ctx, cx);
	case CW_REG_RDX: return CTX_REG(ctx, dx);
	case CW_REG_RSI: return CTX_REG(ctx, si);
	case CW_REG_RDI: return CTX_REG(ctx, di);
	case CW_REG_RBP: return CTX_REG(ctx, bp);
	case CW_REG_R8: return CTX_REG(ctx, r8);
	case CW_REG_R9: return CTX_REG(ctx, r9);
	case CW_REG_R10: return CTX_REG(ctx, r10);
	case CW_REG_R11: return CTX_REG(ctx, r11);
	case CW_REG_R12: return CTX_REG(ctx, r12);
	case CW_REG_R13: return CTX_REG(ctx, r13);
	case CW_REG_R14: return CTX_REG(ctx, r14);
	case CW_REG_R15: return CTX_REG(ctx, r15);
	}
	return 0;
}

/* cookie_reg: the site's key register, for CW_KEY_SITE_REG. */
static __always_inline __u64 probe_key(struct pt_regs *ctx,
				       const struct cw_probe_cfg *cfg,
				       __u32 cookie_reg)
{
	if (cfg->key_source == CW_KEY_ARG)
		return arg_reg(ctx, cfg, cfg->key_arg);
	if (cfg->key_source == CW_KEY_SITE_REG)
		return site_reg(ctx, cookie_reg);
	return 0;
}

/* Who is between entry and exit: the goroutine in Go, else the thread. */
static __always_inline struct inflight_key
inflight_of(struct pt_regs *ctx, const struct cw_probe_cfg *cfg, __u32 slot)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct inflight_key ik = { .owner = (__u32)pid_tgid, .slot = slot,
				   .tgid = pid_tgid >> 32 };

	if (cfg->abi == CW_ABI_GO)
		ik.owner = CTX_REG(ctx, r14);
	return ik;
}

static __always_inline __u64 counter_base(struct pt_regs *ctx,
					  const struct cw_probe_cfg *cfg)
{
	if (cfg->counter_type == CW_CTR_NONE)
		return 0;
	return arg_reg(ctx, cfg, cfg->counter_arg);
}

/* One probe hit, as the helpers below see it. */
struct hit {
	struct pt_regs *ctx;
	const struct cw_probe_cfg *cfg;
	struct cw_acct *st;	/* NULL for the preset checks */
	struct cw_totals *tot;	/* the counts of the process */
	__u64 key;
	__u64 base;		/* of the counter read */
	__u32 slot;
	__u32 site;		/* enum cw_site */
	__s64 shadow;		/* what a check (no st) reports */
	__s64 counter;		/* this hit's read of the real counter */
	__u32 counter_read;
};


/* An insert into a table refused: it is full (or a race lost: not). */
static void note_full(long err, __u32 table)
{
	if (err == -E2BIG_ERRNO && table < CW_TABLE__COUNT)
		__sync_fetch_and_add(&table_full[table], 1);
}

/* Asks to be told when the current process exits. */
static long watch_current(__u32 tgid)
{
	__u64 start = current_start_ticks();

	return bpf_map_update_elem(&watched, &tgid, &start, BPF_NOEXIST);
}

/*
 * The counts of (process, target); the target's own, without a pid, when
 * the table is full: a count is never lost.
 */
static struct cw_totals *totals_get(__u32 tgid, __u32 target_id)
{
	struct cw_proc_key k = { .tgid = tgid, .target_id = target_id };
	static const struct cw_totals zero;
	struct cw_totals *t;

	t = bpf_map_lookup_elem(&totals, &k);
	if (t) {
		/*
		 * The counts of one that exited stay for its grace: a new
		 * process given its pid counts in them, and is watched too
		 * (a full table was counted at the first refusal).
		 */
		if (!bpf_map_lookup_elem(&watched, &tgid))
			watch_current(tgid);
		return t;
	}
	/* First hit of this process: ask to be told when it exits. */
	note_full(watch_current(tgid), CW_TABLE_WATCHED);
	note_full(bpf_map_update_elem(&totals, &k, &zero, BPF_NOEXIST),
		  CW_TABLE_TOTALS);
	t = bpf_map_lookup_elem(&totals, &k);
	if (t || target_id >= CW_MAX_TARGET_SPECS)
		return t;
	return &totals_unkeyed[target_id];
}

static int ends_object(__u32 role)
{
	return role == CW_ROLE_CLOSE || role == CW_ROLE_DEC;
}

/*
 * The detection state of the hit's key, made on its first hit. A tombstone
 * says the key balanced while its shadow was exact: a close now is one
 * too many. The process key is exact unless the process ran before
 * attach. A close or dec of an object never seen is exact too, as the
 * first hit of a process watched from its start, unless the table may
 * have evicted its entry; else (evicted, or begun before attach) its
 * shadow is unknown: no entry (NULL: counted, never judged), unless the
 * real counter is read, which seeds it.
 */
static struct cw_acct *acct_get(const struct hit *h, __u32 tgid, __u32 role)
{
	struct cw_acct_key k = { .tgid = tgid,
				 .target_id = h->cfg->target_id, .key = h->key };
	struct cw_acct fresh = {};
	struct cw_acct *st;
	int pre;

	st = bpf_map_lookup_elem(&acct, &k);
	if (st)
		return st;
	pre = !!bpf_map_lookup_elem(&preexisting, &tgid);
	if (!bpf_map_delete_elem(&tombstones, &k))
		fresh.armed = 1;
	else if (!ends_object(role) || h->cfg->key_source == CW_KEY_PROCESS)
		fresh.armed = !pre;
	else if (!pre && acct_keys < acct_evicts_above)
		fresh.armed = 1;
	else if (h->cfg->counter_type == CW_CTR_NONE)
		return NULL;
	if (!bpf_map_update_elem(&acct, &k, &fresh, BPF_NOEXIST))
		__sync_fetch_and_add(&acct_keys, 1);
	return bpf_map_lookup_elem(&acct, &k);
}

/*
 * An object that balanced (closed, its count back to zero, exact, never
 * below zero, no drain state) needs no entry: a tombstone remembers it
 * was closed. One that went below zero keeps its entry, and its lowest
 * count: the next new low alone is news. The process key keeps its
 * entry: it holds the drain state. So does a seeded shadow: its zero is
 * a view that may be one off, and a fresh entry after a tombstone would
 * be judged as exact (a false underflow on a correct server).
 */
static void settle(const struct cw_probe_cfg *cfg, const struct cw_acct *st,
		   const struct cw_acct_key *k)
{
	__u32 one = 1;

	if (cfg->key_source == CW_KEY_PROCESS || !st->armed || st->seeded ||
	    st->live || st->count || st->low || st->drained ||
	    st->shutdown || st->inside_dec)
		return;
	bpf_map_update_elem(&tombstones, k, &one, BPF_ANY);
	if (!bpf_map_delete_elem(&acct, k))
		__sync_fetch_and_add(&acct_keys, -1);
}

/*
 * Reads the counter at base + offset. 32-bit counters are sign-extended
 * both ways: a wrapped unsigned count reads as negative, as it should.
 */
static int read_s64(const struct cw_probe_cfg *cfg, __u64 base, __s64 *val)
{
	void *addr = (void *)(base + cfg->counter_offset);
	__s32 v32;

	if (cfg->counter_type == CW_CTR_NONE || !base)
		return -1;
	if (cfg->counter_type == CW_CTR_S64 || cfg->counter_type == CW_CTR_U64)
		return bpf_probe_read_user(val, sizeof(*val), addr);
	if (bpf_probe_read_user(&v32, sizeof(v32), addr))
		return -1;
	*val = v32;
	return 0;
}

/* Reads the real counter into st and tot; returns 1 when it was read. */
static int read_counter(const struct cw_probe_cfg *cfg, __u64 base,
			struct cw_acct *st, struct cw_totals *tot, __s64 *val)
{
	if (read_s64(cfg, base, val))
		return 0;
	st->counter_value = *val;
	st->counter_read = 1;
	tot->counter_value = *val;
	tot->counter_read = 1;
	return 1;
}

/* Anomaly counts per (process, target, kind): see connwatch.h. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CW_MAX_ANOM_COUNTS);
	__type(key, struct cw_anom_key);
	__type(value, __u64);
} anomaly_counts SEC(".maps");

/*
 * Per target and kind: what anomaly_counts had no room for, and what
 * user space folded in from processes that exited (atomically, through
 * the .bss mapping).
 */
__u64 anomalies_unkeyed[CW_MAX_TARGET_SPECS][CW_ANOM__COUNT];

/* Rate limit state per (process, target, key, kind): see connwatch.h. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CW_MAX_KEYS);
	__type(key, struct cw_rate_key);
	__type(value, struct cw_rate);
} rates SEC(".maps");

/* Counted before the record is reserved: a full ring buffer loses no count. */
static void count_anomaly(const struct cw_rate_key *rk)
{
	struct cw_anom_key k = { .tgid = rk->tgid, .target_id = rk->target_id,
				 .kind = rk->kind };
	__u32 t = rk->target_id, kind = rk->kind;
	__u64 zero = 0, *n;

	n = bpf_map_lookup_elem(&anomaly_counts, &k);
	if (!n) {
		note_full(bpf_map_update_elem(&anomaly_counts, &k, &zero,
					      BPF_NOEXIST),
			  CW_TABLE_ANOMALY_COUNTS);
		n = bpf_map_lookup_elem(&anomaly_counts, &k);
	}
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	if (t < CW_MAX_TARGET_SPECS && kind < CW_ANOM__COUNT)
		__sync_fetch_and_add(&anomalies_unkeyed[t][kind], 1);
}

static struct cw_rate *rate_of(const struct cw_rate_key *rk)
{
	static const struct cw_rate fresh;
	struct cw_rate *rl = bpf_map_lookup_elem(&rates, rk);

	if (rl)
		return rl;
	bpf_map_update_elem(&rates, rk, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&rates, rk);
}

/* Whether an event at now gets a record: the first ones of a window. */
static int rate_admit(struct cw_rate *rl, __u64 now)
{
	/* Two CPUs may both open the window: a record or two more. */
	if (now - rl->window_ns >= CW_RATE_WINDOW_NS) {
		rl->window_ns = now;
		rl->sent = 0;
	}
	return __sync_fetch_and_add(&rl->sent, 1) < CW_RATE_RECORDS;
}

/* An event without a record: counted into the next record or a flush. */
static void fold(struct cw_rate *rl, const struct cw_event *ev)
{
	if (!rl)
		return;
	rl->last = *ev;
	if (!__sync_fetch_and_add(&rl->folded, 1))
		rl->fold_ns = ev->ts_ns;
}

/*
 * An anomaly: counted first, exactly; then a record reserved for it
 * unless the rate limit (or a full ring buffer) folds it. The record
 * carries the events of its key and kind folded since the last one.
 * The caller adds the stack and submits.
 */
static struct cw_record *anomaly_record(const struct cw_rate_key *rk,
					const struct cw_event *ev)
{
	struct cw_rate *rl;
	struct cw_record *r;

	count_anomaly(rk);
	rl = rate_of(rk);
	if (rl && !rate_admit(rl, ev->ts_ns)) {
		fold(rl, ev);
		return NULL;
	}
	r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&records_lost, 1);
		fold(rl, ev);
		return NULL;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->type = CW_REC_ANOMALY;
	r->kind = rk->kind;
	r->ts_ns = ev->ts_ns;
	r->tgid = rk->tgid;
	r->tid = ev->tid;
	r->slot = ev->slot;
	r->target_id = rk->target_id;
	r->key = ev->key;
	r->shadow = ev->shadow;
	r->counter = ev->counter;
	r->counter_read = ev->counter_read;
	__builtin_memcpy(r->comm, ev->comm, sizeof(r->comm));
	if (!rl)
		return r;
	r->folded = __sync_lock_test_and_set(&rl->folded, 0);
	if (r->folded)
		r->folded_ns = ev->ts_ns - rl->fold_ns;
	return r;
}

/*
 * User space's flush of what a (key, kind) folded once its window is
 * over (bpf_prog_test_run): the exchange makes the count go to exactly
 * one report, this one or the next record's.
 */
SEC("syscall")
int claim_folded(struct cw_claim *c)
{
	struct cw_rate_key k = c->key;
	struct cw_rate *rl = bpf_map_lookup_elem(&rates, &k);

	c->folded = 0;
	if (!rl)
		return 0;
	c->folded = __sync_lock_test_and_set(&rl->folded, 0);
	if (!c->folded)
		return 0;
	c->last = rl->last;
	c->folded_ns = rl->last.ts_ns - rl->fold_ns;
	return 0;
}

static int is_critical(__u32 kind)
{
	return kind <= CW_ANOM_DOUBLE_CLOSE_FD;
}

/* The values an alert shows: the key's shadow, or what a check read. */
static void hit_event(const struct hit *h, struct cw_event *ev)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	ev->ts_ns = bpf_ktime_get_ns();
	ev->key = h->key;
	ev->tid = (__u32)pid_tgid;
	ev->slot = h->slot;
	if (h->st) {
		ev->shadow = h->cfg->shadow_from_counter ? h->st->count :
							   h->st->live;
	} else {
		ev->shadow = h->shadow;
	}
	/* This hit's own read: the table's may be another thread's. */
	ev->counter = h->counter;
	ev->counter_read = h->counter_read;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
}

static void emit(const struct hit *h, __u32 kind)
{
	struct cw_rate_key rk = {
		.tgid = bpf_get_current_pid_tgid() >> 32,
		.target_id = h->cfg->target_id, .key = h->key, .kind = kind,
	};
	struct cw_event ev = {};
	struct cw_record *r;
	__u32 stop;
	long n;

	/* Frozen before the panic, so it can be cored (gcore). */
	stop = stop_on_critical && is_critical(kind) && first_stop();
	hit_event(h, &ev);
	r = anomaly_record(&rk, &ev);
	if (!r)
		goto out;
	r->stopped = stop;
	r->ip = PT_REGS_IP(h->ctx);
	/*
	 * At a function's entry the frame is not linked yet, so a frame
	 * pointer walk skips the immediate caller: take it from [sp]. A
	 * call site is inside its caller's linked frame: the walk is whole.
	 */
	if (h->site == CW_SITE_ENTRY || h->site == CW_SITE_STASH)
		bpf_probe_read_user(&r->caller, sizeof(r->caller),
				    (void *)PT_REGS_SP(h->ctx));
	n = bpf_get_stack(h->ctx, r->stack, sizeof(r->stack),
			  BPF_F_USER_STACK);
	r->nr_frames = n > 0 ? n / sizeof(__u64) : 0;
	bpf_ringbuf_submit(r, 0);
out:
	if (stop)
		bpf_send_signal(SIGSTOP_NR);
}

/* An open/inc after the drain fired: the next zero drains twice. */
static void check_rearm(const struct hit *h)
{
	if (!h->st->drained)
		return;
	if (__sync_lock_test_and_set(&h->st->rearm_reported, 1))
		return;
	emit(h, CW_ANOM_DRAIN_REARMED);
}

/*
 * Lowers *p while it is above floor, by exchange: to floor itself, or by
 * one (by_one). 1: this thread moved it; 0: it is at or below floor;
 * -1: lost the exchange to other threads 8 times.
 */
static int lower_above(__s64 *p, __s64 floor, int by_one)
{
	__s64 cur = *p, seen;
	int i;

	for (i = 0; i < 8; i++) {
		if (cur <= floor)
			return 0;
		seen = __sync_val_compare_and_swap(p, cur,
						   by_one ? cur - 1 : floor);
		if (seen == cur)
			return 1;
		cur = seen;
	}
	return -1;
}

/*
 * A count went below zero. Report only a new low, so a counter that stays
 * negative is one alert per unmatched decrement, not one per hit. Two
 * threads can see the same new low (the shadow's and the real counter's
 * view of one decrement): the exchange lets one of them report it.
 */
static void check_low(const struct hit *h, __s64 value)
{
	if (lower_above(&h->st->low, value, 0) == 1)
		emit(h, CW_ANOM_COUNTER_UNDERFLOW);
}

/*
 * The shadow went from old to old - 1. Returns 1 when that ended a
 * connection that began before we attached: not judged, not counted
 * as one less open. A shadow seeded mid-flight is not judged either:
 * steps in flight in other threads at the seed can leave it one off
 * for good, and a correct server is never paged (the counter is: see
 * check_counter).
 */
static int shadow_decremented(const struct hit *h, __s64 *shadow, __s64 old)
{
	if (old > 0)
		return 0;
	if (!h->st->armed) {
		__sync_fetch_and_add(shadow, 1);
		__sync_fetch_and_add(&h->tot->preattach_closes, 1);
		return 1;
	}
	if (!h->st->seeded)
		check_low(h, old - 1);
	return 0;
}

static void on_dec(const struct hit *h)
{
	struct cw_acct *st = h->st;
	__s64 old;

	old = __sync_fetch_and_add(&st->count, -1);
	if (h->cfg->track_inside) {
		struct inflight_key ik = inflight_of(h->ctx, h->cfg, h->slot);
		struct inflight_val iv = { .key = h->key,
					   .counter_base = h->base };

		/* Two threads inside dec near zero: a check-then-act window. */
		if (__sync_fetch_and_add(&st->inside_dec, 1) >= 1 && old <= 2)
			__sync_fetch_and_add(&h->tot->race_windows, 1);
		bpf_map_update_elem(&inflight, &ik, &iv, BPF_ANY);
	}
	if (h->cfg->shadow_from_counter)
		shadow_decremented(h, &st->count, old);
}

/*
 * Where the counter is the shadow, open/close only count. In a process
 * that ran before attach, a close with none left open since attach ended
 * a connection opened before it: not one less open (connections_open went
 * negative on a server attached mid-load). So it goes down by exchange
 * while above zero (two closes racing at 1 took it to -1), and only at
 * zero asks whether the process ran before attach.
 */
static void count_live_closed(const struct hit *h)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	int moved = lower_above(&h->tot->live, 0, 1);

	if (moved == 1 ||
	    (!moved && bpf_map_lookup_elem(&preexisting, &tgid)))
		return;
	/* lost the exchange 8 times, or below zero where it is news */
	__sync_fetch_and_add(&h->tot->live, -1);
}

static void on_close(const struct hit *h)
{
	__s64 old;

	old = __sync_fetch_and_add(&h->st->live, -1);
	if (h->cfg->shadow_from_counter) {
		count_live_closed(h);
		return;
	}
	if (!shadow_decremented(h, &h->st->live, old))
		__sync_fetch_and_add(&h->tot->live, -1);
}

/*
 * A close or dec of a key with no detection state: counted, never judged.
 * In a process that ran before attach it began before us; elsewhere its
 * entry was evicted (its open was counted: one less open).
 */
static void count_unknown(const struct hit *h, __u32 tgid, __u32 role)
{
	if (bpf_map_lookup_elem(&preexisting, &tgid)) {
		__sync_fetch_and_add(&h->tot->preattach_closes, 1);
		return;
	}
	__sync_fetch_and_add(&h->tot->keys_unknown, 1);
	if (role == CW_ROLE_CLOSE)
		__sync_fetch_and_add(&h->tot->live, -1);
}

/* Every hit is counted, whatever its key's state. */
static void count_role(struct cw_totals *tot, __u32 role)
{
	switch (role) {
	case CW_ROLE_OPEN:
		__sync_fetch_and_add(&tot->opened, 1);
		__sync_fetch_and_add(&tot->live, 1);
		break;
	case CW_ROLE_CLOSE:
		__sync_fetch_and_add(&tot->closed, 1);
		break;
	case CW_ROLE_INC:
		__sync_fetch_and_add(&tot->inc, 1);
		break;
	case CW_ROLE_DEC:
		__sync_fetch_and_add(&tot->dec, 1);
		break;
	case CW_ROLE_DRAIN:
		__sync_fetch_and_add(&tot->drains, 1);
		break;
	}
}

static void on_drain(const struct hit *h)
{
	struct cw_acct *st = h->st;

	st->rearm_reported = 0;
	/*
	 * Drained: nothing is open, the shadow is exact from here. Not one
	 * that follows the server's counter in a process that ran before
	 * attach: a step counted late by another thread (its probe after
	 * its locked instruction) leaves it one off, so it is a view, as
	 * if seeded, and the counter is judged (check_counter).
	 */
	if (!st->armed && h->cfg->shadow_from_counter &&
	    h->cfg->counter_type != CW_CTR_NONE)
		st->seeded = 1;
	st->armed = 1;
	if (__sync_lock_test_and_set(&st->drained, 1)) {
		emit(h, CW_ANOM_DUPLICATE_DRAIN);
		return;
	}
	if (!st->shutdown)
		emit(h, CW_ANOM_DRAIN_WITHOUT_SHUTDOWN);
}

/*
 * A shutdown after a drain that itself came during a shutdown starts a
 * new serve/shutdown cycle and re-arms the drain. A drain that fired
 * while serving (the v0.48.0 idle drain) is not re-armed: draining again
 * at shutdown is exactly the crash.
 */
static void on_shutdown(struct cw_acct *st)
{
	if (st->drained && st->shutdown)
		st->drained = 0;
	st->shutdown = 1;
}

/*
 * A new drain signal (quic-go's init makes a new connHandlingDone): the
 * next drain is the first of its own.
 */
static void on_reset(struct cw_acct *st)
{
	st->drained = 0;
	st->rearm_reported = 0;
}

/*
 * The first real counter read of a key that began before attach seeds
 * the shadow. Entry sites read the value before the function acts; but
 * an inc/dec entry probe that sits after the first (locked) instruction
 * may read it after, so it does not seed.
 *
 * The first connections after attach arrive together: one hit wins the
 * seeding, with its own read, and moves the shadow by an atomic add, not
 * a store, so that the steps other threads took meanwhile stay counted.
 * It is still a view, not a fact: a step in flight in another thread
 * (counted, not yet taken, or taken, not yet counted) leaves it one off.
 * So a seeded shadow is shown, never judged: the counter is.
 */
static void seed_shadow(const struct hit *h)
{
	const struct cw_probe_cfg *cfg = h->cfg;
	struct cw_acct *st = h->st;
	__s64 value = h->counter;

	if (st->armed || !h->counter_read || h->site == CW_SITE_EXIT ||
	    !cfg->shadow_from_counter)
		return;
	if (cfg->late_entry &&
	    (cfg->role == CW_ROLE_INC || cfg->role == CW_ROLE_DEC))
		return;
	if (__sync_val_compare_and_swap(&st->seeded, 0, 1))
		return;
	__sync_fetch_and_add(&st->count, value - st->count);
	if (value < 0)
		st->low = value;
	/*
	 * Where open/close and inc/dec both count connections (the drift
	 * rule compares them), the connections open at attach are the
	 * counter's too: without them, those ending after attach take
	 * open - closed below the counter, a false accounting_drift. Only
	 * the detection state: connections_open counts from attach.
	 */
	if (cfg->open_from_counter && value > 0)
		__sync_fetch_and_add(&st->live, value);
	st->armed = 1;
}

/* The probe reads the counter before the function acts on it. */
static int reads_before(const struct hit *h)
{
	return h->site == CW_SITE_CALL ||
	       (h->site == CW_SITE_ENTRY && !h->cfg->late_entry);
}

/*
 * The real counter read at this hit is a fact: below zero (a wrapped
 * unsigned reads so too) is an underflow, whatever the shadow says. A
 * dec read before it acts sees the count its own connection's inc left,
 * at least 1 in a correct program (that inc came first), so a read of 0
 * or less is a dec with nothing to take: the count it leaves is judged.
 */
static void check_counter(const struct hit *h, __u32 role)
{
	__s64 after = h->counter;

	if (!h->counter_read)
		return;
	if (role == CW_ROLE_DEC && reads_before(h))
		after--;
	if (after < 0)
		check_low(h, after);
}

/*
 * The Go runtime checks: the panic is microseconds away, so they keep no
 * state and cost one read per call. closechan: hchan.closed already set.
 * WaitGroup.Add: counter + delta below zero.
 */
static void check_go_runtime(struct hit *h)
{
	__s64 val, delta;

	if (read_s64(h->cfg, h->base, &val))
		return;
	h->counter = val;
	h->counter_read = 1;
	if (h->cfg->role == CW_ROLE_CHAN_CLOSE) {
		h->shadow = val;
		if (val)
			emit(h, CW_ANOM_CLOSE_OF_CLOSED_CHANNEL);
		return;
	}
	delta = (__s64)arg_reg(h->ctx, h->cfg, 1);
	h->shadow = val + delta;
	if (val + delta < 0)
		emit(h, CW_ANOM_NEGATIVE_WAITGROUP);
}

/*
 * A check's failing branch: only the way to the panic runs it, so the
 * panic is certain and a healthy program never gets here. The registers
 * the branch's test used are still live: the channel (hchan.closed at
 * the table's offset), or the WaitGroup's state (the counter after the
 * add) and the lock xadd's old value (the counter before).
 */
static void check_go_branch(struct hit *h, __u64 cookie)
{
	__u32 old_reg = CW_COOKIE_REG2(cookie);
	__s64 val = 0;

	h->key = site_reg(h->ctx, CW_COOKIE_REG(cookie));
	h->counter_read = !read_s64(h->cfg, h->key, &val);
	h->shadow = val;
	h->counter = val;
	if (h->cfg->role == CW_ROLE_CHAN_CLOSE) {
		emit(h, CW_ANOM_CLOSE_OF_CLOSED_CHANNEL);
		return;
	}
	if (old_reg)
		h->counter = (__s32)(site_reg(h->ctx, old_reg) >> 32);
	h->counter_read = h->counter_read && old_reg;
	emit(h, CW_ANOM_NEGATIVE_WAITGROUP);
}

/* trackConn(c, add): the role is open or close by a bool argument. */
static __u32 role_of(struct pt_regs *ctx, const struct cw_probe_cfg *cfg)
{
	if (cfg->switch_arg < 0)
		return cfg->role;
	return (arg_reg(ctx, cfg, cfg->switch_arg) & 0xff) ? CW_ROLE_OPEN :
							      CW_ROLE_CLOSE;
}

/* h: ctx, cfg, slot, site, key and base filled by the caller. */
static void apply_role(struct hit *h)
{
	const struct cw_probe_cfg *cfg = h->cfg;
	__u32 role, tgid = bpf_get_current_pid_tgid() >> 32;
	struct cw_acct_key k = { .tgid = tgid, .target_id = cfg->target_id,
				 .key = h->key };

	if (cfg->role >= CW_ROLE__COUNT) {
		check_go_runtime(h);
		return;
	}
	role = role_of(h->ctx, cfg);
	h->tot = totals_get(tgid, cfg->target_id);
	if (!h->tot)
		return;
	count_role(h->tot, role);
	h->st = acct_get(h, tgid, role);
	if (!h->st) {
		count_unknown(h, tgid, role);
		return;
	}
	/* This hit's own read: the table's may be another thread's. */
	h->counter_read = read_counter(cfg, h->base, h->st, h->tot, &h->counter);
	seed_shadow(h);

	switch (role) {
	case CW_ROLE_OPEN:
		__sync_fetch_and_add(&h->st->live, 1);
		check_rearm(h);
		break;
	case CW_ROLE_CLOSE:
		on_close(h);
		break;
	case CW_ROLE_INC:
		__sync_fetch_and_add(&h->st->count, 1);
		check_rearm(h);
		break;
	case CW_ROLE_DEC:
		on_dec(h);
		break;
	case CW_ROLE_DRAIN:
		on_drain(h);
		break;
	case CW_ROLE_SHUTDOWN:
		on_shutdown(h->st);
		break;
	case CW_ROLE_RESET:
		on_reset(h->st);
		break;
	}
	check_counter(h, role);
	if (ends_object(role))
		settle(cfg, h->st, &k);
}

static void count_hit(__u32 slot)
{
	__u64 *hits = bpf_map_lookup_elem(&probe_hits, &slot);

	if (hits)
		*hits += 1;
}

static void save_args(struct pt_regs *ctx, __u32 slot,
		      const struct cw_probe_cfg *cfg)
{
	struct inflight_key ik = inflight_of(ctx, cfg, slot);
	struct inflight_val iv = { .key = probe_key(ctx, cfg, CW_REG_NONE),
				   .counter_base = counter_base(ctx, cfg) };

	bpf_map_update_elem(&inflight, &ik, &iv, BPF_ANY);
}

/*
 * A thread leaves dec: it no longer holds the race window open, and the
 * counter now holds what dec made of it.
 */
static void leave_dec(const struct cw_probe_cfg *cfg,
		      const struct inflight_val *iv)
{
	struct cw_acct_key k = { .tgid = bpf_get_current_pid_tgid() >> 32,
				 .target_id = cfg->target_id, .key = iv->key };
	struct cw_proc_key pk = { .tgid = k.tgid, .target_id = k.target_id };
	struct cw_acct *st = bpf_map_lookup_elem(&acct, &k);
	struct cw_totals *tot = bpf_map_lookup_elem(&totals, &pk);
	__s64 counter;

	if (!st || !tot)
		return;
	__sync_fetch_and_add(&st->inside_dec, -1);
	read_counter(cfg, iv->counter_base, st, tot, &counter);
	settle(cfg, st, &k);
}

/*
 * A close at a RET whose entry ran before we attached (a QUIC connection
 * already open): its key was never stashed. In a process that was running
 * at attach it is a connection ending that began before us: counted
 * closed and preattach in the process' totals, never judged. Elsewhere (an entry aged out) it is dropped.
 */
static void preattach_exit(const struct cw_probe_cfg *cfg)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct cw_totals *tot;

	if (cfg->role != CW_ROLE_CLOSE ||
	    !bpf_map_lookup_elem(&preexisting, &tgid))
		return;
	tot = totals_get(tgid, cfg->target_id);
	if (!tot)
		return;
	__sync_fetch_and_add(&tot->closed, 1);
	__sync_fetch_and_add(&tot->preattach_closes, 1);
}

/* A RET or tail call of the probed function. */
static void on_exit_site(struct pt_regs *ctx, __u32 slot,
			 const struct cw_probe_cfg *cfg)
{
	struct inflight_key ik = inflight_of(ctx, cfg, slot);
	struct inflight_val *iv = bpf_map_lookup_elem(&inflight, &ik);

	if (cfg->at_return) {
		if (cfg->stash_args && !iv) {
			preattach_exit(cfg);
			return;
		}
		struct hit h = { .ctx = ctx, .cfg = cfg, .slot = slot,
				 .site = CW_SITE_EXIT,
				 .key = iv ? iv->key : 0,
				 .base = iv ? iv->counter_base : 0 };

		apply_role(&h);
	} else if (cfg->track_inside && iv) {
		leave_dec(cfg, iv);
	}
	if (iv)
		bpf_map_delete_elem(&inflight, &ik);
}

static void on_hijack(struct pt_regs *ctx, const struct cw_probe_cfg *cfg);

SEC("uprobe")
int handle_probe(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 slot = CW_COOKIE_SLOT(cookie);
	__u32 site = CW_COOKIE_SITE(cookie);
	const struct cw_probe_cfg *cfg;

	if (!probes_live)
		return 0;
	cfg = bpf_map_lookup_elem(&probes, &slot);
	if (!cfg || !cfg->enabled)
		return 0;

	switch (site) {
	case CW_SITE_ENTRY:
		if (cfg->role == CW_ROLE_HIJACK) {
			count_hit(slot);
			on_hijack(ctx, cfg);
			break;
		}
		/* fall through */
	case CW_SITE_CALL: {
		struct hit h = { .ctx = ctx, .cfg = cfg, .slot = slot,
				 .site = site,
				 .key = probe_key(ctx, cfg, CW_COOKIE_REG(cookie)),
				 .base = counter_base(ctx, cfg) };

		count_hit(slot);
		apply_role(&h);
		break;
	}
	case CW_SITE_STASH:
		count_hit(slot);
		save_args(ctx, slot, cfg);
		break;
	case CW_SITE_BRANCH: {
		struct hit h = { .ctx = ctx, .cfg = cfg, .slot = slot,
				 .site = site };

		count_hit(slot);
		check_go_branch(&h, cookie);
		break;
	}
	case CW_SITE_EXIT:
		if (cfg->at_return && !cfg->stash_args)
			count_hit(slot);
		on_exit_site(ctx, slot, cfg);
		break;
	}
	return 0;
}
/* Tells the daemon how a watched process ended: status or signal. */
SEC("tracepoint/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct cw_record *r;
	__u64 *watched_start, start;

	watched_start = bpf_map_lookup_elem(&watched, &tgid);
	if (!watched_start)
		return 0;
	/* Only the last thread of the group ends the process. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	start = *watched_start;
	/* The tables of who runs; the counts stay for user space to fold. */
	bpf_map_delete_elem(&watched, &tgid);
	bpf_map_delete_elem(&stopped, &tgid);
	bpf_map_delete_elem(&preexisting, &tgid);
	bpf_map_delete_elem(&sock_targets, &tgid);

	r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&records_lost, 1);
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->type = CW_REC_EXIT;
	r->ts_ns = bpf_ktime_get_ns();
	r->tgid = tgid;
	r->tid = (__u32)bpf_get_current_pid_tgid();
	r->exit_code = BPF_CORE_READ(task, exit_code);
	r->key = start;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* ---- sockets preset: accepted sockets of any process ---------------- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cw_sock_exe);
} sock_exe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CW_SOCK_MAX_FDS);
	__type(key, struct cw_sock_key);
	__type(value, struct cw_sock_fd);
} sock_fds SEC(".maps");

/* Per process; folded into sock_unkeyed as totals are into theirs. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CW_DEFAULT_MAX_PROCS);
	__type(key, __u32);		/* tgid */
	__type(value, struct cw_sock_stats);
} sock_stats SEC(".maps");

struct cw_sock_stats sock_unkeyed;

/* A close in flight: what its exit needs to know (per thread). */
struct sock_closing {
	struct cw_sock_fd was;
	__s32 fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CW_MAX_INFLIGHT);
	__type(key, __u32);		/* tid */
	__type(value, struct sock_closing);
} sock_closing SEC(".maps");

/*
 * An io_uring close in flight, by request: from its submission (the fd
 * still names the socket) to its completion (the result).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CW_SOCK_MAX_URING);
	__type(key, __u64);		/* struct io_kiocb * */
	__type(value, struct sock_closing);
} uring_closing SEC(".maps");

/*
 * The accepts of each ring, by user_data: a multishot accept's
 * completions carry the ring and user_data, no request. Learnt at
 * submission and at every wakeup of an accept (io_uring_task_add, in
 * the context of whoever woke it: any process), so that an accept armed
 * before connwatch attached is known from its next connection on.
 */
struct uring_accept_key {
	__u64 ring;
	__u64 user_data;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CW_SOCK_MAX_URING);
	__type(key, struct uring_accept_key);
	__type(value, __u32);		/* 1: into a fixed file, no fd */
} uring_accepts SEC(".maps");

/* Not in vmlinux.h: uapi defines. */
#define IORING_CQE_F_MORE_FLAG	(1U << 1)

static const __u64 duration_bounds[CW_DURATION_BUCKETS - 1] =
	CW_DURATION_BOUNDS_NS;

/* A process running the --exe binary, seen for the first time. */
static int exe_matches(__u32 *target_id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct cw_sock_exe *exe;
	struct inode *inode;
	__u32 zero = 0;

	exe = bpf_map_lookup_elem(&sock_exe, &zero);
	if (!exe || !exe->enabled)
		return 0;
	inode = task->mm->exe_file->f_inode;
	if (inode->i_ino != exe->ino || inode->i_sb->s_dev != exe->dev)
		return 0;
	*target_id = exe->target_id;
	return 1;
}

/* A child of a watched process (nginx's workers), seen the first time. */
static int parent_watched(__u32 *target_id)
{
	__u32 ppid = bpf_get_current_task_btf()->real_parent->tgid;
	__u32 *id = sock_target_id(ppid);

	if (!id)
		return 0;
	*target_id = *id;
	return 1;
}

/*
 * The stats a socket of a watched process counts in: its own, or, when
 * sock_stats had no room for it or it was folded since (proc_tables.c),
 * its target's.
 */
static struct cw_sock_stats *sock_stats_of(__u32 tgid)
{
	struct cw_sock_stats *stats = bpf_map_lookup_elem(&sock_stats, &tgid);

	return stats ? stats : &sock_unkeyed;
}

/*
 * The current process, tgid, joins sock_targets. Its slot asks
 * sock_targets while the insert is under way (a clear slot would say
 * "not watched"), and names it once it is in.
 */
static int sock_target_add(__u32 tgid, __u32 target_id)
{
	__u64 *slot = &sock_slots[CW_SOCK_SLOT(tgid)];
	long err;

	__sync_val_compare_and_swap(slot, 0, CW_SOCK_SLOT_ASK);
	err = bpf_map_update_elem(&sock_targets, &tgid, &target_id,
				  BPF_NOEXIST);
	note_full(err, CW_TABLE_SOCK_TARGETS);
	if (err == -E2BIG_ERRNO)
		return -1;
	*slot = cw_sock_who(tgid, current_start_ticks());
	return 0;
}

/*
 * The stats of a watched process; a new process of the --exe binary, or
 * a child of a watched one, joins here at its first accept. One lookup
 * in the common case (its slot names it): a process that exited keeps
 * its stats for its grace (user space folds them) but leaves
 * sock_targets at once, so a new process given its pid joins anew (its
 * closes are seen, its exit heard) and counts in those stats until the
 * fold. A process sock_targets has no room for is not watched (its
 * closes could not be told from others'); one sock_stats has no room
 * for counts in the target's own stats.
 */
static struct cw_sock_stats *sock_target(__u32 tgid)
{
	static const struct cw_sock_stats zero_stats;
	struct cw_sock_stats *stats;
	__u32 target_id;

	if (!sock_watched(tgid)) {
		if (!exe_matches(&target_id) && !parent_watched(&target_id))
			return NULL;
		if (sock_target_add(tgid, target_id))
			return NULL;
		note_full(watch_current(tgid), CW_TABLE_WATCHED);
	}
	stats = bpf_map_lookup_elem(&sock_stats, &tgid);
	if (stats)
		return stats;
	note_full(bpf_map_update_elem(&sock_stats, &tgid, &zero_stats,
				      BPF_NOEXIST), CW_TABLE_SOCK_STATS);
	return sock_stats_of(tgid);
}

/* A kernel object's BTF pointer, to be read by plain loads. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/*
 * The inode of the current process' fd: what the sweep compares. Plain
 * loads through BTF pointers (a fault reads 0): one helper call, where a
 * BPF_CORE_READ chain made seven, at every accept on the host.
 */
static __u64 fd_inode(__s32 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file *file = NULL;

	if (!fdt || fd < 0 || (__u32)fd >= fdt->max_fds)
		return 0;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]) || !file)
		return 0;
	file = bpf_rdonly_cast(file, bpf_core_type_id_kernel(struct file));
	return file->f_inode->i_ino;
}

/*
 * fd is a socket the current process accepted: open from now. A number
 * is reused at once (the lowest free), so its entry is there most of the
 * time: it is rewritten in place, state last, where an update would pop
 * an LRU node and push the old one back (240 ns of the 820 an accept
 * cost). A reader of the old connection (the sweep) tells it apart by
 * open_ns, as it would a new node.
 */
static void sock_accepted(__s32 fd)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct cw_sock_key k = { .tgid = tgid, .fd = fd };
	struct cw_sock_fd s = { .state = CW_FD_OPEN }, *was;
	struct cw_sock_stats *stats;

	stats = sock_target(tgid);
	if (!stats)
		return;
	s.open_ns = bpf_ktime_get_ns();
	s.ino = fd_inode(fd);
	was = bpf_map_lookup_elem(&sock_fds, &k);
	if (was) {
		was->open_ns = s.open_ns;
		was->ino = s.ino;
		__sync_lock_test_and_set(&was->state, CW_FD_OPEN);
	} else {
		bpf_map_update_elem(&sock_fds, &k, &s, BPF_ANY);
	}
	__sync_fetch_and_add(&stats->opened, 1);
}

static int on_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (ctx->ret >= 0)
		sock_accepted(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int handle_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int handle_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx);
}

/* A pointer-sized word of the target's memory. */
static int read_word(__u64 addr, __u64 *val)
{
	return addr ? bpf_probe_read_user(val, sizeof(*val), (void *)addr) : -1;
}

/*
 * The fd of net/http's *conn c (cw_conn_fd_path), or -1 when what c.rwc
 * holds is neither a *net.TCPConn nor a *tls.Conn over one: nothing is
 * read on a guess.
 */
static __s64 http_conn_fd(struct pt_regs *ctx, const struct cw_probe_cfg *cfg)
{
	const struct cw_conn_fd_path *path = &cfg->conn_fd;
	__u64 at = PT_REGS_IP(ctx), iface, itab, close, data, netfd, fd;
	int depth;

	iface = arg_reg(ctx, cfg, 0) + path->rwc;
	for (depth = 0; depth < 2; depth++) {
		if (read_word(iface, &itab) ||
		    read_word(itab + path->itab_fun, &close) ||
		    read_word(iface + 8, &data))
			return -1;
		if (close == at + path->tcp_close)
			break;
		if (!path->tls_close || close != at + path->tls_close)
			return -1;
		iface = data + path->tls_conn;	/* the conn under TLS */
	}
	if (depth == 2 || read_word(data + path->netfd, &netfd) ||
	    read_word(netfd + path->sysfd, &fd))
		return -1;
	return (__s64)fd;
}

/*
 * net/http lets go of a connection (Hijack): go-net-http counts it
 * closed now, once; its socket is still open, and its close is counted
 * by sockets only. A socket accepted before attach is not known here.
 */
static void on_hijack(struct pt_regs *ctx, const struct cw_probe_cfg *cfg)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__s64 fd = http_conn_fd(ctx, cfg);
	struct cw_sock_key k = { .tgid = tgid, .fd = (__s32)fd };
	struct cw_sock_fd *s;

	if (fd < 0 || fd > 0x7fffffff)
		return;
	s = bpf_map_lookup_elem(&sock_fds, &k);
	/* one exchange: a close at the same moment (Server.Close) is
	 * counted before the hijack or after it, never half of each */
	if (!s || __sync_val_compare_and_swap(&s->state, CW_FD_OPEN,
					      CW_FD_HIJACKED) != CW_FD_OPEN)
		return;
	__sync_fetch_and_add(&sock_stats_of(tgid)->hijacked, 1);
}

/*
 * The fd stops naming the socket. Its state moves now, before the number
 * is free again (a concurrent accept that reuses it must win), in one
 * exchange (the sweep may settle the same fd at the same time); what it
 * was goes to c, for the end of the call. 0: not an accepted socket.
 */
static int sock_take(__u32 tgid, __s32 fd, struct sock_closing *c)
{
	struct cw_sock_key k = { .tgid = tgid, .fd = fd };
	struct cw_sock_fd *s;

	/* Every close on the machine comes here. */
	if (!sock_watched(tgid))
		return 0;
	s = bpf_map_lookup_elem(&sock_fds, &k);
	if (!s)
		return 0;	/* never accepted: not a connection */
	c->fd = fd;
	c->was = *s;
	c->was.state = __sync_lock_test_and_set(&s->state, CW_FD_CLOSED);
	return 1;
}

/* A syscall that may take fd from its socket begins: dup2, dup3. */
static void sock_closing_begin(__s32 fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sock_closing c = {};
	__u32 tid = (__u32)pid_tgid;

	if (sock_take(pid_tgid >> 32, fd, &c))
		bpf_map_update_elem(&sock_closing, &tid, &c, BPF_ANY);
}

/* An accepted socket that was in state closes (state: cw_fd_open). */
static void count_closed(struct cw_sock_stats *stats, __u32 state,
			 __u64 open_ns, __u64 end_ns)
{
	__u64 d = end_ns > open_ns ? end_ns - open_ns : 0;
	__u32 i;

	for (i = 0; i < CW_DURATION_BUCKETS - 1; i++)
		if (d <= duration_bounds[i])
			break;
	__sync_fetch_and_add(&stats->closed, 1);
	/* a hijacked one left go-net-http's count at its hijack */
	if (state == CW_FD_OPEN)
		__sync_fetch_and_add(&stats->closed_unhijacked, 1);
	__sync_fetch_and_add(&stats->duration_sum_ns, d);
	if (i < CW_DURATION_BUCKETS)
		__sync_fetch_and_add(&stats->buckets[i], 1);
}

/* The rare path looks the target up: no close pays for it. */
static void emit_double_close(void *ctx, __s32 fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 *target_id = sock_target_id(pid_tgid >> 32);
	struct cw_rate_key rk = { .tgid = pid_tgid >> 32,
				  .kind = CW_ANOM_DOUBLE_CLOSE_FD };
	struct cw_event ev = { .key = fd, .tid = (__u32)pid_tgid,
			       .slot = CW_SLOT_SOCKETS };
	struct pt_regs *regs;
	struct cw_record *r;
	__u32 stop;
	long n;

	if (!target_id)		/* out of sock_targets since: it exited */
		return;
	rk.target_id = *target_id;
	stop = stop_on_critical && first_stop();
	ev.ts_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(ev.comm, sizeof(ev.comm));
	r = anomaly_record(&rk, &ev);
	if (!r)
		goto out;
	r->stopped = stop;
	/*
	 * libc's close() is a leaf with no frame of its own: the walk would
	 * skip its caller, whose return address may sit at the user sp.
	 * User space keeps it only if it points into code.
	 */
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	bpf_probe_read_user(&r->caller, sizeof(r->caller),
			    (void *)BPF_CORE_READ(regs, sp));
	n = bpf_get_stack(ctx, r->stack, sizeof(r->stack), BPF_F_USER_STACK);
	r->nr_frames = n > 0 ? n / sizeof(__u64) : 0;
	bpf_ringbuf_submit(r, 0);
out:
	if (stop)
		bpf_send_signal(SIGSTOP_NR);
}

/*
 * The end of a call that took an fd: the socket is closed; a close that
 * found it closed already and the number free (EBADF) is a double close.
 */
static void sock_close_end(void *ctx, const struct sock_closing *c, int ebadf)
{
	struct cw_sock_stats *stats = sock_stats_of(bpf_get_current_pid_tgid() >> 32);

	if (cw_fd_open(c->was.state)) {
		count_closed(stats, c->was.state, c->was.open_ns,
			     bpf_ktime_get_ns());
	} else if (c->was.state == CW_FD_CLOSED && ebadf) {
		__sync_fetch_and_add(&stats->double_closes, 1);
		emit_double_close(ctx, c->fd);
	}
}

/*
 * close(fd) of an accepted socket: closed from here, whatever close()
 * returns (Linux frees the fd even when it fails: EINTR, EIO), so no
 * exit probe: close's exit would cost every close on the host a second
 * tracepoint. Closed already, close() answers EBADF when the slot is
 * empty: a double close. A slot holding a file is the number reused (by
 * open, or dup2 of the socket back onto it): not ours to judge.
 */
SEC("tracepoint/syscalls/sys_enter_close")
int handle_close_enter(struct trace_event_raw_sys_enter *ctx)
{
	__s32 fd = (__s32)ctx->args[0];
	struct sock_closing c = {};

	if (!sock_take(bpf_get_current_pid_tgid() >> 32, fd, &c))
		return 0;
	sock_close_end(ctx, &c,
		       c.was.state == CW_FD_CLOSED && !fd_inode(fd));
	return 0;
}

/*
 * dup2/dup3 onto an accepted socket's number close the socket if they
 * succeed: dup2(open("/dev/null"), fd) keeps a number taken.
 */
static int on_dup_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[0] != ctx->args[1])	/* dup2(fd, fd) closes nothing */
		sock_closing_begin((__s32)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_dup2")
int handle_dup2_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_dup_enter(ctx);
}

SEC("tracepoint/syscalls/sys_enter_dup3")
int handle_dup3_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_dup_enter(ctx);
}

/* A dup that failed closed nothing: the socket is as it was. */
static void sock_untake(const struct sock_closing *c)
{
	struct cw_sock_key k = { .tgid = bpf_get_current_pid_tgid() >> 32,
				 .fd = c->fd };
	struct cw_sock_fd *s = bpf_map_lookup_elem(&sock_fds, &k);

	if (s && s->open_ns == c->was.open_ns)
		s->state = c->was.state;
}

static int on_dup_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sock_closing *c;

	c = bpf_map_lookup_elem(&sock_closing, &tid);
	if (!c)
		return 0;
	if (ctx->ret < 0)
		sock_untake(c);
	else	/* onto a number closed already: no error, no double close */
		sock_close_end(ctx, c, 0);
	bpf_map_delete_elem(&sock_closing, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_dup2")
int handle_dup2_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_dup_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_dup3")
int handle_dup3_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_dup_exit(ctx);
}

/* A walk over the fds of a close_range. */
struct range_walk {
	struct cw_sock_stats *stats;
	__u64 now;
	__s64 left;		/* accepted sockets still open: 0 ends it */
	__u32 tgid;
	__u32 lo;
};

static long close_in_range(__u64 i, void *data)
{
	struct range_walk *w = data;
	struct cw_sock_key k = { .tgid = w->tgid, .fd = w->lo + i };
	struct cw_sock_fd *s = bpf_map_lookup_elem(&sock_fds, &k);
	__u32 was;

	if (!s)
		return 0;
	was = __sync_lock_test_and_set(&s->state, CW_FD_CLOSED);
	if (!cw_fd_open(was))
		return 0;
	count_closed(w->stats, was, s->open_ns, w->now);
	return --w->left <= 0;
}

/*
 * close_range(lo, hi, 0), and closefrom(lo), which glibc makes of it:
 * the accepted sockets in the range are closed. It fails only on
 * arguments checked here, so they are counted now. The walk goes no
 * further than the process' fd table, nor once the last open socket is
 * found: a closefrom(3) costs what the table holds. With flags it
 * closes nothing now (CLOSE_RANGE_CLOEXEC: the exec will), or in a copy
 * of the table that other threads do not share (CLOSE_RANGE_UNSHARE):
 * the sweep settles both.
 */
SEC("tracepoint/syscalls/sys_enter_close_range")
int handle_close_range_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct range_walk w = { .tgid = bpf_get_current_pid_tgid() >> 32 };
	__u32 lo = ctx->args[0], hi = ctx->args[1], max_fds, n;

	if (ctx->args[2] || lo > hi)
		return 0;
	w.stats = bpf_map_lookup_elem(&sock_stats, &w.tgid);
	if (!w.stats)
		return 0;
	w.left = w.stats->opened - w.stats->closed;
	max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	if (w.left <= 0 || lo >= max_fds)
		return 0;
	if (hi >= max_fds)
		hi = max_fds - 1;
	n = hi - lo + 1;
	w.lo = lo;
	w.now = bpf_ktime_get_ns();
	bpf_loop(n < CW_SOCK_RANGE_MAX ? n : CW_SOCK_RANGE_MAX, close_in_range,
		 &w, 0);
	return 0;
}

/* The io_uring_cmd of a request: its opcode's arguments, after prep. */
static void *uring_cmd(void *req)
{
	return req + bpf_core_field_offset(struct io_kiocb, cmd);
}

/* Learns an accept of a ring: its completions with no request are accepts. */
static void uring_accept_learn(struct io_kiocb *req)
{
	struct uring_accept_key k = { .ring = (__u64)req->ctx,
				      .user_data = req->cqe.user_data };
	struct io_accept *acc = uring_cmd(req);
	__u32 fixed = BPF_CORE_READ(acc, file_slot) != 0;

	bpf_map_update_elem(&uring_accepts, &k, &fixed, BPF_ANY);
}

static void uring_close_begin(struct io_kiocb *req)
{
	struct io_close *cl = uring_cmd(req);
	struct sock_closing c = {};
	__u64 key = (__u64)req;

	if (BPF_CORE_READ(cl, file_slot))
		return;		/* a fixed file: in no fd table */
	if (sock_take(bpf_get_current_pid_tgid() >> 32, BPF_CORE_READ(cl, fd), &c))
		bpf_map_update_elem(&uring_closing, &key, &c, BPF_ANY);
}

/*
 * io_uring's tracepoints are raw (tp_btf): every io_uring request on the
 * host passes them, and the classic tracepoint would first copy each
 * event into a perf buffer, opcode name included.
 *
 * Submitted, and prepared: the close's fd is known, not yet closed.
 */
SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(handle_uring_submit, struct io_kiocb *req)
{
	__u8 op = req->opcode;

	if (op == IORING_OP_ACCEPT)
		uring_accept_learn(req);
	else if (op == IORING_OP_CLOSE)
		uring_close_begin(req);
	return 0;
}

/* A pending request woken (a connection came): learn its accept. */
SEC("tp_btf/io_uring_task_add")
int BPF_PROG(handle_uring_task_add, struct io_kiocb *req, int mask)
{
	if (req->opcode == IORING_OP_ACCEPT)
		uring_accept_learn(req);
	return 0;
}

/*
 * A multishot accept's completion but its last (req NULL): a socket
 * accepted into the fd table, as its request was learnt.
 */
static int uring_accepted_more(__u64 ring, struct io_uring_cqe *cqe)
{
	struct uring_accept_key k = { .ring = ring,
				      .user_data = cqe->user_data };
	__u32 *fixed = bpf_map_lookup_elem(&uring_accepts, &k);

	if (!fixed || *fixed)
		return 0;
	if (!(cqe->flags & IORING_CQE_F_MORE_FLAG))
		bpf_map_delete_elem(&uring_accepts, &k);
	return cqe->res >= 0;
}

/* An accept's own completion: the socket is in the fd table, not fixed. */
static int uring_accepted(__u64 ring, void *req, struct io_uring_cqe *cqe)
{
	struct uring_accept_key k = { .ring = ring,
				      .user_data = cqe->user_data };
	struct io_accept *acc = uring_cmd(req);

	/* Its last completion: the user_data may name another one. */
	if (!(cqe->flags & IORING_CQE_F_MORE_FLAG))
		bpf_map_delete_elem(&uring_accepts, &k);
	return cqe->res >= 0 && !BPF_CORE_READ(acc, file_slot);
}

static void uring_close_end(void *ctx, void *req, struct io_uring_cqe *cqe)
{
	__u64 key = (__u64)req;
	struct sock_closing *c = bpf_map_lookup_elem(&uring_closing, &key);

	if (!c)
		return;
	sock_close_end(ctx, c, cqe->res == -EBADF_ERRNO);
	bpf_map_delete_elem(&uring_closing, &key);
}

/*
 * Completions run in the process (its thread, io-wq worker or SQPOLL
 * thread: one thread group). Every completion on the host comes here,
 * and one read (a multishot's: one lookup) sends those that are neither
 * an accept nor a close away. req is NULL for a multishot request's
 * completions but its last.
 */
SEC("tp_btf/io_uring_complete")
int BPF_PROG(handle_uring_complete, struct io_ring_ctx *ring, void *req,
	     struct io_uring_cqe *cqe)
{
	__u8 op;

	if (!req) {
		if (uring_accepted_more((__u64)ring, cqe))
			sock_accepted(cqe->res);
		return 0;
	}
	op = BPF_CORE_READ((struct io_kiocb *)req, opcode);
	if (op == IORING_OP_ACCEPT && uring_accepted((__u64)ring, req, cqe))
		sock_accepted(cqe->res);
	else if (op == IORING_OP_CLOSE)
		uring_close_end(ctx, req, cqe);
	return 0;
}

/*
 * User space settles a socket that went with no event (its process
 * ended, or the sweep found its fd gone): counted closed once, by
 * whoever moves it from open first, and only if the fd still holds the
 * connection user space saw.
 */
SEC("syscall")
int sock_reconcile(struct cw_sock_reconcile *r)
{
	struct cw_sock_key k = r->key;
	__u32 tgid = k.tgid;
	struct cw_sock_stats *stats;
	struct cw_sock_fd *s;
	__u32 was;

	r->closed = 0;
	s = bpf_map_lookup_elem(&sock_fds, &k);
	stats = sock_stats_of(tgid);
	if (!s || s->open_ns != r->open_ns)
		return 0;
	was = __sync_lock_test_and_set(&s->state, CW_FD_CLOSED);
	if (!cw_fd_open(was))
		return 0;
	count_closed(stats, was, r->open_ns, r->end_ns);
	if (r->how == CW_GONE_EXIT)
		__sync_fetch_and_add(&stats->closed_by_exit, 1);
	else
		__sync_fetch_and_add(&stats->closed_by_sweep, 1);
	r->closed = 1;
	return 0;
}
