# The state a connwatch run pinned (README: Restarting connwatch loses
# nothing). connwatch keeps its pins while a process it watched runs, and
# drops those of processes gone at its next start; a script whose
# servers stop after its connwatch drops them itself once all are gone.
# Sourced by tests/lib.sh and bench/lib.sh.

# pin_dirs PATH...: the directories connwatch said it pinned its state
# in, in its stderr saved in the files under PATHs (a terminal's too).
pin_dirs() {
	grep -rhas '^connwatch: state pinned in ' "$@" | tr -d '\r' |
		sed -n 's|^connwatch: state pinned in \(/sys/fs/bpf/connwatch/[^ ]*\)$|\1|p' |
		sort -u
}

# drop_pins DIR...: remove each pin directory, and its target's directory
# once empty.
drop_pins() {
	local dir
	for dir; do
		rm -rf "$dir"
		rmdir "$(dirname "$dir")" 2>/dev/null
	done
}
