// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* connwatch: the command line. See README.md and `connwatch --help`. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "daemon.h"
#include "metrics.h"
#include "cli.h"
#include "gopclntab.h"
#include "labels.h"
#include "pin.h"
#include "presets.h"
#include "privs.h"
#include "proc_tables.h"
#include "procfs.h"
#include "resolve.h"
#include "summary.h"
#include "supervise.h"
#include "web_config.h"


static const char usage_text[] =
"usage: connwatch COMMAND [OPTIONS]\n"
"\n"
"Watches a server's connection accounting with eBPF uprobes and alerts\n"
"before it crashes the server (counter underflow, duplicate drain).\n"
"\n"
"commands:\n"
"  attach (--pid PID | --exe PATH) [--spec FILE | --preset NAME]...\n"
"         [--listen ADDR:PORT] [--alert-log FILE] [--duration SECONDS] [--json]\n"
"         [--on-critical stop] [--alertmanager URL] [--on-alert CMD]\n"
"         [--web.config.file FILE] [--fresh] [--exited-grace SECONDS]\n"
"         [--max-keys N] [--max-processes N]\n"
"                       watch a running process (or every process of a binary);\n"
"                       a restart for the same target and spec goes on from the\n"
"                       state pinned in /sys/fs/bpf/connwatch\n"
"  check (--pid PID | --exe PATH) [--spec FILE | --preset NAME]...\n"
"                       resolve every probe, attach nothing\n"
"                       (no --preset or --spec: the presets that fit the\n"
"                       binary are chosen, each said with why)\n"
"  run [--preload] [--preset NAME | --spec FILE]... [--fail-on LEVEL] -- CMD...\n"
"                       start CMD watched; exit with its status (3: alerted)\n"
"  collect [--preload-socket PATH]\n"
"                       serve what LD_PRELOAD'ed services report\n"
"  presets              list the presets and what each hooks\n"
"  --config FILE [--fresh]\n"
"                       daemon mode: the targets of FILE, one /metrics;\n"
"                       SIGHUP reloads, keeping unchanged targets' counts;\n"
"                       a child restarted goes on from its pinned state,\n"
"                       --fresh: the first children start over\n"
"  symbols (--pid PID | --exe PATH) [REGEX]\n"
"                       list the functions of the binary\n"
"\n"
"Run `connwatch COMMAND --help` for a command's options.\n";

static const char attach_help[] =
"usage: connwatch attach (--pid PID | --exe PATH) [--spec FILE | --preset NAME]...\n"
"                        [options]\n"
"\n"
"With no --preset or --spec, connwatch reads the binary and chooses: a Go\n"
"program gets go-runtime, plus sockets where it has net/http's server and\n"
"quic-go-http3 where it has quic-go's; anything else gets sockets. Each\n"
"choice is said with why. go-net-http (net/http's view: a hijacked\n"
"connection leaves at the hijack) only when named.\n"
"\n"
"  -p, --pid PID          the process to watch (sockets: and its children)\n"
"  -e, --exe PATH         every process running PATH, now and later\n"
"  -s, --spec FILE        spec file (YAML); may be repeated\n"
"  -P, --preset NAME      a built-in preset (`connwatch presets`)\n"
"                         (a preset or spec given twice is loaded once)\n"
"  -t, --target NAME      the target label of every series and alert\n"
"                         (default: the specs' target:, else the binary's\n"
"                         name); the preset or spec is the source label\n"
"  -l, --listen ADDR:PORT metrics address (default " CW_DEFAULT_LISTEN ")\n"
"  -a, --alert-log FILE   JSON alert log, fsync'ed per alert\n"
"                         (default " DEFAULT_ALERT_LOG ")\n"
"  -d, --duration SECONDS stop after SECONDS (default: SIGINT/SIGTERM)\n"
"  -j, --json             alerts on stderr as JSON lines\n"
"      --on-critical stop SIGSTOP the target at a critical event, from the\n"
"                         probe, so it can be cored (gcore) before it panics\n"
"      --alertmanager URL push every alert to Alertmanager (URL/api/v2/alerts)\n"
"      --on-alert CMD     run CMD (sh -c) with the alert's JSON on stdin\n"
"      --web.config.file FILE\n"
"                         TLS and basic auth (bcrypt) for /metrics, in the\n"
"                         Prometheus exporter-toolkit format\n"
"      --fresh            start over: adopt none of the counts and drain\n"
"                         state a connwatch before pinned for this target\n"
"                         and spec (/sys/fs/bpf/connwatch), and drop them\n"
"      --exited-grace SECONDS\n"
"                         an exited process' series stay this long (default\n"
"                         300), then its counts go on in its target's series\n"
"                         (no pid label) and its table entries are freed\n"
"      --max-keys N       objects (keys) tracked at once for detection\n"
"                         (default 131072); beyond, the oldest are evicted:\n"
"                         their closes are counted, never judged\n"
"      --max-processes N  processes in the tables at once (default 4096);\n"
"                         beyond, counts go to the target's series\n"
"      --user NAME        once attached, run as NAME (its groups, gid,\n"
"                         uid), keeping only the capabilities below; its\n"
"                         pins are handed to it, to remove at the end\n"
"  -h, --help             this text\n"
"\n"
"The counts and the drain state are pinned under /sys/fs/bpf/connwatch:\n"
"connwatch started again for the same target (binary; --pid: that process)\n"
"and the same specs goes on from them, after SIGTERM or kill -9 alike.\n"
"Probes are not pinned: they end with connwatch.\n"
"\n"
"Attaching needs root. Once attached, connwatch drops every capability\n"
"for good but CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH where it meets\n"
"processes later (--exe, the sockets preset: their /proc and files);\n"
"watching a --pid alone it keeps none (its maps and files were opened at\n"
"attach). The startup log says what is kept, and why.\n";

