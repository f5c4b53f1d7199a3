// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `connwatch run [options] -- CMD [ARG]...`: start CMD watched from its
 * first instruction, with eBPF (presets, specs) or, with --preload, with
 * the LD_PRELOAD shim where eBPF is not allowed. Exits with CMD's status,
 * or 3 when --fail-on saw an alert of that severity.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "labels.h"
#include "metrics.h"
#include "procfs.h"

#define SHIM_NAME "libconnwatch-preload.so"
#define EXIT_ALERTED 3

static const char run_help[] =
"usage: connwatch run [options] -- CMD [ARG]...\n"
"\n"
"Starts CMD and watches it from its first instruction until it exits;\n"
"exits with CMD's status, or 3 when --fail-on saw such an alert.\n"
"\n"
"  -P, --preset NAME      a preset (default: those that fit CMD's binary,\n"
"                         as `connwatch attach` chooses them)\n"
"  -s, --spec FILE        a spec file for CMD's binary; may be repeated\n"
"  -t, --target NAME      the target label (default: the specs' target:,\n"
"                         else CMD's name)\n"
"      --preload          no eBPF: count CMD's sockets with the LD_PRELOAD\n"
"                         shim (" SHIM_NAME "); not for Go or\n"
"                         statically linked programs\n"
"      --preload-socket P where the shim reports (default\n"
"                         /run/connwatch/preload-PID.sock, mode 0600)\n"
"      --fail-on LEVEL    warning | critical: exit 3 if such an alert came\n"
"      --max-keys N       objects (keys) tracked at once (default 131072)\n"
"      --max-processes N  processes in the tables at once (default 4096)\n"
"  -l, --listen ADDR:PORT metrics address (default " CW_DEFAULT_LISTEN ")\n"
"  -a, --alert-log FILE   JSON alert log (default " DEFAULT_ALERT_LOG ")\n"
"  -j, --json             alerts on stderr as JSON lines\n"
"      --on-critical stop SIGSTOP the command at a critical event (eBPF)\n"
"      --alertmanager URL push every alert to Alertmanager\n"
"      --on-alert CMD     run CMD (sh -c) with each alert's JSON on stdin\n"
"      --web.config.file FILE\n"
"                         TLS and basic auth for /metrics (exporter-toolkit)\n"
"      --user NAME        run as NAME once attached (CMD keeps its own user)\n"
"\n"
"CONNWATCH_PRELOAD_LIB overrides where the shim is looked for (next to\n"
"the connwatch binary, then ../lib/connwatch/).\n";

