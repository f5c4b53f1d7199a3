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
			    const struct go_pclntab *go, char *err,
			    size_t errlen)
{
	start_spec(spec, "preset go-runtime");
	if (add_go_check(spec, CW_ROLE_CHAN_CLOSE, "runtime.closechan",
			 "the program never closes a channel",
			 "close of closed channel", path, go->version,
			 GO_HCHAN_CLOSED, CW_CTR_U32, err, errlen) ||
	    add_go_check(spec, CW_ROLE_WG_ADD, "sync.(*WaitGroup).Add",
			 "the program never uses a sync.WaitGroup (the linker "
			 "dropped it): negative_waitgroup cannot happen",
			 "sync: negative WaitGroup counter", path, go->version,
			 GO_WAITGROUP_COUNTER, CW_CTR_S32, err, errlen))
		return -1;
	return 0;
}

#define TRACK_CONN "net/http.(*Server).trackConn"
#define HIJACK_LOCKED "net/http.(*conn).hijackLocked"
#define TCP_CONN_CLOSE "net.(*TCPConn).Close"
#define TLS_CONN_CLOSE "crypto/tls.(*Conn).Close"

/*
 * The offsets of the way from net/http's *conn to its fd; *source says
 * where they came from: "DWARF", "table", or both when DWARF lacks some.
 */
static int conn_fd_offsets(struct cw_conn_fd_path *path, const char *file,
			   const char *go, const char **source, char *err,
			   size_t errlen)
{
	static const enum go_field steps[] = {
		GO_HTTP_CONN_RWC, GO_ITAB_FUN, GO_TLS_CONN_CONN,
		GO_NET_CONN_FD, GO_NETFD_PFD, GO_POLL_FD_SYSFD,
	};
	int64_t off[sizeof(steps) / sizeof(steps[0])];
	const char *from;
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (go_field_offset(file, go, steps[i], &off[i], &from, err,
				    errlen))
			return -1;
		if (i && strcmp(from, *source))
			from = "DWARF and table";
		*source = from;
	}
	*path = (struct cw_conn_fd_path){
		.rwc = off[0], .itab_fun = off[1], .tls_conn = off[2],
		.netfd = off[3], .sysfd = off[4] + off[5],
	};
	return 0;
}

/* The entry of a function the binary has, or 0. */
static uint64_t func_entry(const struct go_pclntab *go, const char *name)
{
	const struct go_func *f = go_func_by_name(go, name);

	return f ? f->entry : 0;
}

/*
 * net/http's connections are the process' accepted sockets (the
 * tracepoints of sockets, no uprobe), but for a hijacked one, which
 * net/http lets go of at the hijack while its socket stays open: the
 * one uprobe, on hijackLocked, runs only then. It finds the socket's fd
 * from the *conn, through a *net.TCPConn or a *tls.Conn over one (the
 * itab's Close tells which; anything else is not read).
 */
static int build_go_net_http(struct spec *spec, const char *path,
			     const struct go_pclntab *go, char *err,
			     size_t errlen)
{
	struct cw_conn_fd_path conn_fd;
	struct spec_probe *p;
	const char *source;

	start_spec(spec, "preset go-net-http");
	if (!go_func_by_name(go, TRACK_CONN)) {
		snprintf(err, errlen, "no net/http server in this binary (no "
			 TRACK_CONN "); `connwatch check` without --preset "
			 "says which presets fit it");
		return -1;
	}
	p = add_probe(spec, CW_ROLE_HIJACK, HIJACK_LOCKED);
	p->optional = 1;
	p->absent_why = "the program never hijacks a connection (the linker "
			"dropped hijackLocked): each leaves net/http at its "
			"socket's close";
	if (!go_func_by_name(go, HIJACK_LOCKED))
		return 0;
	if (conn_fd_offsets(&conn_fd, path, go->version, &source, err, errlen))
		return -1;
	conn_fd.tcp_close = func_entry(go, TCP_CONN_CLOSE);
	conn_fd.tls_close = func_entry(go, TLS_CONN_CLOSE);
	if (!conn_fd.tcp_close) {
		snprintf(err, errlen, "no " TCP_CONN_CLOSE " in this binary: "
			 "its net/http serves no TCP connection");
		return -1;
	}
	p->conn_fd = conn_fd;
	snprintf(spec->note, sizeof(spec->note), "connections: the accepted "
		 "sockets (tracepoints, no trap); a hijack (1 trap) reads the fd "
		 "at conn.rwc+%lld (*net.TCPConn%s), offsets from %s",
		 (long long)conn_fd.rwc, conn_fd.tls_close ? " or *tls.Conn" :
		 "", source);
	return 0;
}