static const char check_help[] =
"usage: connwatch check (--pid PID | --exe PATH) [--spec FILE | --preset NAME]...\n"
"                       [--target NAME]\n"
"\n"
"Resolves every probe of every spec in the binary and prints where each\n"
"would attach (entry and exit sites), and the target label attach would\n"
"serve (--target NAME, else the specs' target:, else the binary's name).\n"
"Attaches nothing. Exit 1 if any probe does not resolve. With no --preset\n"
"or --spec: the presets that fit the binary (as attach would choose\n"
"them), and the attach command line.\n";

static const char symbols_help[] =
"usage: connwatch symbols (--pid PID | --exe PATH) [REGEX]\n"
"\n"
"Lists the binary's functions (address, size, name), those matching the\n"
"extended regular expression REGEX if given. Go binaries, stripped or\n"
"not, are read from their pclntab; others from their ELF symbols.\n";

void die_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "connwatch %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see `connwatch %s --help`)\n", cmd);
	exit(2);
}

static long parse_number(const char *cmd, const char *opt, const char *s,
			 long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || !*s || v < min || v > max)
		die_usage(cmd, "%s: '%s' is not a number in %ld..%ld", opt, s,
			  min, max);
	return v;
}

static void room_for_one_more(const char *cmd, const struct cli *c)
{
	if (c->nr_specs + c->nr_presets == CW_MAX_TARGET_SPECS)
		die_usage(cmd, "at most %d specs and presets",
			  CW_MAX_TARGET_SPECS);
}

/* A preset or spec given twice is loaded once: twice, it would serve
 * every one of its series twice. */
static void say_given_twice(const char *opt, const char *name)
{
	fprintf(stderr, "connwatch: %s %s given twice: loaded once\n", opt,
		name);
}

static void add_preset(const char *cmd, struct cli *c, const char *name)
{
	const struct preset *p = preset_find(name);
	int i;

	if (!p)
		die_usage(cmd, "--preset: unknown preset '%s' (`connwatch "
			  "presets` lists them)", name);
	for (i = 0; i < c->nr_presets; i++)
		if (c->presets[i] == p) {
			say_given_twice("--preset", name);
			return;
		}
	room_for_one_more(cmd, c);
	c->presets[c->nr_presets++] = p;
}

/* The same file: the same path once resolved (or as given, if missing). */
static int same_file(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	if (realpath(a, ra) && realpath(b, rb))
		return !strcmp(ra, rb);
	return !strcmp(a, b);
}

static void add_spec(const char *cmd, struct cli *c, const char *path)
{
	int i;

	for (i = 0; i < c->nr_specs; i++)
		if (same_file(c->specs[i], path)) {
			say_given_twice("--spec", path);
			return;
		}
	room_for_one_more(cmd, c);
	c->specs[c->nr_specs++] = path;
}