/* The shim: $CONNWATCH_PRELOAD_LIB, or beside this binary. */
static int find_shim(char *path, size_t len)
{
	const char *env = getenv("CONNWATCH_PRELOAD_LIB");
	static const char *const beside[] = { "", "../lib/connwatch/" };
	char self[PATH_MAX], *slash;
	ssize_t n;
	size_t i;

	if (env) {
		snprintf(path, len, "%s", env);
		if (!access(path, R_OK))
			return 0;
		fprintf(stderr, "connwatch: LD_PRELOAD shim %s (CONNWATCH_PRELOAD_LIB): "
			"not readable\n", env);
		return -1;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		n = 0;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		slash[1] = '\0';
	for (i = 0; i < sizeof(beside) / sizeof(beside[0]); i++) {
		snprintf(path, len, "%s%s" SHIM_NAME, self, beside[i]);
		if (!access(path, R_OK))
			return 0;
	}
	fprintf(stderr, "connwatch: LD_PRELOAD shim not found: %s" SHIM_NAME
		" (build it with make, or set CONNWATCH_PRELOAD_LIB)\n", self);
	return -1;
}

static int exit_status(const struct cw_daemon *d, const struct cli *c,
		       const struct spawn *child)
{
	static const char *const level[] = { "", "warning", "critical" };

	if (c->fail_on && d->worst_severity >= c->fail_on) {
		fprintf(stderr, "connwatch: a %s alert was seen (--fail-on %s): "
			"exit %d\n", level[d->worst_severity],
			level[c->fail_on], EXIT_ALERTED);
		return EXIT_ALERTED;
	}
	return spawn_exit_code(child);
}

/*
 * The dynamic loader maps the shim right after the exec, before the
 * command's first instruction. Waits for it there (2 s at most) so that
 * /metrics, answering from then on, can say it is in place. 1 if it is.
 */
static int shim_wait(struct spawn *child, const char *shim)
{
	char real[PATH_MAX];
	struct proc_maps maps;
	int i, found = 0;
	size_t j;

	if (!realpath(shim, real))
		return 0;
	for (i = 0; i < 400 && !found && !spawn_reap(child); i++) {
		if (i)
			usleep(5000);
		if (proc_maps_load(child->pid, &maps))
			break;
		for (j = 0; j < maps.nr && !found; j++)
			found = !strcmp(maps.maps[j].path, real);
		proc_maps_free(&maps);
	}
	return found;
}

/*
 * Lets the command exec and watches it until it exits. With the shim
 * (--preload), /metrics answers only once the shim is in the command.
 */
static int release_and_watch(struct cw_daemon *d, const struct cli *c,
			     struct spawn *child, const char *cmd,
			     const char *shim)
{
	char err[512];

	if (spawn_release(child, err, sizeof(err))) {
		fprintf(stderr, "connwatch: %s: %s\n", cmd, err);
		spawn_kill(child);
		return 127;
	}
	d->child = child;
	/*
	 * With the shim, a process shows up when it first reports, i.e. at
	 * its first accept: the command itself (nginx's master never
	 * accepts) would only appear once dead, as target_up 0. It runs
	 * now (exec done): say so.
	 */
	if (shim) {
		daemon_proc_seen(d, child->pid, 0);
		d->shim_loaded = shim_wait(child, shim);
		if (!d->shim_loaded && !child->exited)
			fprintf(stderr, "connwatch: %s does not load %s "
				"(LD_PRELOAD ignored?): its sockets are not "
				"counted\n", cmd, shim);
	}
	if (watch_loop(d, c, "; runs until the command exits")) {
		spawn_kill(child);
		return 1;
	}
	spawn_reap(child);
	daemon_proc_down(d, child->pid, 0, base_name(cmd), child->status);
	return exit_status(d, c, child);
}

static int run_ebpf(struct cw_daemon *d, struct cli *c, char **argv)
{
	struct spec specs[CW_MAX_TARGET_SPECS] = {};
	struct spawn child;
	char err[512];
	int ret = 1;

	if (prepare(c, specs, &d->sess))
		goto out_specs;
	symbolizer_init(&d->sym, &d->sess.symtab, &d->sess.go);
	if (outputs_open(d, c))
		goto out_session;
	say_chosen(c);
	if (spawn_gated(&child, c->exe, argv, NULL, err, sizeof(err))) {
		fprintf(stderr, "connwatch: %s\n", err);
		goto out_outputs;
	}
	/* Attached to the pid before it execs: it misses nothing. */
	d->sess.pid = child.pid;
	d->sess.spawned = 1;
	if (attach_all(d)) {
		spawn_kill(&child);
		goto out_outputs;
	}
	ret = release_and_watch(d, c, &child, argv[0], NULL);
out_outputs:
	outputs_close(d);
out_session:
	session_close(&d->sess);
	symbolizer_free(&d->sym);
out_specs:
	free_specs(c, specs);
	return ret;
}

/*
 * LD_PRELOAD can only enter a process that has a dynamic loader, and
 * sees nothing of a Go program's sockets (its runtime makes the system
 * calls itself, never through libc).
 */
static int check_preloadable(const char *path)
{
	char err[512];
	int dyn = elf_is_dynamic(path, err, sizeof(err)), go;

	if (dyn < 0) {
		fprintf(stderr, "connwatch: %s\n", err);
		return -1;
	}
	if (!dyn) {
		fprintf(stderr, "connwatch: %s is statically linked: LD_PRELOAD "
			"cannot see inside it; run it without --preload (eBPF)\n",
			path);
		return -1;
	}
	go = elf_is_go(path, err, sizeof(err));
	if (go < 0)
		fprintf(stderr, "connwatch: %s\n", err);
	else if (go)
		fprintf(stderr, "connwatch: %s is a Go program: its runtime makes "
			"system calls itself, LD_PRELOAD sees none of its "
			"sockets; run it without --preload (eBPF)\n", path);
	return go ? -1 : 0;
}

static void preload_env(char **env, size_t n, const char *shim,
			const char *sock)
{
	const char *prev = getenv("LD_PRELOAD");

	if (asprintf(&env[0], "LD_PRELOAD=%s%s%s", shim, prev ? ":" : "",
		     prev ? prev : "") < 0)
		env[0] = NULL;
	if (asprintf(&env[1], CW_PL_SOCKET_ENV "=%s", sock) < 0)
		env[1] = NULL;
	env[n - 1] = NULL;
}

static void preload_close(struct cw_daemon *d, const char *sock)
{
	preload_close_all(d);
	unlink(sock);
	symbolizer_free(&d->sym);
}

/*
 * The collecting end: socket, one source (the shim) for every reporting
 * process, all of them the target named target (NULL: the binary's).
 */
static int preload_open(struct cw_daemon *d, const struct cli *c,
			const char *sock, const char *target)
{
	char err[512];

	d->sess.sockets_target = 0;
	labels_add_source(&d->sess, NULL, "preload");
	if (labels_pick_target(&d->sess, target, err, sizeof(err))) {
		fprintf(stderr, "connwatch: %s\n", err);
		return -1;
	}
	if (preload_listen(d, sock, err, sizeof(err))) {
		fprintf(stderr, "connwatch: %s\n", err);
		return -1;
	}
	symbolizer_init(&d->sym, NULL, NULL);
	if (outputs_open(d, c)) {
		preload_close(d, sock);
		return -1;
	}
	return 0;
}

static int run_preload(struct cw_daemon *d, struct cli *c, char **argv)
{
	char shim[PATH_MAX], sock[108], err[512], *env[3] = {};
	struct spawn child;
	int ret = 1;

	if (c->nr_specs || c->nr_presets)
		die_usage("run", "--preload counts sockets only: --spec and "
			  "--preset need eBPF");
	if (find_shim(shim, sizeof(shim)) || check_preloadable(c->exe))
		return 1;
	if (c->preload_socket) {
		/* never a silently truncated path: the shim would not find it */
		if (snprintf(sock, sizeof(sock), "%s", c->preload_socket) >=
		    (int)sizeof(sock)) {
			fprintf(stderr, "connwatch: preload socket %s: path too "
				"long\n", c->preload_socket);
			return 1;
		}
	} else
		snprintf(sock, sizeof(sock), "/run/connwatch/preload-%d.sock",
			 getpid());
	snprintf(d->sess.binary, sizeof(d->sess.binary), "%s", c->exe);
	if (preload_open(d, c, sock, c->target))
		return 1;
	preload_env(env, 3, shim, sock);
	if (!env[0] || !env[1] ||
	    spawn_gated(&child, c->exe, argv, env, err, sizeof(err))) {
		fprintf(stderr, "connwatch: %s\n", env[1] ? err : "out of memory");
		goto out_outputs;
	}
	fprintf(stderr, "connwatch: %s runs with %s; reports on %s\n", argv[0],
		shim, sock);
	ret = release_and_watch(d, c, &child, argv[0], shim);
out_outputs:
	/* Before the outputs: it flushes what the rate limit folded. */
	preload_close(d, sock);
	outputs_close(d);
	free(env[0]);
	free(env[1]);
	return ret;
}

int cmd_run(int argc, char **argv)
{
	static struct cw_daemon d;
	char path[PATH_MAX], err[512];
	struct cli c;

	parse_cli("run", argc, argv, &c, run_help, CLI_RUN);
	if (optind >= argc)
		die_usage("run", "no command: connwatch run [options] -- CMD [ARG]...");
	if (c.duration_s)
		die_usage("run", "--duration: run watches CMD until it exits "
			  "(timeout(1) around CMD ends it sooner)");
	if (spawn_resolve(argv[optind], path, sizeof(path), err, sizeof(err))) {
		fprintf(stderr, "connwatch: %s\n", err);
		return 127;
	}
	c.exe = path;
	pthread_mutex_init(&d.lock, NULL);
	d.preload_fd = -1;
	d.preload_listen_fd = -1;
	d.exited_grace_s = c.exited_grace_s;
	if (c.preload)
		return run_preload(&d, &c, argv + optind);
	return run_ebpf(&d, &c, argv + optind);
}

static const char collect_help[] =
"usage: connwatch collect [--preload-socket PATH] [--target NAME] [options]\n"
"\n"
"Collects what processes started elsewhere with the LD_PRELOAD shim\n"
"report (systemd: Environment=LD_PRELOAD=.../" SHIM_NAME "\n"
"and Environment=" CW_PL_SOCKET_ENV "=PATH), and serves them as metrics\n"
"and alerts until SIGINT/SIGTERM. The socket is created mode 0600: the\n"
"services must run as the same user as connwatch (or as root).\n"
"\n"
"      --preload-socket P where the shims report\n"
"                         (default /run/connwatch/preload.sock)\n"
"  -t, --target NAME      the target label of every process (default: each\n"
"                         its binary's name; the collector's own: preload)\n"
"  -l, --listen ADDR:PORT metrics address (default " CW_DEFAULT_LISTEN ")\n"
"  -a, --alert-log FILE   JSON alert log (default " DEFAULT_ALERT_LOG ")\n"
"  -d, --duration SECONDS stop after SECONDS\n"
"  -j, --json             alerts on stderr as JSON lines\n"
"      --alertmanager URL push every alert to Alertmanager\n"
"      --on-alert CMD     run CMD (sh -c) with each alert's JSON on stdin\n"
"      --web.config.file FILE\n"
"                         TLS and basic auth for /metrics (exporter-toolkit)\n"
"      --user NAME        run as NAME once the socket is open (the socket\n"
"                         stays root's; a stale one is replaced at the next\n"
"                         start)\n";

int cmd_collect(int argc, char **argv)
{
	static struct cw_daemon d;
	const char *sock;
	struct cli c;
	int ret;

	parse_cli("collect", argc, argv, &c, collect_help, CLI_COLLECT);
	if (optind < argc)
		die_usage("collect", "unexpected argument '%s'", argv[optind]);
	sock = c.preload_socket ? c.preload_socket : "/run/connwatch/preload.sock";
	pthread_mutex_init(&d.lock, NULL);
	d.preload_fd = -1;
	d.preload_listen_fd = -1;
	d.duration_s = c.duration_s;
	/* no --target: each process its binary's; "preload" the collector's */
	d.preload_by_binary = !c.target;
	if (preload_open(&d, &c, sock, c.target ? c.target : "preload"))
		return 1;
	fprintf(stderr, "connwatch: collecting LD_PRELOAD reports on %s\n", sock);
	ret = watch_loop(&d, &c, c.duration_s ? "" : "; Ctrl-C to stop") ? 1 : 0;
	preload_close(&d, sock);
	outputs_close(&d);
	return ret;
}