#define QUIC_GO_OLD "github.com/lucas-clemente/quic-go"
#define QUIC_GO_NEW "github.com/quic-go/quic-go"
#define HANDLE_CONN "/http3.(*Server).handleConn"

static const char quic_no_tracking[] =
	"this http3.Server has no v0.48 connection tracking (before v0.48: "
	"connections are still counted)";

static struct spec_probe *add_server_probe(struct spec *spec, int role,
					   const char *module,
					   const char *method)
{
	char symbol[160];

	snprintf(symbol, sizeof(symbol), "%s/http3.(*Server).%s", module,
		 method);
	return add_probe(spec, role, symbol);
}

/* The tracking of v0.48 (quic-go#4705): optional, 0.29's server has none. */
static int add_quic_tracking(struct spec *spec, const char *module)
{
	static const struct { int role; const char *method; } parts[] = {
		{ CW_ROLE_SHUTDOWN, "Shutdown" }, { CW_ROLE_SHUTDOWN, "Close" },
		{ CW_ROLE_RESET, "init" },
	};
	struct spec_probe *drain;
	char caller[160];
	size_t i;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		struct spec_probe *p = add_server_probe(spec, parts[i].role,
							module, parts[i].method);

		p->optional = 1;
		p->absent_why = quic_no_tracking;
	}
	drain = add_probe(spec, CW_ROLE_DRAIN, "runtime.closechan");
	drain->optional = 1;
	drain->absent_why = quic_no_tracking;
	drain->key_source = SPEC_KEY_OWNER;
	snprintf(caller, sizeof(caller), "%s/http3.(*Server).decreaseConnCount",
		 module);
	drain->callers[drain->nr_callers] = strdup(caller);
	return drain->callers[drain->nr_callers++] ? 0 : -1;
}

/*
 * The seed's server, keyed by its *http3.Server. handleConn runs once per
 * QUIC connection: entry opens, every RET closes. Where the binary has
 * v0.48's tracking (quic-go#4705), its drain is the close of
 * connHandlingDone made in decreaseConnCount: probed at that call only,
 * keyed by the server the channel is loaded from, so the program's other
 * channel closes cost nothing. Shutdown and Close begin a shutdown; init
 * makes a new channel (ServeQUICConn runs it per call), which re-arms.
 * The tracking is optional: 0.29's server has none and keeps exact
 * counts. A binary links one of the two module paths (both would be two
 * servers): only those present are probed, and the note says so.
 */
