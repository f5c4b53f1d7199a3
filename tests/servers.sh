# The real servers the integration tests and the benchmark run, configured
# once: nginx (master + 2 workers) and Debian's stripped Go Prometheus.
# Sourced by tests/lib.sh (start_nginx, start_prometheus) and bench/lib.sh.
# Both write everything under DIR and listen on 127.0.0.1:PORT only.

# nginx_conf DIR PORT: write DIR/nginx.conf; run it with
# `/usr/sbin/nginx -c DIR/nginx.conf -p DIR` (it stays in the foreground).
nginx_conf() {
	mkdir -p "$1"
	cat >"$1/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 2;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $1;
	server {
		listen 127.0.0.1:$2;
		location / { return 200 "ok\n"; }
	}
}
CONF
}

# exec_prometheus DIR PORT [CONFIG]: exec Prometheus with CONFIG, or with
# no scrape jobs (only our requests reach it), its data in DIR. Start it
# with `exec_prometheus ... &`: the background subshell becomes
# Prometheus, so $! is its pid.
exec_prometheus() {
	local config=${3:-$1/prometheus.yml}

	mkdir -p "$1"
	[ -n "$3" ] || printf 'global:\n  scrape_interval: 1h\nscrape_configs: []\n' \
		>"$config"
	exec /usr/bin/prometheus --config.file="$config" \
		--storage.tsdb.path="$1/data" \
		--web.listen-address="127.0.0.1:$2"
}
