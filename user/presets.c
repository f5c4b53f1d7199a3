// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The preset table. Uprobe presets are built as specs, so they resolve,
 * attach and report exactly like a spec file; Go runtime field offsets
 * come from DWARF or the version table, never a guess.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "../bpf/connwatch.h"
#include "go_offsets.h"
#include "presets.h"

static struct spec_probe *add_probe(struct spec *spec, int role,
				    const char *symbol)
{
	struct spec_probe *p = &spec->probes[spec->nr_probes++];

	memset(p, 0, sizeof(*p));
	p->role = role;
	p->symbol = strdup(symbol);
	p->key_source = SPEC_KEY_ARG;	/* the receiver (arg0) */
	p->switch_arg = -1;
	return p;
}

static void start_spec(struct spec *spec, const char *name)
{
	memset(spec, 0, sizeof(*spec));
	spec->path = strdup(name);
	spec->drift.threshold = 8;
	spec->drift.grace_s = 10;
}

/*
 * A runtime function the linker keeps only when the program uses it: a
 * program that never uses a WaitGroup cannot misuse one.
 */
static int add_go_check(struct spec *spec, int role, const char *symbol,
			const char *absent_why, const char *panic_msg,
			const char *path, const char *go, enum go_field field,
			int type, char *err, size_t errlen)
{
	struct spec_probe *p;
	const char *source;
	int64_t off;

	if (go_field_offset(path, go, field, &off, &source, err, errlen))
		return -1;
	p = add_probe(spec, role, symbol);
	p->counter = (struct spec_counter){ .type = type, .base_arg = 0,
					    .offset = off };
	p->optional = 1;
	p->absent_why = absent_why;
	p->panic_msg = panic_msg;
	/* WaitGroup: the xadd is on the 64-bit state, the counter its high
	 * half; closechan tests the field itself. */
	p->branch_disp = field == GO_WAITGROUP_COUNTER ? off - 4 : off;
	return 0;
}

/* Any Go program: the panics of the family, caught before they happen. */
static int build_go_runtime(struct spec *spec, const char *path,
			    const char *go, char *err, size_t errlen)
{
	start_spec(spec, "preset go-runtime");
	if (add_go_check(spec, CW_ROLE_CHAN_CLOSE, "runtime.closechan",
			 "the program never closes a channel",
			 "close of closed channel", path, go, GO_HCHAN_CLOSED,
			 CW_CTR_U32, err, errlen) ||
	    add_go_check(spec, CW_ROLE_WG_ADD, "sync.(*WaitGroup).Add",
			 "the program never uses a sync.WaitGroup (the linker "
			 "dropped it): negative_waitgroup cannot happen",
			 "sync: negative WaitGroup counter", path, go,
			 GO_WAITGROUP_COUNTER, CW_CTR_S32, err, errlen))
		return -1;
	return 0;
}

/* net/http's trackConn(c *conn, add bool): every Go HTTP server. */
static int build_go_net_http(struct spec *spec, const char *path,
			     const char *go, char *err, size_t errlen)
{
	(void)path; (void)go; (void)err; (void)errlen;
	start_spec(spec, "preset go-net-http");
	add_probe(spec, CW_ROLE_OPEN, "net/http.(*Server).trackConn")
		->switch_arg = 2;
	return 0;
}

static const char quic_other_module[] = "the other quic-go module path";
static const char quic_no_tracking[] =
	"this http3.Server has no v0.48 connection tracking (before v0.48: "
	"connections are still counted)";

static void add_server_probe(struct spec *spec, int role, const char *module,
			     const char *method, const char *absent_why)
{
	struct spec_probe *p;
	char symbol[160];

	snprintf(symbol, sizeof(symbol), "%s/http3.(*Server).%s", module,
		 method);
	p = add_probe(spec, role, symbol);
	p->optional = 1;
	p->absent_why = absent_why;
}

/*
 * The seed's server, keyed by its *http3.Server. handleConn runs once per
 * QUIC connection: entry opens, every RET closes. Where the binary has
 * v0.48's tracking (quic-go#4705), its drain is the close of
 * connHandlingDone made in decreaseConnCount: probed at that call only,
 * keyed by the server the channel is loaded from, so the program's other
 * channel closes cost nothing. Shutdown and Close begin a shutdown; init
 * makes a new channel (ServeQUICConn runs it per call), which re-arms.
 * Every part is optional: 0.29's server has no tracking and keeps exact
 * counts, and only one module path is in any binary.
 */
