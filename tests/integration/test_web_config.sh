#!/bin/bash
# --web.config.file, the Prometheus exporter-toolkit format: /metrics over
# TLS with basic auth (bcrypt), checked with curl and scraped by a real
# Prometheus (https, CA file, basic_auth). A bad file is one line and a
# non-zero exit, before anything attaches.
. tests/lib.sh

W=$TMP/web
mkdir -p "$W"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$W/key.pem" \
	-out "$W/cert.pem" 2>"$W/openssl.err" ||
	{ fail "openssl: a self-signed certificate" "$(tail -1 "$W/openssl.err")"; exit 1; }

# bcrypt PASSWORD ROUNDS: a $2b$ hash from libcrypt, via Python's crypt.
bcrypt() {
	python3 -W ignore -c 'import crypt, sys
print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=int(sys.argv[2]))))' "$@"
}
HASH=$(bcrypt s3cret 1024)	# cost 10, as `htpasswd -nBC 10`
FAST=$(bcrypt hunter2 16)	# cost 4
check "python3 makes bcrypt hashes" \
	grep -qE '^\$2b\$10\$.{53}/\$2b\$04\$.{53}$' <<<"$HASH/$FAST"

# Paths relative to the file's directory (connwatch runs from the repo
# root). alice's hash as htpasswd writes it ($2y$), bob's as Go ($2a$).
cat >"$W/web.yml" <<YML
tls_server_config:
  cert_file: cert.pem
  key_file: key.pem
basic_auth_users:
  prom: '$HASH'
  alice: '${FAST/\$2b\$/\$2y\$}'
  bob: ${FAST/\$2b\$/\$2a\$}
YML

start_server fixed || exit 1
start_connwatch --pid "$SRV_PID" --spec "$SPEC" --web.config.file "$W/web.yml" ||
	exit 1
check "it says https and basic auth" grep -q \
	"metrics on https://127.0.0.1:$CW_PORT/metrics (basic auth)" "$CW_ERR"

URL=https://127.0.0.1:$CW_PORT/metrics
# get [CURL-ARGS...]: the status code; the body in $TMP/body.
get() {
	curl -s --cacert "$W/cert.pem" -o "$TMP/body" -w '%{http_code}' "$@" "$URL"
}
check_eq "https, right user and password: 200" "$(get -u prom:s3cret)" 200
check "... and the metrics" grep -q "^connwatch_probe_attached{" "$TMP/body"
check_eq "a \$2y\$ hash (htpasswd): 200" "$(get -u alice:hunter2)" 200
check_eq "a \$2a\$ hash (Go's bcrypt): 200" "$(get -u bob:hunter2)" 200
check_eq "wrong password: 401" "$(get -u prom:s3cres)" 401
check_eq "another user's password: 401" "$(get -u alice:s3cret)" 401
check_eq "unknown user: 401" "$(get -u mallory:s3cret)" 401
check_eq "user only, no password: 401" "$(get -H 'Authorization: Basic cHJvbQ==')" 401
check_eq "no credentials: 401" "$(get)" 401
check "... with no metrics in it" test -z "$(grep connwatch_ "$TMP/body")"
check "... asking for Basic realm=\"connwatch\"" sh -c "curl -s --cacert \
	'$W/cert.pem' -o /dev/null -D - '$URL' | tr -d '\r' |
	grep -qx 'WWW-Authenticate: Basic realm=\"connwatch\"'"
check_eq "/ too needs credentials: 401" \
	"$(curl -s --cacert "$W/cert.pem" -o /dev/null -w '%{http_code}' \
	"https://127.0.0.1:$CW_PORT/")" 401
check "plain http to the TLS port gets nothing" \
	test -z "$(curl -s -u prom:s3cret "http://127.0.0.1:$CW_PORT/metrics")"
check "TLS 1.1 refused (1.2 at least, as exporter-toolkit)" \
	test "$(get -u prom:s3cret --tls-max 1.1)" == 000
check "a client that does not trust the certificate gets nothing" \
	test "$(curl -s -o /dev/null -w '%{http_code}' -u prom:s3cret "$URL")" == 000

# A real Prometheus: one job with the password, one with a wrong one.
mkdir -p "$TMP/prom"
cat >"$TMP/prom/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: connwatch
    scheme: https
    tls_config:
      ca_file: $W/cert.pem
    basic_auth:
      username: prom
      password: s3cret
    static_configs:
      - targets: ["127.0.0.1:$CW_PORT"]
  - job_name: wrong_password
    scheme: https
    tls_config:
      ca_file: $W/cert.pem
    basic_auth:
      username: prom
      password: s3cres
    static_configs:
      - targets: ["127.0.0.1:$CW_PORT"]