static int build_quic_go_http3(struct spec *spec, const char *path,
			       const struct go_pclntab *go, char *err,
			       size_t errlen)
{
	static const char *const modules[] = { QUIC_GO_OLD, QUIC_GO_NEW };
	int present[2] = {};
	size_t i;

	(void)path;
	start_spec(spec, "preset quic-go-http3");
	for (i = 0; i < 2; i++) {
		char handle_conn[160];

		snprintf(handle_conn, sizeof(handle_conn), "%s" HANDLE_CONN,
			 modules[i]);
		present[i] = go_func_by_name(go, handle_conn) != NULL;
		if (!present[i])
			continue;
		add_server_probe(spec, CW_ROLE_OPEN, modules[i], "handleConn");
		add_server_probe(spec, CW_ROLE_CLOSE, modules[i],
				 "handleConn")->at_return = 1;
		if (add_quic_tracking(spec, modules[i])) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	if (!present[0] && !present[1]) {
		snprintf(err, errlen, "no quic-go HTTP/3 server in this binary "
			 "(no " QUIC_GO_OLD HANDLE_CONN " or " QUIC_GO_NEW
			 HANDLE_CONN "); `connwatch check` without --preset says "
			 "which presets fit it");
		return -1;
	}
	if (present[0] != present[1])
		snprintf(spec->note, sizeof(spec->note), "%s/http3 is not in "
			 "this binary, and need not be: it links %s, the "
			 "other module path", modules[present[0]],
			 modules[present[1]]);
	return 0;
}

static const struct preset presets[] = {
	{
		.name = "sockets",
		.kind = PRESET_SOCKETS,
		.summary = "accepted sockets of any process (C, Go, anything): "
			   "opened, closed, open, duration; double_close_fd",
		.hooks = "tracepoints syscalls/sys_exit_accept, sys_exit_accept4, "
			 "sys_enter_close, sys_enter_close_range, "
			 "sys_{enter,exit}_dup2, sys_{enter,exit}_dup3; "
			 "raw tracepoints io_uring_submit_req, io_uring_task_add, "
			 "io_uring_complete (IORING_OP_ACCEPT, IORING_OP_CLOSE); "
			 "what they cannot see (exit, exec) by a sweep of "
			 "/proc/PID/fd every 2 s",
		.cost = "no uprobe: 2 tracepoint hits per connection (accept "
			"exit, close entry; with io_uring 4 to 5: "
			"submission, wakeup, completion); every io_uring "
			"completion on the host costs one read of its opcode "
			"(a multishot request's: one map lookup)",
		.found_by = { TRACK_CONN },
		.found_why = "a Go HTTP server's connections are its accepted "
			     "sockets: counted by tracepoints, no uprobe trap "
			     "(go-net-http, on request, counts them as net/http "
			     "does: a hijacked one leaves at the hijack)",
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
		.summary = "live connections of any Go net/http server, as "
			   "net/http tracks them: its accepted sockets, a "
			   "hijacked one (websocket, CONNECT) closed at the "
			   "hijack (sockets counts it until its socket closes)",
		.hooks = "the tracepoints of sockets; net/http.(*conn)."
			 "hijackLocked (hijack: the socket leaves net/http)",
		.cost = "no uprobe trap per connection (2 tracepoint hits); "
			"1 trap per hijack",
		.build = build_go_net_http,
		.go_only = 1,
		.on_request = 1,
		.counts_sockets = 1,
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
		.found_by = { QUIC_GO_OLD HANDLE_CONN, QUIC_GO_NEW HANDLE_CONN },
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

/* The first of p's functions the binary has, or NULL. */
static const char *found_in(const struct preset *p,
			    const struct go_pclntab *go)
{
	size_t i;

	for (i = 0; i < sizeof(p->found_by) / sizeof(p->found_by[0]) &&
		    p->found_by[i]; i++)
		if (go_func_by_name(go, p->found_by[i]))
			return p->found_by[i];
	return NULL;
}

/* Why p fits the binary, in why; 0 if it does not. */
static int preset_fits(const struct preset *p, const struct go_pclntab *go,
		       char *why, size_t len)
{
	const char *fn;

	if (p->on_request)
		return 0;
	if (!go) {
		snprintf(why, len, "not a Go program: counts the accepted "
			 "sockets of any process");
		return p->kind == PRESET_SOCKETS;
	}
	if (!p->found_by[0]) {
		snprintf(why, len, "a Go program%s%s: catches the runtime's "
			 "panics of this family before they happen",
			 go->version[0] ? " built with " : "", go->version);
		return p->go_only;
	}
	fn = found_in(p, go);
	if (fn)
		snprintf(why, len, "it has %s%s%s", fn,
			 p->found_why ? ": " : "",
			 p->found_why ? p->found_why : "");
	return fn != NULL;
}

int presets_choose(const struct go_pclntab *go,
		   struct preset_choice out[CW_MAX_PRESET_CHOICES])
{
	int n = 0;
	size_t i;

	for (i = 0; i < sizeof(presets) / sizeof(presets[0]) &&
		    n < CW_MAX_PRESET_CHOICES; i++) {
		out[n].preset = &presets[i];
		n += preset_fits(&presets[i], go, out[n].why,
				 sizeof(out[n].why));
	}
	return n;
}

void presets_print(FILE *f)
{
	size_t i;

	for (i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		fprintf(f, "%-14s %s\n%-14s hooks: %s\n%-14s cost: %s\n",
			presets[i].name, presets[i].summary, "",
			presets[i].hooks, "", presets[i].cost);
	fprintf(f, "\nWith no --preset or --spec, attach, check and run choose: "
		"a Go program\ngets go-runtime, plus sockets where it has "
		"net/http's server and\nquic-go-http3 where it has quic-go's; "
		"anything else gets sockets.\ngo-net-http is never chosen: "
		"name it for net/http's own accounting.\n");
}