static int build_quic_go_http3(struct spec *spec, const char *path,
			       const char *go, char *err, size_t errlen)
{
	static const char *const modules[] = {
		"github.com/lucas-clemente/quic-go",
		"github.com/quic-go/quic-go",
	};
	char caller[160];
	size_t i;

	(void)path; (void)go;
	start_spec(spec, "preset quic-go-http3");
	for (i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
		struct spec_probe *drain;

		add_server_probe(spec, CW_ROLE_OPEN, modules[i], "handleConn",
				 quic_other_module);
		add_server_probe(spec, CW_ROLE_CLOSE, modules[i], "handleConn",
				 quic_other_module);
		spec->probes[spec->nr_probes - 1].at_return = 1;
		add_server_probe(spec, CW_ROLE_SHUTDOWN, modules[i], "Shutdown",
				 quic_no_tracking);
		add_server_probe(spec, CW_ROLE_SHUTDOWN, modules[i], "Close",
				 quic_no_tracking);
		add_server_probe(spec, CW_ROLE_RESET, modules[i], "init",
				 quic_no_tracking);
		drain = add_probe(spec, CW_ROLE_DRAIN, "runtime.closechan");
		drain->optional = 1;
		drain->absent_why = quic_no_tracking;
		drain->key_source = SPEC_KEY_OWNER;
		snprintf(caller, sizeof(caller),
			 "%s/http3.(*Server).decreaseConnCount", modules[i]);
		drain->callers[drain->nr_callers] = strdup(caller);
		if (!drain->callers[drain->nr_callers++]) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

static const struct preset presets[] = {
	{
		.name = "sockets",
		.kind = PRESET_SOCKETS,
		.summary = "accepted sockets of any process (C, Go, anything): "
			   "opened, closed, open, duration; double_close_fd",
		.hooks = "tracepoints syscalls/sys_exit_accept, sys_exit_accept4, "
			 "sys_{enter,exit}_close, sys_enter_close_range, "
			 "sys_{enter,exit}_dup2, sys_{enter,exit}_dup3; "
			 "raw tracepoints io_uring_submit_req, io_uring_task_add, "
			 "io_uring_complete (IORING_OP_ACCEPT, IORING_OP_CLOSE); "
			 "what they cannot see (exit, exec) by a sweep of "
			 "/proc/PID/fd every 2 s",
		.cost = "no uprobe: 3 tracepoint hits per connection (accept "
			"exit, close enter and exit; with io_uring 4 to 5: "
			"submission, wakeup, completion); every io_uring "
			"completion on the host costs one map lookup",
	},
	{
		.name = "go-runtime",
		.kind = PRESET_SPEC,
		.summary = "any Go program: close_of_closed_channel and "
			   "negative_waitgroup, before the panic",
		.hooks = "the failing branch of runtime.closechan (hchan.closed "
			 "set) and of sync.(*WaitGroup).Add (counter < 0); their "
			 "entry where that branch is not found for certain",
		.cost = "0 traps on a healthy program (1 per call where a check "
			"stays at its entry: see connwatch check)",
		.build = build_go_runtime,
		.go_only = 1,
	},
	{
		.name = "go-net-http",
		.kind = PRESET_SPEC,
		.summary = "live connections of any Go net/http server",
		.hooks = "net/http.(*Server).trackConn (add: open, !add: close)",
		.cost = "2 uprobe traps per connection",
		.build = build_go_net_http,
		.go_only = 1,
	},
	{
		.name = "quic-go-http3",
		.kind = PRESET_SPEC,
		.summary = "QUIC connections of a quic-go HTTP/3 server "
			   "(github.com/lucas-clemente/quic-go and "
			   "github.com/quic-go/quic-go)",
		.hooks = "http3.(*Server).handleConn entry (open) and every RET "
			 "(close); v0.48's tracking where present: the "
			 "runtime.closechan call in decreaseConnCount (drain), "
			 "Shutdown and Close (shutdown), init (reset); "
			 "keyed by the *http3.Server",
		.cost = "2 uprobe traps per QUIC connection (handleConn entry "
			"and RET); with v0.48's tracking 1 more per idle, "
			"and 1 per init, Shutdown, Close",
		.build = build_quic_go_http3,
		.go_only = 1,
	},
};

const struct preset *preset_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (!strcmp(presets[i].name, name))
			return &presets[i];
	return NULL;
}

void presets_print(FILE *f)
{
	size_t i;

	for (i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		fprintf(f, "%-14s %s\n%-14s hooks: %s\n%-14s cost: %s\n",
			presets[i].name, presets[i].summary, "",
			presets[i].hooks, "", presets[i].cost);
}
