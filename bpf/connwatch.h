/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every struct and enum that crosses the kernel/user boundary.
 * Included by bpf/connwatch.bpf.c (with vmlinux.h) and by user/ (with
 * <linux/types.h>), so it uses only __u32/__s64-style types.
 */
#ifndef CONNWATCH_H
#define CONNWATCH_H

#define CW_MAX_PROBES		256	/* probe slots, one per spec probe */
#define CW_MAX_KEYS		16384	/* rate limit entries (per key, kind) */
#define CW_MAX_INFLIGHT		16384	/* threads inside a dec function */
#define CW_MAX_TARGETS		1024	/* processes found running at attach */
/*
 * Defaults of what the user sizes (--max-keys, --max-processes): the
 * per-key detection state and its tombstones; the process tables
 * (watched, running at attach, per-process totals and socket stats).
 * The BPF object declares these; user space sets the real sizes
 * before it loads.
 */
#define CW_DEFAULT_MAX_KEYS	131072
#define CW_DEFAULT_MAX_PROCS	4096
/*
 * Tombstones of keys that balanced, per key tracked: a close too many
 * comes soon after the close (the bugs of this family), and the LRU keeps
 * the latest: a quarter of the memory a tombstone per key would take.
 */
#define CW_TOMBSTONES(max_keys)	((max_keys) / 4)
#define CW_MAX_TARGET_SPECS	16	/* targets (specs, presets) of a session */
#define CW_STACK_DEPTH		32	/* user frames kept per alert */
#define CW_COMM_LEN		16
#define CW_RINGBUF_BYTES	(256 * 1024)

/*
 * The `watched` map holds each process' start time as /proc/PID/stat
 * says it: clock ticks (USER_HZ, 100 on x86) since boot. A pid that
 * names another process since has another start time.
 */
#define CW_NS_PER_TICK		10000000ull

/*
 * Maps pinned under /sys/fs/bpf/connwatch outlive connwatch and are
 * adopted by the next one: bump this when what a pinned map holds
 * changes meaning, so that no connwatch adopts another one's maps.
 */
#define CW_PIN_VERSION		7

/*
 * Connection duration histogram (sockets preset and the LD_PRELOAD shim):
 * upper bounds in ns; one more bucket counts what is above the last.
 */
#define CW_DURATION_BOUNDS_NS { 1000000ull, 5000000ull, 10000000ull, \
	50000000ull, 100000000ull, 500000000ull, 1000000000ull, \
	5000000000ull, 10000000000ull, 60000000000ull }
#define CW_DURATION_BUCKETS	11

enum cw_role {
	CW_ROLE_OPEN = 0,
	CW_ROLE_CLOSE,
	CW_ROLE_INC,
	CW_ROLE_DEC,
	CW_ROLE_DRAIN,
	CW_ROLE_SHUTDOWN,
	CW_ROLE_RESET,			/* the drain signal is new again */
	CW_ROLE__COUNT,			/* the roles a spec file names */
	/* Checks of presets: no accounting, an alert when the read fails it. */
	CW_ROLE_CHAN_CLOSE = CW_ROLE__COUNT,	/* runtime.closechan: closed set */
	CW_ROLE_WG_ADD,			/* WaitGroup.Add: counter + delta < 0 */
	CW_ROLE_HIJACK,			/* net/http lets go of a connection
					 * (Hijack): its socket stays open */
	CW_ROLE__ALL,
};

/* Calling convention of the probed function. */
enum cw_abi {
	CW_ABI_SYSV = 0,	/* C: rdi, rsi, rdx, rcx, r8, r9 */
	CW_ABI_GO,		/* Go >= 1.17 register ABI: rax, rbx, rcx, rdi,
				 * rsi, r8, r9, r10, r11; r14 is the goroutine */
};

/* Where a probe takes the key of the object it accounts for. */
enum cw_key_source {
	CW_KEY_PROCESS = 0,	/* one key per process */
	CW_KEY_ARG,		/* argument register key_arg */
	CW_KEY_SITE_REG,	/* the register the site's cookie names: the
				 * object a call site's argument comes from */
};