void parse_cli(const char *cmd, int argc, char **argv, struct cli *c,
	       const char *help, int mode)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "exe", required_argument, NULL, 'e' },
		{ "spec", required_argument, NULL, 's' },
		{ "preset", required_argument, NULL, 'P' },
		{ "listen", required_argument, NULL, 'l' },
		{ "alert-log", required_argument, NULL, 'a' },
		{ "duration", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "preload", no_argument, NULL, 'L' },
		{ "preload-socket", required_argument, NULL, 'S' },
		{ "fail-on", required_argument, NULL, 'f' },
		{ "target", required_argument, NULL, 't' },
		{ "on-critical", required_argument, NULL, 'O' },
		{ "alertmanager", required_argument, NULL, 'M' },
		{ "on-alert", required_argument, NULL, 'H' },
		{ "web.config.file", required_argument, NULL, 'W' },
		{ "fresh", no_argument, NULL, 'F' },
		{ "exited-grace", required_argument, NULL, 'G' },
		{ "max-keys", required_argument, NULL, 'K' },
		{ "max-processes", required_argument, NULL, 'N' },
		{ "user", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char err[256];
	int o;

	memset(c, 0, sizeof(*c));
	c->listen = CW_DEFAULT_LISTEN;
	c->alert_log = DEFAULT_ALERT_LOG;
	c->exited_grace_s = CW_DEFAULT_EXITED_GRACE_S;
	c->max_keys = CW_DEFAULT_MAX_KEYS;
	c->max_procs = CW_DEFAULT_MAX_PROCS;
	opterr = 0;
	optind = 1;
	/* '+': stop at the first non-option, `run`'s command. */
	while ((o = getopt_long(argc, argv, "+:p:e:s:P:l:a:d:t:jh", opts, NULL)) != -1) {
		switch (o) {
		case 'p':
			c->pid = parse_number(cmd, "--pid", optarg, 1, INT_MAX);
			break;
		case 'e':
			c->exe = optarg;
			break;
		case 's':
			add_spec(cmd, c, optarg);
			break;
		case 'P':
			add_preset(cmd, c, optarg);
			break;
		case 'l':
			c->listen = optarg;
			break;
		case 'a':
			c->alert_log = optarg;
			break;
		case 'd':
			c->duration_s = parse_number(cmd, "--duration", optarg,
						     1, 100000000);
			break;
		case 'j':
			c->json = 1;
			break;
		case 'L':
			c->preload = 1;
			break;
		case 't':
			c->target = optarg;
			break;
		case 'M':
			c->alertmanager = optarg;
			break;
		case 'H':
			c->on_alert = optarg;
			break;
		case 'W':
			c->web_config = optarg;
			break;
		case 'O':
			if (strcmp(optarg, "stop"))
				die_usage(cmd, "--on-critical: '%s' is not stop",
					  optarg);
			c->stop_on_critical = 1;
			break;
		case 'S':
			c->preload_socket = optarg;
			break;
		case 'F':
			c->fresh = 1;
			break;
		case 'G':
			c->exited_grace_s = parse_number(cmd, "--exited-grace",
							 optarg, 0, 31536000);
			break;
		case 'K':
			c->max_keys = parse_number(cmd, "--max-keys", optarg,
						   1024, 16777216);
			break;
		case 'N':
			c->max_procs = parse_number(cmd, "--max-processes",
						    optarg, 16, 1048576);
			break;
		case 'U':
			/* Now: an unknown user stops it before it attaches. */
			if (privs_user_lookup(optarg, &c->user, err, sizeof(err)))
				die_usage(cmd, "--user: %s", err);
			break;
		case 'f':
			if (!strcmp(optarg, "warning") || !strcmp(optarg, "critical"))
				c->fail_on = !strcmp(optarg, "critical") ? 2 : 1;
			else
				die_usage(cmd, "--fail-on: '%s' is not warning or "
					  "critical", optarg);
			break;
		case 'h':
			fputs(help, stdout);
			exit(0);
		case ':':
			die_usage(cmd, "%s needs a value", argv[optind - 1]);
			break;
		default:
			die_usage(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (c->user.name && (!strcmp(cmd, "check") || !strcmp(cmd, "symbols")))
		die_usage(cmd, "--user is an option of attach, run and collect: "
			  "%s only reads", cmd);
	if (c->fresh && mode != CLI_TARGET)
		die_usage(cmd, "--fresh is an option of `connwatch attach`: "
			  "what %s watches is new anyway", cmd);
	if (mode == CLI_COLLECT) {
		if (c->pid || c->exe || c->nr_specs || c->nr_presets ||
		    c->preload || c->fail_on)
			die_usage(cmd, "collect takes no target, spec or preset");
		return;
	}
	if (mode == CLI_RUN) {
		if (c->pid || c->exe)
			die_usage(cmd, "the command is the target: no --pid or --exe");
		return;
	}
	if (c->preload || c->preload_socket || c->fail_on)
		die_usage(cmd, "--preload, --preload-socket and --fail-on are "
			  "options of `connwatch run`");
	if (!c->pid == !c->exe)
		die_usage(cmd, "give exactly one of --pid PID or --exe PATH");
}

/* The binary to probe: the process' own, or --exe's. 0 or -1 + message. */
int resolve_binary(const struct cli *c, char *path, size_t len)
{
	char err[512];

	if (c->pid) {
		if (proc_exe(c->pid, path, len, err, sizeof(err)))
			goto fail;
	} else if (!realpath(c->exe, path)) {
		snprintf(err, sizeof(err), "%s: %s", c->exe, strerror(errno));
		goto fail;
	}
	if (!elf_is_elf(path, err, sizeof(err)))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "connwatch: %s\n", err);
	return -1;
}

const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * No --preset or --spec: the presets that fit the binary. Something
 * always fits: Go or not.
 */
static void choose_presets(struct cli *c, const struct cw_session *s)
{
	int i;

	c->nr_chosen = presets_choose(s->is_go ? &s->go : NULL, c->chosen);
	for (i = 0; i < c->nr_chosen; i++)
		c->presets[c->nr_presets++] = c->chosen[i].preset;
}

void say_chosen(const struct cli *c)
{
	int i;

	for (i = 0; i < c->nr_chosen; i++)
		fprintf(stderr, "connwatch: no --preset or --spec: chose %s: "
			"%s\n", c->chosen[i].preset->name, c->chosen[i].why);
}

int load_targets(struct cli *c, struct spec *specs, struct cw_session *s)
{
	char err[512];
	int i;

	if (!c->nr_specs && !c->nr_presets)
		choose_presets(c, s);
	for (i = 0; i < c->nr_specs; i++) {
		if (spec_parse_file(&specs[i], c->specs[i], err, sizeof(err))) {
			fprintf(stderr, "connwatch: %s\n", err);
			return -1;
		}
		labels_add_source(s, &specs[i], base_name(c->specs[i]));
	}
	for (i = 0; i < c->nr_presets; i++) {
		const struct preset *p = c->presets[i];
		struct spec *spec = &specs[c->nr_specs + i];

		if (p->kind == PRESET_SOCKETS) {
			s->sockets_target = s->nr_targets;
			labels_add_source(s, NULL, p->name);
			continue;
		}
		if (p->go_only && !s->is_go) {
			fprintf(stderr, "connwatch: preset %s: %s is not a Go "
				"program (no Go 1.16+ pclntab); --preset sockets "
				"counts the connections of any process\n",
				p->name, s->binary);
			return -1;
		}
		if (p->build(spec, s->binary, &s->go, err, sizeof(err))) {
			fprintf(stderr, "connwatch: preset %s: %s\n", p->name, err);
			return -1;
		}
		s->targets[s->nr_targets].net_http = p->counts_sockets;
		labels_add_source(s, spec, p->name);
	}
	if (labels_pick_target(s, c->target, err, sizeof(err))) {
		fprintf(stderr, "connwatch: %s\n", err);
		return -1;
	}
	return 0;
}

/* Spec files, binary, symbols: everything short of the kernel. */
int prepare(struct cli *c, struct spec *specs, struct cw_session *s)
{
	char err[512];
	int failed, i;

	memset(s, 0, sizeof(*s));
	s->pid = c->pid ? c->pid : -1;
	s->sockets_target = -1;
	s->stop_on_critical = c->stop_on_critical;
	s->fresh = c->fresh;
	s->max_keys = c->max_keys;
	s->max_procs = c->max_procs;
	if (resolve_binary(c, s->binary, sizeof(s->binary)))
		return -1;
	if (session_load_binary(s, err, sizeof(err))) {
		fprintf(stderr, "connwatch: %s\n", err);
		return -1;
	}
	if (load_targets(c, specs, s))
		return -1;
	failed = session_resolve(s, err, sizeof(err));
	if (failed < 0) {
		fprintf(stderr, "connwatch: %s\n", err);
		return -1;
	}
	for (i = 0; i < s->nr_probes; i++)
		if (!s->probes[i].resolved && !s->probes[i].absent)
			fprintf(stderr, "connwatch: %s\n", s->probes[i].err);
	return failed ? -1 : 0;
}

static const char *entry_kind(const struct cw_probe *p)
{
	if (p->entry_site < 0)
		return "no";
	if (p->entry_late)
		return "+1 insn";
	if (p->abi == CW_ABI_GO && p->entry_vaddr != p->vaddr)
		return "after stack check";
	return "yes";
}

void free_specs(const struct cli *c, struct spec *specs)
{
	int i;

	for (i = 0; i < c->nr_specs + c->nr_presets; i++)
		spec_free(&specs[i]);
}

/* A Go runtime check: on its failing branch, or at entry and why. */
static void print_branch(FILE *f, const struct cw_probe *p)
{
	const struct panic_branch *b = &p->branch;

	if (!b->probe) {
		fprintf(f, "\n    at entry: no failing branch (%s): one trap "
			"per call", p->branch_why);
		return;
	}
	fprintf(f, "\n    failing branch at 0x%llx (jump at 0x%llx to panic "
		"\"%s\"; reads [%s+0x%x]%s%s): no trap on a healthy program",
		(unsigned long long)b->probe, (unsigned long long)b->jump,
		p->sp->panic_msg, cw_reg_name(b->base_reg),
		(unsigned)b->base_disp, b->old_reg ? ", old value in " : "",
		b->old_reg ? cw_reg_name(b->old_reg) : "");
}

/* caller: where each call is probed, and what keys it. */
static void print_calls(FILE *f, const struct cw_session *s,
			const struct cw_probe *p)
{
	size_t i;

	fprintf(f, " calls:%zu in %s%s (out of line: %d, inlined copies: %d)",
		p->calls.nr, p->sp->callers[0],
		p->sp->nr_callers > 1 ? " ..." : "", p->nr_callers_found,
		p->nr_inlined_callers);
	for (i = 0; i < p->calls.nr; i++) {
		const struct call_site *c = &p->calls.site[i];

		fprintf(f, "\n    call at 0x%llx: probe at 0x%llx",
			(unsigned long long)c->call,
			(unsigned long long)c->probe);
		if (p->sp->key_source != SPEC_KEY_OWNER)
			continue;
		if (c->owner_reg)
			fprintf(f, ", key: the object at %s (argument at +0x%x)",
				cw_reg_name(c->owner_reg), (unsigned)c->owner_disp);
		else
			fprintf(f, ", key: owner not found");
	}
	if (s->targets[p->target_id].keyed_by_process)
		fprintf(f, "\n    (an owner was not found: this target counts "
			"per process)");
}

static void print_probe(FILE *f, const struct cw_session *s,
			const struct cw_probe *p, int attached)
{
	if (p->absent) {
		fprintf(f, "  %-32s absent, and fine: %s\n", p->name,
			p->sp->absent_why ? p->sp->absent_why :
			"optional, not in this binary");
		return;
	}
	if (p->sp->nr_callers)
		fprintf(f, "  %-32s 0x%-8llx", p->name,
			(unsigned long long)p->vaddr);
	else if (!p->vaddr)
		fprintf(f, "  %-32s only inlined, into its callers:",
			p->name);
	else
		fprintf(f, "  %-32s 0x%-8llx entry:%s exits:%zu%s", p->name,
			(unsigned long long)p->vaddr, entry_kind(p),
			p->wants_exits ? p->exits.nr : 0,
			p->exits.nr_tail_calls && p->wants_exits ?
			" (tail calls)" : "");
	if (p->sp->nr_callers)
		print_calls(f, s, p);
	if (p->sp->panic_msg && p->abi == CW_ABI_GO)
		print_branch(f, p);
	if (p->nr_inlined_found > 0)
		fprintf(f, " inlined:%d%s", p->nr_inlined_found,
			p->nr_inlined ? "" : " (not probed: no arguments "
			"there; key: process counts them)");
	if (p->nr_inlined && p->nr_inlined < p->nr_inlined_found)
		fprintf(f, " (only the first %d probed: calls made in the "
			"other copies are not counted)", p->nr_inlined);
	if (attached)
		fprintf(f, "  %s", p->link_errors ? "FAILED: " : "attached");
	if (attached && p->link_errors)
		fprintf(f, "%s", p->err);
	fputc('\n', f);
}

/* The attach command line for the presets chosen. */
static void print_suggestion(const struct cli *c)
{
	int i;

	printf("suggested: connwatch attach ");
	if (c->pid)
		printf("--pid %d", (int)c->pid);
	else
		printf("--exe %s", c->exe);
	for (i = 0; i < c->nr_presets; i++)
		printf(" --preset %s", c->presets[i]->name);
	putchar('\n');
}

/* What of a preset this binary cannot have, and why that is fine. */
static void print_notes(FILE *f, const struct cw_session *s)
{
	int t;

	for (t = 0; t < s->nr_targets; t++)
		if (s->targets[t].spec && s->targets[t].spec->note[0])
			fprintf(f, "  %s: %s\n", s->targets[t].spec->path,
				s->targets[t].spec->note);
}

static int cmd_check(int argc, char **argv)
{
	struct spec specs[CW_MAX_TARGET_SPECS] = {};
	struct cw_session s;
	struct cli c;
	int i, ret;

	parse_cli("check", argc, argv, &c, check_help, CLI_TARGET);
	ret = prepare(&c, specs, &s) ? 1 : 0;
	say_chosen(&c);
	if (!ret) {
		printf("%s: every probe resolves (target \"%s\")\n",
		       s.binary, s.target);
		for (i = 0; i < s.nr_probes; i++)
			print_probe(stdout, &s, &s.probes[i], 0);
		print_notes(stdout, &s);
		if (session_sock_target(&s) >= 0)
			printf("  %-32s accept/close/dup/io_uring tracepoints\n",
			       s.targets[session_sock_target(&s)].source);
		if (s.nr_probes && s.probes[0].nr_inlined_found < 0)
			printf("no DWARF%s: copies the compiler inlined into "
			       "callers cannot be found; a probe that never "
			       "fires shows 0 in connwatch_probe_hits_total\n",
			       s.is_go ? " and no readable inline tree" : "");
		if (c.nr_chosen)
			print_suggestion(&c);
	}
	session_close(&s);
	free_specs(&c, specs);
	return ret;
}

static int name_matches(const regex_t *re, const char *name)
{
	return !re || !regexec(re, name, 0, NULL, 0);
}

static void print_symbol(uint64_t addr, uint64_t size, const char *name)
{
	printf("0x%-12llx %8llu %s\n", (unsigned long long)addr,
	       (unsigned long long)size, name);
}

/* Go keeps its function table (.gopclntab) through any strip. */
static int print_go_symbols(const char *path, const regex_t *re)
{
	struct go_pclntab go;
	char err[512];
	size_t i;

	if (go_pclntab_load(&go, path, err, sizeof(err))) {
		go_pclntab_free(&go);
		return -1;
	}
	fprintf(stderr, "connwatch: %s: Go binary%s%s, %zu functions from its pclntab\n",
		path, go.version[0] ? " built with " : "", go.version, go.nr);
	for (i = 0; i < go.nr; i++)
		if (name_matches(re, go.funcs[i].name))
			print_symbol(go.funcs[i].entry,
				     go.funcs[i].end - go.funcs[i].entry,
				     go.funcs[i].name);
	go_pclntab_free(&go);
	return 0;
}

static int print_elf_symbols(const char *path, const regex_t *re)
{
	struct elf_symtab tab;
	char err[512];
	size_t i;

	if (elf_symtab_load(&tab, path, err, sizeof(err))) {
		fprintf(stderr, "connwatch: %s\n", err);
		return 1;
	}
	if (!tab.nr_syms)
		fprintf(stderr, "connwatch: %s has no function symbols (stripped?)\n",
			path);
	for (i = 0; i < tab.nr_syms; i++)
		if (name_matches(re, tab.syms[i].name))
			print_symbol(tab.syms[i].addr, tab.syms[i].size,
				     tab.syms[i].name);
	elf_symtab_free(&tab);
	return 0;
}

static int cmd_symbols(int argc, char **argv)
{
	char path[PATH_MAX];
	regex_t re, *rep = NULL;
	struct cli c;
	int ret = 0;

	parse_cli("symbols", argc, argv, &c, symbols_help, CLI_TARGET);
	if (c.target)
		die_usage("symbols", "--target is an option of attach, run, "
			  "check and collect");
	if (optind < argc - 1)
		die_usage("symbols", "at most one REGEX");
	if (optind < argc) {
		if (regcomp(&re, argv[optind], REG_EXTENDED | REG_NOSUB))
			die_usage("symbols", "'%s' is not a valid regular expression",
				  argv[optind]);
		rep = &re;
	}
	if (resolve_binary(&c, path, sizeof(path)))
		ret = 1;
	else if (print_go_symbols(path, rep))
		ret = print_elf_symbols(path, rep);
	if (rep)
		regfree(rep);
	return ret;
}

static void on_signal(int sig)
{
	(void)sig;
	cw_stop = 1;
}

void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * Optional parts this binary lacks are not failures: said apart, with
 * what each means. A probe that failed is: what it counts is missing.
 */
int report_attach(struct cw_session *s, int attached)
{
	int i, absent = 0, wanted;

	for (i = 0; i < s->nr_probes; i++)
		absent += s->probes[i].absent;
	wanted = s->nr_probes + (session_sock_target(s) >= 0) - absent;
	fprintf(stderr, "connwatch: %s%s: %d of %d probes attached",
		s->binary, s->pid > 0 ? "" : " (every process)", attached,
		wanted);
	if (attached < wanted)
		fprintf(stderr, "; %d FAILED (below): what they count is not "
			"counted", wanted - attached);
	if (absent)
		fprintf(stderr, "; %d optional parts not in this binary, and "
			"need not be (below, with why)", absent);
	fputc('\n', stderr);
	for (i = 0; i < s->nr_probes; i++)
		print_probe(stderr, s, &s->probes[i], 1);
	print_notes(stderr, s);
	if (session_sock_target(s) >= 0)
		fprintf(stderr, "  %-32s accept/close/dup/io_uring tracepoints  attached\n",
			s->targets[session_sock_target(s)].source);
	if (!attached) {
		fprintf(stderr, "connwatch: no probe attached; nothing to watch\n");
		return -1;
	}
	return 0;
}

int outputs_open(struct cw_daemon *d, const struct cli *c)
{
	struct web_config *web = NULL;
	char err[512];

	/* first: a bad file stops connwatch before it opens anything */
	if (c->web_config &&
	    !(web = web_config_load(c->web_config, err, sizeof(err))))
		goto fail;
	if (alert_sinks_open(&d->sinks, c->alert_log, c->json, err, sizeof(err)))
		goto fail_web;
	if (alert_push_start(&d->push, c->alertmanager, c->on_alert, err,
			     sizeof(err)))
		goto fail_sinks;
	/* Bound now (a port in use fails here); answers once watch_loop runs. */
	d->server = metrics_bind(c->listen, web, err, sizeof(err));
	if (!d->server)
		goto fail_push;
	return 0;
fail_push:
	alert_push_stop(&d->push);
fail_sinks:
	alert_sinks_close(&d->sinks);
fail_web:
	web_config_free(web);
fail:
	fprintf(stderr, "connwatch: %s\n", err);
	return -1;
}

void outputs_close(struct cw_daemon *d)
{
	metrics_stop(d->server);
	d->server = NULL;
	alert_push_stop(&d->push);
	alert_sinks_close(&d->sinks);
}

int attach_all(struct cw_daemon *d)
{
	char err[512];
	int attached = session_attach(&d->sess, err, sizeof(err));

	if (attached < 0) {
		fprintf(stderr, "connwatch: %s\n", err);
		return -1;
	}
	return report_attach(&d->sess, attached);
}

/*
 * What is left to do once attached, and why (privs.h): a process met
 * from now on is read with what is kept; one seen at attach was opened
 * then (symbolize.h).
 */
static uint64_t caps_to_keep(const struct cw_daemon *d, const char **why)
{
	if (d->child) {
		*why = "run: the command's mappings are read after its exec, "
		       "and it may change its user (cap_kill)";
		return CW_CAPS_RUN;
	}
	if (!d->sess.skel) {
		*why = "collect: a process is read when it first reports";
		return CW_CAPS_WATCH;
	}
	if (d->sess.pid <= 0) {
		*why = "--exe: the /proc and files of processes started later "
		       "are read";
		return CW_CAPS_WATCH;
	}
	if (d->sess.sockets_target >= 0) {
		*why = "sockets: the sweep reads /proc/PID/task/TID/fd of the "
		       "process and of its children";
		return CW_CAPS_WATCH;
	}
	*why = "--pid: its maps and mapped files were opened at attach";
	return 0;
}

/*
 * Every probe is in place: what is left to do needs little. Before any
 * thread starts (capabilities are per thread) and before /metrics
 * serves, which shows what was kept.
 */
static int drop_privileges(struct cw_daemon *d, const struct cli *c,
			   char *err, size_t errlen)
{
	struct privs_keep keep = { 0 }, kept;
	const char *why;

	keep.own = caps_to_keep(d, &why);
	/* Its own pins, for it to remove at the end (pin.h). */
	if (c->user.name && pin_hand_over(&d->sess.pin, c->user.uid,
					  c->user.gid, err, errlen))
		return -1;
	if (privs_drop(keep, &c->user, &kept, err, errlen))
		return -1;
	privs_name(kept.own, d->caps, sizeof(d->caps));
	if (c->user.name)
		fprintf(stderr, "connwatch: running as user %s (uid %u, gid %u) "
			"from now on\n", c->user.name, (unsigned)c->user.uid,
			(unsigned)c->user.gid);
	fprintf(stderr, "connwatch: capabilities from now on: %s (the rest "
		"dropped): %s\n", d->caps, why);
	return 0;
}

/*
 * Ready: every probe is in place. Answers /metrics from now on, and runs
 * the loop until stopped. 0 or -1 (said on stderr).
 */
int watch_loop(struct cw_daemon *d, const struct cli *c, const char *until)
{
	char err[512];

	/* Before the first answer: a SIGTERM once it came must detach. */
	install_signals();
	if (drop_privileges(d, c, err, sizeof(err)) ||
	    alert_push_run(&d->push, err, sizeof(err)))
		goto fail;
	if (metrics_serve(d->server, metrics_render, d, err, sizeof(err)))
		goto fail;
	fprintf(stderr, "connwatch: metrics on %s://%s/metrics%s, alerts to %s%s\n",
		metrics_scheme(d->server), metrics_address(d->server),
		metrics_auth(d->server) ? " (basic auth)" : "", c->alert_log,
		until);
	if (daemon_run(d, err, sizeof(err)))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "connwatch: %s\n", err);
	return -1;
}

static int watch(struct cw_daemon *d, const struct cli *c)
{
	int ret = 1;

	if (outputs_open(d, c))
		return 1;
	say_chosen(c);
	if (attach_all(d))
		goto out;
	if (d->sess.pid > 0)
		daemon_proc_seen(d, d->sess.pid, 0);
	d->live_summary = summary_wanted(c->json);
	if (watch_loop(d, c, c->duration_s ? "" : "; Ctrl-C to detach"))
		goto out;
	fprintf(stderr, "connwatch: detached\n");
	ret = 0;
out:
	/* The server first: a scrape reads the maps the session frees. */
	outputs_close(d);
	session_close(&d->sess);
	return ret;
}

static int cmd_attach(int argc, char **argv)
{
	static struct cw_daemon d;
	struct spec specs[CW_MAX_TARGET_SPECS] = {};
	struct cli c;
	int ret = 1;

	parse_cli("attach", argc, argv, &c, attach_help, CLI_TARGET);
	if (optind < argc)
		die_usage("attach", "unexpected argument '%s'", argv[optind]);
	pthread_mutex_init(&d.lock, NULL);
	d.preload_fd = -1;
	d.preload_listen_fd = -1;
	if (!prepare(&c, specs, &d.sess)) {
		symbolizer_init(&d.sym, &d.sess.symtab, &d.sess.go);
		d.duration_s = c.duration_s;
		d.exited_grace_s = c.exited_grace_s;
		ret = watch(&d, &c);
		symbolizer_free(&d.sym);
	} else {
		session_close(&d.sess);
	}
	free_specs(&c, specs);
	return ret;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt,
		      va_list ap)
{
	/* connwatch says what failed in one line; details on request. */
	(void)level;
	if (!getenv("CONNWATCH_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	libbpf_set_print(libbpf_log);
	if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help")) {
		fputs(usage_text, cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "--version")) {
		printf("connwatch %s\n", CW_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "attach"))
		return cmd_attach(argc - 1, argv + 1);
	if (!strcmp(cmd, "--config"))
		return cmd_config(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "collect"))
		return cmd_collect(argc - 1, argv + 1);
	if (!strcmp(cmd, "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(cmd, "symbols"))
		return cmd_symbols(argc - 1, argv + 1);
	if (!strcmp(cmd, "presets")) {
		if (argc > 2 && strcmp(argv[2], "--help") && strcmp(argv[2], "-h"))
			die_usage("presets", "takes no argument");
		if (argc > 2)
			printf("usage: connwatch presets\n\nLists the built-in "
			       "presets (--preset NAME) and what each hooks.\n");
		else
			presets_print(stdout);
		return 0;
	}
	fprintf(stderr, "connwatch: unknown command '%s' (see `connwatch --help`)\n",
		cmd);
	return 2;
}
