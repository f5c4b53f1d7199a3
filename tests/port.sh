# free_port: a TCP port no socket uses, below the kernel's range for
# outgoing connections (32768-60999), so a client cannot take it first.
# Sourced by tests/lib.sh and bench/lib.sh.
free_port() {
	local port
	for _ in $(seq 1 200); do
		port=$((20000 + RANDOM % 12000))
		cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
			grep -qi "^ *[0-9]*: [0-9A-F]*:$(printf '%04X' "$port") " ||
			{ echo "$port"; return; }
	done
	echo 29877
}