/* General registers a site's key can be read from (pt_regs fields). */
enum cw_reg {
	CW_REG_NONE = 0,
	CW_REG_RAX, CW_REG_RBX, CW_REG_RCX, CW_REG_RDX, CW_REG_RSI,
	CW_REG_RDI, CW_REG_RBP, CW_REG_R8, CW_REG_R9, CW_REG_R10,
	CW_REG_R11, CW_REG_R12, CW_REG_R13, CW_REG_R14, CW_REG_R15,
	CW_REG__COUNT,
};

enum cw_counter_type {
	CW_CTR_NONE = 0,
	CW_CTR_S32,
	CW_CTR_S64,
	CW_CTR_U32,
	CW_CTR_U64,
};

/*
 * The attach cookie says which probe fired and at which site: the probe
 * slot in the low 16 bits, the site kind in the next 8, then up to two
 * registers (enum cw_reg) the site reads: a call site's owner; a failing
 * branch's tested address and a lock xadd's old value. A return-side
 * probe is a plain uprobe on a RET (or tail-call JMP) instruction, never
 * a uretprobe.
 */
enum cw_site {
	CW_SITE_ENTRY = 0,	/* function entry: the role acts here */
	CW_SITE_STASH,		/* entry of an "at: return" probe: save args */
	CW_SITE_EXIT,		/* RET / tail call: role acts, or leaves dec */
	CW_SITE_CALL,		/* a call to the function from a caller: the
				 * role acts; the frame is the caller's */
	CW_SITE_BRANCH,		/* a Go runtime check's failing branch: only
				 * the path to its panic runs it */
};

#define CW_COOKIE(slot, site, reg, reg2) \
	(((__u64)(reg2) << 32) | ((__u64)(reg) << 24) | \
	 ((__u64)(site) << 16) | (slot))
#define CW_COOKIE_SLOT(c)	((__u32)((c) & 0xffff))
#define CW_COOKIE_SITE(c)	((__u32)(((c) >> 16) & 0xff))
#define CW_COOKIE_REG(c)	((__u32)(((c) >> 24) & 0xff))
#define CW_COOKIE_REG2(c)	((__u32)(((c) >> 32) & 0xff))

/*
 * How a hijack probe finds the socket of net/http's *conn (its arg0):
 * conn.rwc is a net.Conn; its itab's first method (Close: net.Conn's
 * methods are sorted) tells the type behind it: net.(*TCPConn).Close,
 * or crypto/tls.(*Conn).Close, whose own conn is the *net.TCPConn. A
 * *net.TCPConn points at its *netFD (net.conn.fd), whose pfd.Sysfd
 * is the fd. The two methods are given as distances from the
 * probed instruction: the load bias cancels out.
 */
struct cw_conn_fd_path {
	__s64 rwc;		/* http.conn.rwc */
	__s64 itab_fun;		/* runtime.itab.fun */
	__s64 tls_conn;		/* tls.Conn.conn */
	__s64 netfd;		/* net.conn.fd: TCPConn embeds net.conn */
	__s64 sysfd;		/* netFD.pfd.Sysfd */
	__s64 tcp_close;	/* net.(*TCPConn).Close - probed address */
	__s64 tls_close;	/* crypto/tls.(*Conn).Close - probed address;
				 * 0: the binary has no TLS */
};