YML
start_prometheus "$TMP/prom/prometheus.yml" ||
	{ fail "prometheus did not start" "$(tail -3 "$TMP/prom/log")"; exit 1; }

# q EXPR: the instant query's values, one per line.
q() {
	curl -sfG "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode "query=$1" | python3 -c 'import json, sys
for r in json.load(sys.stdin)["data"]["result"]: print(r["value"][1])'
}
check "Prometheus scrapes it over https with basic auth: up{job=\"connwatch\"} == 1" \
	wait_eq 20 1 q 'up{job="connwatch"}'
check_eq "... and has its metrics" \
	"$(q 'connwatch_build_info{job="connwatch"}')" 1
# Its first scrape may come up to a scrape interval after the other's.
check "with a wrong password: up == 0" wait_eq 10 0 q 'up{job="wrong_password"}'
check_eq "... and none of its metrics" \
	"$(q 'count(connwatch_build_info{job="wrong_password"})')" ""
check "... because connwatch answered 401" wait_for 10 sh -c "curl -sf \
	'http://127.0.0.1:$PROM_PORT/api/v1/targets?state=active' |
	python3 -c 'import json, sys
for t in json.load(sys.stdin)[\"data\"][\"activeTargets\"]:
    if t[\"labels\"][\"job\"] == \"wrong_password\": print(t[\"lastError\"])' |
	grep -q 401"
check "the target is unharmed and serves" load --connections 20 --concurrency 4
stop "$PROM_PID"
stop "$CW_PID"
check_eq "connwatch detaches cleanly" "$?" 0

# --------------------------------------------------------------- bad files
ATTACH="$CW attach --pid $SRV_PID --spec $SPEC --alert-log $TMP/a.jsonl --listen 127.0.0.1:$(free_port) --duration 2"
expect_error "missing file" "web.config.file .*/nope.yml: No such file" \
	$ATTACH --web.config.file "$W/nope.yml"
printf 'tls_server_config:\n  cert_file: [cert.pem\n' >"$W/bad.yml"
expect_error "malformed YAML, with line" "bad.yml:[0-9]+: " \
	$ATTACH --web.config.file "$W/bad.yml"
printf 'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_user:\n  prom: x\n' \
	>"$W/unknown.yml"
expect_error "unknown key, with line and choices" \
	"unknown.yml:4: unknown key 'basic_auth_user' \(expected tls_server_config, basic_auth_users\)" \
	$ATTACH --web.config.file "$W/unknown.yml"
printf 'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_auth_type: RequireAndVerifyClientCert\n' \
	>"$W/mtls.yml"
expect_error "client certificates: not supported, with line" \
	"mtls.yml:4: tls_server_config: client_auth_type is not supported" \
	$ATTACH --web.config.file "$W/mtls.yml"
printf 'tls_server_config:\n  cert_file: missing.pem\n  key_file: key.pem\n' \
	>"$W/nocert.yml"
expect_error "missing cert file, relative to the config" \
	"nocert.yml:2: tls_server_config.cert_file: $W/missing.pem: No such file" \
	$ATTACH --web.config.file "$W/nocert.yml"
printf 'tls_server_config:\n  cert_file: key.pem\n  key_file: cert.pem\n' \
	>"$W/swapped.yml"
expect_error "key given as the certificate" \
	"swapped.yml:2: tls_server_config.cert_file: .*key.pem: no PEM CERTIFICATE" \
	$ATTACH --web.config.file "$W/swapped.yml"
printf 'basic_auth_users:\n  prom: s3cret\n' >"$W/plain.yml"
expect_error "a password where the hash goes" \
	"plain.yml:2: basic_auth_users: prom: not a bcrypt hash" \
	$ATTACH --web.config.file "$W/plain.yml"
expect_error "collect: missing cert file" "nocert.yml:2: .*No such file" \
	$CW collect --preload-socket "$TMP/pl.sock" --alert-log "$TMP/a.jsonl" \
	--listen "127.0.0.1:$(free_port)" --web.config.file "$W/nocert.yml"
expect_error "run: unknown key, before the command starts" \
	"unknown.yml:4: unknown key" \
	$CW run --alert-log "$TMP/a.jsonl" --listen "127.0.0.1:$(free_port)" \
	--web.config.file "$W/unknown.yml" -- /bin/echo started
check "the target is still running" kill -0 "$SRV_PID"
