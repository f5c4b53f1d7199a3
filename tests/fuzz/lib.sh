# What `make fuzz` (tests/fuzz/run.sh) and the smoke test
# (tests/integration/test_fuzz_smoke.sh) share: the harnesses and
# libFuzzer's options for each. Sourced from the repo root.

# One per tests/fuzz/fuzz_NAME.c, as tests/fuzz/fuzz.mk builds them.
fuzz_harnesses() {
	local f
	for f in tests/fuzz/fuzz_*.c; do
		f=${f#tests/fuzz/fuzz_}
		echo "${f%.c}"
	done
}

# fuzz_options HARNESS: its dictionary, and the limits every run has:
# an input may take 10 s, and allocate 512 MB in one go (inputs are at
# most a few MB: more is a size believed from the input).
fuzz_options() {
	local dict=$1

	case $1 in
	elf_symbols | gopclntab | dwarf_inline) dict=elf ;;
	esac
	[ -f "tests/fuzz/dict/$dict.dict" ] && echo "-dict=tests/fuzz/dict/$dict.dict"
	# Escaped six times over, 16 KB of strings outgrow the alert line;
	# a long straight run is what made the panic branch finder slow.
	case $1 in
	json) echo "-max_len=16384" ;;
	disasm) echo "-max_len=65536" ;;
	esac
	echo "-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512"
}

# fuzz_stat LOG NAME: a figure of libFuzzer's last status line or final
# stats: cov, ft, corp (units), exec/s, execs.
fuzz_stat() {
	case $2 in
	execs) sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1 ;;
	exec/s) sed -n 's/^stat::average_exec_per_sec: *//p' "$1" | tail -n 1 ;;
	corp) grep -o 'corp: [0-9]*' "$1" | tail -n 1 | cut -d' ' -f2 ;;
	*) grep -o "$2: [0-9]*" "$1" | tail -n 1 | cut -d' ' -f2 ;;
	esac
}