/* Per-probe configuration, indexed by slot in the `probes` array map. */
struct cw_probe_cfg {
	__u32 role;		/* enum cw_role */
	__u32 key_source;	/* enum cw_key_source */
	__u32 key_arg;		/* 0..8 when key_source == CW_KEY_ARG */
	__u32 at_return;	/* the role acts at the function's exits */
	__u32 track_inside;	/* count threads inside (dec at entry) */
	__u32 counter_type;	/* enum cw_counter_type */
	__u32 counter_arg;	/* base register of the real counter */
	__u32 target_id;	/* which spec this probe belongs to */
	__s64 counter_offset;	/* counter address = arg + offset */
	__u32 shadow_from_counter; /* spec has inc/dec: shadow = inc - dec */
	__u32 open_from_counter; /* and open/close: the counter counts the
				  * connections, both views start from it */
	__u32 stash_args;	/* at_return: key/counter saved at entry */
	__u32 late_entry;	/* entry site is after the first instruction */
	__u32 abi;		/* enum cw_abi */
	__s32 switch_arg;	/* >= 0: open if this (bool) arg, else close */
	__u32 enabled;
	__u32 pad;		/* zero: the struct is hashed whole (pin.c) */
	struct cw_conn_fd_path conn_fd;	/* CW_ROLE_HIJACK */
};

/*
 * Detection state is per (process, spec, key): what judging the next hit
 * needs. An object's entry goes when it balances (closed, its count back
 * to zero) and leaves a tombstone, so that closing it again is still
 * judged; both maps are LRU: an eviction loses detection, never a count.
 * The counts are per (process, spec) in `totals`, which nothing evicts.
 */
struct cw_acct_key {
	__u32 tgid;
	__u32 target_id;
	__u64 key;
};

struct cw_acct {
	__s64 live;		/* opened - closed, updated atomically */
	__s64 count;		/* inc - dec, updated atomically */
	__s64 counter_value;	/* last real counter read */
	__s64 low;		/* lowest negative count already reported */
	__s32 inside_dec;	/* threads between dec entry and exit */
	__u32 drained;		/* drain fired, not yet re-armed */
	__u32 shutdown;		/* graceful shutdown seen */
	__u32 rearm_reported;	/* drain_rearmed sent for this drain */
	__u32 counter_read;	/* counter_value is valid */
	__u32 armed;		/* the shadow counts: a value to show */
	__u32 seeded;		/* armed from a counter read mid-flight: the
				 * shadow is a view, the counter is judged */
};

/* The counts of one process for one spec: never evicted, never judged. */
struct cw_proc_key {
	__u32 tgid;
	__u32 target_id;
};

struct cw_totals {
	__s64 opened;
	__s64 closed;
	__s64 inc;
	__s64 dec;
	__s64 drains;
	__s64 live;		/* connections open: opened - closed, but for
				 * closes of what began before attach */
	__s64 race_windows;
	__s64 preattach_closes;	/* decrements of what began before attach */
	__s64 keys_unknown;	/* closes and decrements of a key not in the
				 * detection table (evicted): counted only */
	__s64 counter_value;	/* last real counter read, of any key */
	__u32 counter_read;
	__u32 pad;
};

/*
 * Tables that can fill (an insert refused): the kernel counts each
 * refusal, and the counts go on in the target's totals without a pid.
 */
enum cw_table {
	CW_TABLE_TOTALS = 0,
	CW_TABLE_WATCHED,
	CW_TABLE_SOCK_TARGETS,
	CW_TABLE_SOCK_STATS,
	CW_TABLE_ANOMALY_COUNTS,
	CW_TABLE__COUNT,
};

enum cw_anomaly_kind {
	CW_ANOM_COUNTER_UNDERFLOW = 0,
	CW_ANOM_DUPLICATE_DRAIN,
	CW_ANOM_CLOSE_OF_CLOSED_CHANNEL,
	CW_ANOM_NEGATIVE_WAITGROUP,
	CW_ANOM_DOUBLE_CLOSE_FD,
	CW_ANOM_DRAIN_REARMED,
	CW_ANOM_DRAIN_WITHOUT_SHUTDOWN,
	CW_ANOM_ACCOUNTING_DRIFT,
	CW_ANOM__COUNT,
};

/*
 * Anomalies are counted in the kernel per (process, target, kind), in
 * the probe, before anything that can fail: a full ring buffer loses a
 * record, never a count. Entries of exited processes are folded by user
 * space into the per-target totals (anomalies_unkeyed in the BPF
 * object's .bss), which also take what finds no room in the map.
 */
