/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the subcommands share: options, target preparation, outputs. */
#ifndef CW_CLI_H
#define CW_CLI_H

#include <sys/types.h>
#include "daemon.h"
#include "presets.h"
#include "privs.h"

#define DEFAULT_ALERT_LOG "/var/log/connwatch/alerts.jsonl"

enum cli_mode {
	CLI_TARGET,		/* attach, check, symbols: --pid or --exe */
	CLI_RUN,		/* run: the command is the target */
	CLI_COLLECT,		/* collect: preload reports, no target */
};

struct cli {
	pid_t pid;
	const char *exe;
	const char *specs[CW_MAX_TARGET_SPECS];
	int nr_specs;
	const struct preset *presets[CW_MAX_TARGET_SPECS];
	int nr_presets;
	const char *listen;
	const char *alert_log;
	int duration_s;
	int json;
	int preload;		/* run: LD_PRELOAD shim instead of eBPF */
	const char *preload_socket;
	int fail_on;		/* run: 1 warning, 2 critical, 0 never */
	const char *target;	/* --target: the target label */
	int stop_on_critical;	/* --on-critical stop */
	const char *alertmanager;	/* --alertmanager URL */
	const char *on_alert;	/* --on-alert CMD */
	const char *web_config;	/* --web.config.file FILE */
	int fresh;		/* --fresh: adopt no pinned state */
	int exited_grace_s;	/* --exited-grace: series of an exited process */
	int max_keys;		/* --max-keys: objects tracked at once */
	int max_procs;		/* --max-processes: processes at once */
	struct privs_user user;	/* --user: who it runs as once attached */
	/* None given: the presets picked for the binary, and why. */
	struct preset_choice chosen[CW_MAX_PRESET_CHOICES];
	int nr_chosen;
};

void die_usage(const char *cmd, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
void parse_cli(const char *cmd, int argc, char **argv, struct cli *c,
	       const char *help, int mode);
int resolve_binary(const struct cli *c, char *path, size_t len);
const char *base_name(const char *path);
/* The specs and presets of c, or with none the presets that fit the
 * binary (added to c and to c->chosen). 0, or -1 said on stderr. */
int load_targets(struct cli *c, struct spec *specs, struct cw_session *s);
/* The presets chosen, a line each with why, once the options are good:
 * bad input stays one line. */
void say_chosen(const struct cli *c);
/* Spec files, binary, symbols: everything short of the kernel. */
int prepare(struct cli *c, struct spec *specs, struct cw_session *s);
void free_specs(const struct cli *c, struct spec *specs);
void install_signals(void);
int report_attach(struct cw_session *s, int attached);
/* Alert log, pushes, the /metrics socket (bound, refusing until
 * watch_loop). 0, or -1 said on stderr. */
int outputs_open(struct cw_daemon *d, const struct cli *c);
/* Stops /metrics first: from then on nothing else reads the daemon. */
void outputs_close(struct cw_daemon *d);
/* Attaches every probe and reports them. 0, or -1 said on stderr. */
int attach_all(struct cw_daemon *d);
/* Once every probe is in place: serves /metrics, loops until stopped. */
int watch_loop(struct cw_daemon *d, const struct cli *c, const char *until);

int cmd_run(int argc, char **argv);
int cmd_collect(int argc, char **argv);

#endif