#define CW_MAX_ANOM_COUNTS	(CW_DEFAULT_MAX_PROCS * CW_ANOM__COUNT)

struct cw_anom_key {
	__u32 tgid;
	__u32 target_id;
	__u32 kind;		/* enum cw_anomaly_kind */
};

/*
 * Records are rate-limited per (process, target, key, kind): the first
 * CW_RATE_RECORDS of a window of CW_RATE_WINDOW_NS get one, the others
 * are folded: counted, and the count rides on the next record of that
 * key and kind, or on a flush by user space (the claim_folded program)
 * once the window is over. A record the ring buffer has no room for is
 * folded too. The first record of a (key, kind) is never suppressed.
 */
#define CW_RATE_RECORDS		10
#define CW_RATE_WINDOW_NS	10000000000ull

struct cw_rate_key {
	__u32 tgid;
	__u32 target_id;
	__u64 key;		/* 0 for double_close_fd: an fd number is
				 * reused by the next accept, it names no
				 * object */
	__u32 kind;
	__u32 pad;
};

/* What an alert says of one event, beyond its kind and stack. */
struct cw_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns() */
	__u64 key;		/* the object (the fd for double_close_fd) */
	__s64 shadow;
	__s64 counter;
	__u32 counter_read;
	__u32 tid;
	__u32 slot;
	__u32 pad;
	char comm[CW_COMM_LEN];
};

struct cw_rate {
	__u64 window_ns;	/* start of the current window */
	__u64 sent;		/* records admitted in it */
	__u64 folded;		/* events without a record since the last one */
	__u64 fold_ns;		/* when the first of them came */
	struct cw_event last;	/* the last of them */
};

/* claim_folded's context: in, key; out, what was folded (0: nothing). */
struct cw_claim {
	struct cw_rate_key key;
	__u64 folded;
	__u64 folded_ns;	/* from the first folded event to the last */
	struct cw_event last;
};

enum cw_record_type {
	CW_REC_ANOMALY = 1,
	CW_REC_EXIT,		/* a watched process exited */
	CW_REC_FOLDED,		/* made by user space from a claim: the last
				 * event folded, with no stack */
};

/* One ring buffer record: an anomaly, or a watched process' exit. */
struct cw_record {
	__u32 type;		/* enum cw_record_type */
	__u32 kind;		/* enum cw_anomaly_kind */
	__u64 ts_ns;		/* CLOCK_MONOTONIC, bpf_ktime_get_ns() */
	__u32 tgid;
	__u32 tid;
	__u32 slot;		/* probe that saw it */
	__u32 target_id;
	__u64 key;		/* CW_REC_EXIT: the process' start, clock
				 * ticks since boot (the watched table's) */
	__s64 shadow;		/* shadow count after this hit */
	__s64 counter;		/* real counter, if counter_read */
	__u32 counter_read;
	__s32 exit_code;	/* CW_REC_EXIT: wait status (code << 8 | sig) */
	__u64 ip;		/* probed instruction, for load-bias recovery */
	__u64 caller;		/* return address at sp (entry sites), or 0 */
	__u32 nr_frames;
	__u32 stopped;		/* --on-critical stop: this froze the process */
	__u64 folded;		/* events of this key and kind folded since the
				 * last record of theirs (rate limit, or no
				 * room in the ring buffer) */
	__u64 folded_ns;	/* since the first of them */
	__u64 stack[CW_STACK_DEPTH];
	char comm[CW_COMM_LEN];
};

/*
 * The sockets preset, for any process, keyed by (tgid, fd): syscall
 * tracepoints (accept/accept4 exit; close, close_range, dup2/dup3 over
 * an accepted socket) and io_uring's (IORING_OP_ACCEPT, single and
 * multishot; IORING_OP_CLOSE). What no event shows (exit, exec of
 * close-on-exec sockets, close_range with CLOSE_RANGE_UNSHARE) is found
 * by user space in the fd tables (user/sock_sweep.c).
 */
#define CW_SOCK_MAX_FDS		(256 * 1024)
/*
 * sock_slots: sock_targets, direct-mapped. A slot per tgid modulo this (a
 * power of two) names the process last added there (cw_sock_who): that
 * process finds itself watched with one load at each of its accepts and
 * closes, where a lookup in sock_targets cost ~120 ns here. 0: no tgid
 * of sock_targets there, so every other process on the host is turned
 * away by that same load. CW_SOCK_SLOT_ASK, or another process: ask
 * sock_targets. A slot is set to ASK before an insert and names the
 * process once it is in; it is never cleared: a process gone leaves its
 * start time there, which no later process given its pid has.
 */
#define CW_SOCK_SLOTS		16384
#define CW_SOCK_SLOT(tgid)	((tgid) & (CW_SOCK_SLOTS - 1))
#define CW_SOCK_SLOT_ASK	1ull

/* A process as sock_slots names it: never 0 nor ASK (a tgid is >= 1). */
static inline __u64 cw_sock_who(__u32 tgid, __u64 start_ticks)
{
	return (__u64)tgid << 32 | (__u32)start_ticks;
}

#define CW_SLOT_SOCKETS		0xffffu	/* cw_record.slot of socket alerts */
/*
 * close_range/closefrom: the fds of the range are looked at one by one
 * (bpf_loop), at most the process' fd table size, and at most this many;
 * what is above is left to the sweep.
 */
#define CW_SOCK_RANGE_MAX	(64 * 1024)
#define CW_SOCK_MAX_URING	4096	/* io_uring requests followed at once */

enum cw_fd_state {
	CW_FD_UNKNOWN = 0,	/* never accepted: a file, a pipe, a client */
	CW_FD_OPEN,		/* an accepted socket */
	CW_FD_CLOSED,		/* closed, and no accept since */
	CW_FD_HIJACKED,		/* open, but net/http let go of it (Hijack):
				 * go-net-http counted it closed there */
};

/* An accepted socket still open: as net/http has it, or hijacked. */
static inline int cw_fd_open(__u32 state)
{
	return state == CW_FD_OPEN || state == CW_FD_HIJACKED;
}

struct cw_sock_key {
	__u32 tgid;
	__s32 fd;
};

struct cw_sock_fd {
	__u64 open_ns;
	__u64 ino;		/* the socket's inode, 0 if unknown: the sweep
				 * tells it from a socket that got its number */
	__u32 state;		/* enum cw_fd_state */
	__u32 pad;
};

struct cw_sock_stats {
	__u64 opened;
	__u64 closed;		/* every way, those below included */
	__u64 closed_by_exit;	/* still open when the process ended */
	__u64 closed_by_sweep;	/* gone with no event: found by the sweep */
	__u64 double_closes;
	/* go-net-http's closes, net/http's view: hijacks of open sockets,
	 * and closes of sockets never hijacked */
	__u64 hijacked;
	__u64 closed_unhijacked;
	__u64 duration_sum_ns;
	__u64 buckets[CW_DURATION_BUCKETS];	/* not cumulative */
};

/* How a socket went that no close showed. */
enum cw_sock_gone {
	CW_GONE_EXIT = 0,	/* its process ended */
	CW_GONE_SWEEP,		/* its fd is gone, or names another file */
};

/*
 * sock_reconcile's context (bpf_prog_test_run): the connection user space
 * found gone, as it saw it; the program counts it closed only if it is
 * still that connection and still open.
 */
struct cw_sock_reconcile {
	struct cw_sock_key key;
	__u64 open_ns;
	__u64 end_ns;		/* CLOCK_MONOTONIC: when it went, or was found gone */
	__u32 how;		/* enum cw_sock_gone */
	__u32 closed;		/* out: 1 when this counted it */
};

/* --exe: a process counts when its executable is this inode. */
struct cw_sock_exe {
	__u64 dev;		/* kernel encoding: major << 20 | minor */
	__u64 ino;
	__u32 target_id;
	__u32 enabled;
};

#endif /* CONNWATCH_H */
