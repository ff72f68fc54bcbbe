#!/usr/bin/env bash
# real-services.sh up|down|env|status|clean
#
# Installs (when missing) and starts on loopback the real services `make test-real` runs
# against: redis-server and PostgreSQL from Debian packages, FerretDB on that PostgreSQL, and
# Apache Kafka in KRaft mode from its Maven Central jars, the KMS emulator local-kms and the S3
# server of SeaweedFS from the Go module proxy (MinIO's server is not packaged by Debian; the
# first SeaweedFS build takes several minutes). Data and logs live under tests/.real/ (ignored by
# git). `up` is safe to re-run: a service already answering is left alone. `env` prints the
# export lines for MONGO_URI, REDIS_URL, KAFKA_BROKERS, CAAS_KMS_ENDPOINT and the S3_* variables.
#
# Ports can be changed with
# CAAS_REAL_{REDIS,PG,MONGO,KAFKA,KAFKA_CONTROLLER,KMS,S3,SW_MASTER,SW_VOLUME,SW_FILER}_PORT;
# SeaweedFS also listens on each of its ports plus 10000 (gRPC).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
REAL="$ROOT/tests/.real"

REDIS_PORT="${CAAS_REAL_REDIS_PORT:-16379}"
PG_PORT="${CAAS_REAL_PG_PORT:-15432}"
MONGO_PORT="${CAAS_REAL_MONGO_PORT:-27018}"
KAFKA_PORT="${CAAS_REAL_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${CAAS_REAL_KAFKA_CONTROLLER_PORT:-19093}"
KMS_PORT="${CAAS_REAL_KMS_PORT:-18090}"
S3_PORT="${CAAS_REAL_S3_PORT:-18333}"
SW_MASTER_PORT="${CAAS_REAL_SW_MASTER_PORT:-19333}"
SW_VOLUME_PORT="${CAAS_REAL_SW_VOLUME_PORT:-18081}"
SW_FILER_PORT="${CAAS_REAL_SW_FILER_PORT:-18888}"

# Kafka 4.0.0 refuses the JoinGroup version kafka-go sends; 4.1 accepts it.
KAFKA_VERSION="${CAAS_REAL_KAFKA_VERSION:-4.1.2}"
# The partitions of auto-created topics, as the embedded kfake broker has.
KAFKA_PARTITIONS=3
# log4j-core's version as Kafka $KAFKA_VERSION depends on it, for the SLF4J binding.
LOG4J_VERSION="${CAAS_REAL_LOG4J_VERSION:-2.25.3}"
# Topics created at start, as `caas run` seeds them in the embedded broker (CAAS_MESSAGES_TOPIC).
KAFKA_TOPICS="${CAAS_REAL_KAFKA_TOPICS:-caas.messages}"
# The KMS emulator's version, as shared/backendtest/kms.go pins it (LocalKMSVersion).
LOCAL_KMS_VERSION="${CAAS_REAL_LOCAL_KMS_VERSION:-v0.0.0-20260228092603-2a5e92d09ab6}"
# SeaweedFS's version (its S3 server), from the Go module proxy.
SEAWEEDFS_VERSION="${CAAS_REAL_SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"
# The bucket `caas run` uses (its default S3_BUCKET), created at start as topics are. The tests'
# bucket (backendtest.S3Bucket) is created by the tests themselves.
S3_BUCKETS="${CAAS_REAL_S3_BUCKETS:-caas}"
# Credentials of the one S3 identity; loopback only, so not secret.
S3_ACCESS_KEY="caas-real"
S3_SECRET_KEY="caas-real-secret"
READY_SECONDS="${CAAS_REAL_READY_SECONDS:-90}"

log() { printf '[real-services] %s\n' "$*" >&2; }
die() { printf '[real-services] ERROR: %s\n' "$*" >&2; exit 1; }

# timed NAME CMD...: runs CMD and reports how long it took, for the setup figures in CI logs.
timed() {
	local name="$1" start=$SECONDS
	shift
	"$@"
	log "$name: $((SECONDS - start))s"
}

# as_root CMD...: runs CMD as root, through sudo when this user is not root.
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"
	elif command -v sudo >/dev/null; then sudo "$@"
	else die "need root to run: $*"
	fi
}

APT_UPDATED=0
apt_install() {
	if [ "$APT_UPDATED" = 0 ]; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
		APT_UPDATED=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# wait_for NAME LOGFILE PIDFILE CMD...: polls CMD until it succeeds, or fails when READY_SECONDS
# pass or the process in PIDFILE (if not empty) exits.
wait_for() {
	local name="$1" logfile="$2" pidfile="$3" deadline=$((SECONDS + READY_SECONDS))
	shift 3
	until "$@" >/dev/null 2>&1; do
		if [ -n "$pidfile" ] && ! pid_alive "$pidfile"; then
			log "$name exited during start; last lines of $logfile:"
			tail -n 30 "$logfile" >&2 2>/dev/null || true
			die "$name failed to start: see $logfile"
		fi
		if [ $SECONDS -ge $deadline ]; then
			log "$name did not become ready within ${READY_SECONDS}s; last lines of $logfile:"
			tail -n 30 "$logfile" >&2 2>/dev/null || true
			die "$name is not ready: see $logfile"
		fi
		sleep 0.5
	done
}

# port_free PORT: true when nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_alive FILE: true when FILE names a running process.
pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid NAME FILE PORT: sends TERM, waits for the process to end and its port to close.
stop_pid() {
	local name="$1" file="$2" port="$3"
	if pid_alive "$file"; then
		kill "$(cat "$file")" 2>/dev/null || true
		for _ in $(seq 1 60); do
			pid_alive "$file" || break
			sleep 0.5
		done
		if pid_alive "$file"; then
			log "$name did not stop on TERM; killing it"
			kill -9 "$(cat "$file")" 2>/dev/null || true
		fi
	fi
	rm -f "$file"
	for _ in $(seq 1 20); do
		port_free "$port" && return 0
		sleep 0.5
	done
	log "WARNING: port $port ($name) still in use"
}

# ---- Redis ------------------------------------------------------------------------------------

install_redis() {
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
	log "installing redis-server (Debian package)"
	timed "install redis-server" apt_install redis-server
}

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

up_redis() {
	install_redis
	if redis_ready; then log "redis already up on $REDIS_PORT"; return 0; fi
	port_free "$REDIS_PORT" || die "port $REDIS_PORT is taken by something that is not Redis"
	mkdir -p "$REAL/redis"
	# No persistence: tests create what they need.
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
		--daemonize yes --dir "$REAL/redis" \
		--pidfile "$REAL/redis/redis.pid" --logfile "$REAL/redis/redis.log"
	wait_for redis "$REAL/redis/redis.log" "" redis_ready
	log "redis up on 127.0.0.1:$REDIS_PORT"
}

down_redis() {
	if redis_ready; then redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; fi
	stop_pid redis "$REAL/redis/redis.pid" "$REDIS_PORT"
}

# ---- PostgreSQL -------------------------------------------------------------------------------

pg_bin() {
	local d
	d="$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
	[ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

install_pg() {
	pg_bin >/dev/null && return 0
	log "installing postgresql (Debian package)"
	# Only our own cluster under tests/.real is wanted, not the package's default one on 5432.
	if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
		as_root mkdir -p /etc/postgresql-common
		echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
	fi
	timed "install postgresql" apt_install postgresql
	pg_bin >/dev/null || die "postgresql installed but no initdb under /usr/lib/postgresql/*/bin"
}

# PostgreSQL refuses to run as root: as root it runs as the package's postgres user. Its data
# goes under tests/.real/ when that user can write there, else under /tmp.
PG_USER="$(id -un)"
if [ "$(id -u)" = 0 ]; then PG_USER=postgres; fi
pg_as() {
	# From /, which postgres can enter, unlike perhaps the checkout.
	if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_dir() {
	if [ "$(id -u)" != 0 ]; then echo "$REAL/pg"; return; fi
	mkdir -p "$REAL/pg"
	chown postgres: "$REAL/pg"
	if runuser -u postgres -- test -w "$REAL/pg"; then echo "$REAL/pg"
	else echo "/tmp/caas-real-pg-$(id -u)-$PG_PORT"
	fi
}

pg_ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

up_pg() {
	install_pg
	local bin dir
	bin="$(pg_bin)"
	dir="$(pg_dir)"
	if ! pg_ready; then
		port_free "$PG_PORT" || die "port $PG_PORT is taken by something that is not PostgreSQL"
		mkdir -p "$dir"
		if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
		if [ ! -s "$dir/data/PG_VERSION" ]; then
			pg_as "$bin/initdb" -D "$dir/data" -U "$PG_USER" --auth=trust -E UTF8 --locale=C.UTF-8 \
				>"$dir/initdb.log" 2>&1 || { tail -n 20 "$dir/initdb.log" >&2; die "postgresql initdb failed: see $dir/initdb.log"; }
		fi
		# TCP only: a socket path under a deep checkout can pass the 107-byte limit. fsync off:
		# test data need not survive a crash, and the tests run faster.
		pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w -t 60 start \
			-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			>/dev/null || { tail -n 20 "$dir/postgresql.log" >&2; die "postgresql did not start: see $dir/postgresql.log"; }
		wait_for postgresql "$dir/postgresql.log" "" pg_ready
	else
		log "postgresql already up on $PG_PORT"
	fi
	if [ "$("$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='ferretdb'")" != 1 ]; then
		"$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE ferretdb" >/dev/null
	fi
	log "postgresql up on 127.0.0.1:$PG_PORT (data in $dir)"
}

down_pg() {
	local bin dir
	bin="$(pg_bin)" || return 0
	dir="$(pg_dir)"
	if [ -s "$dir/data/postmaster.pid" ]; then
		pg_as "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	fi
	for _ in $(seq 1 20); do port_free "$PG_PORT" && return 0; sleep 0.5; done
	log "WARNING: port $PG_PORT (postgresql) still in use"
}

# ---- FerretDB on PostgreSQL ---------------------------------------------------------------------

REALSVC="$REAL/bin/realsvc"

build_realsvc() {
	# Rebuilt when its source is newer, so a changed probe is never stale.
	if [ -x "$REALSVC" ] && [ "$REALSVC" -nt "$ROOT/tests/scripts/realsvc/main.go" ]; then return 0; fi
	mkdir -p "$REAL/bin"
	log "building FerretDB (embeddable package, postgresql handler) and the probes"
	(cd "$ROOT/tests" && timed "build realsvc (FerretDB v1.24.2)" go build -o "$REALSVC" ./scripts/realsvc)
}

mongo_ready() { "$REALSVC" ping-mongo "mongodb://127.0.0.1:$MONGO_PORT/"; }

up_ferretdb() {
	build_realsvc
	if mongo_ready 2>/dev/null; then log "ferretdb already up on $MONGO_PORT"; return 0; fi
	mkdir -p "$REAL/ferretdb"
	port_free "$MONGO_PORT" || die "port $MONGO_PORT is taken by something that is not FerretDB"
	nohup "$REALSVC" ferretdb -listen "127.0.0.1:$MONGO_PORT" \
		-postgresql-url "postgres://$PG_USER@127.0.0.1:$PG_PORT/ferretdb" \
		>"$REAL/ferretdb/ferretdb.log" 2>&1 </dev/null &
	echo $! >"$REAL/ferretdb/ferretdb.pid"
	wait_for ferretdb "$REAL/ferretdb/ferretdb.log" "$REAL/ferretdb/ferretdb.pid" mongo_ready
	log "ferretdb up on 127.0.0.1:$MONGO_PORT"
}

down_ferretdb() { stop_pid ferretdb "$REAL/ferretdb/ferretdb.pid" "$MONGO_PORT"; }

# ---- Kafka (KRaft, from Maven Central) --------------------------------------------------------

KDIR="$REAL/kafka"

fetch_kafka() {
	local stamp="$KDIR/libs/.kafka-$KAFKA_VERSION"
	[ -f "$stamp" ] && return 0
	command -v mvn >/dev/null || die "maven (mvn) is needed to fetch Kafka's jars"
	command -v java >/dev/null || die "java is needed to run Kafka"
	mkdir -p "$KDIR"
	cat >"$KDIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.caas</groupId>
  <artifactId>kafka-server-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- Kafka logs through SLF4J 1.7; without a binding its log would be empty. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
	rm -rf "$KDIR/libs"
	log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime dependencies with Maven"
	local start=$SECONDS
	mvn -B -f "$KDIR/pom.xml" ${CAAS_REAL_MAVEN_REPO:+-Dmaven.repo.local="$CAAS_REAL_MAVEN_REPO"} \
		dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KDIR/libs" \
		>"$KDIR/mvn.log" 2>&1 ||
		{ tail -n 30 "$KDIR/mvn.log" >&2; die "fetching Kafka's jars failed: see $KDIR/mvn.log"; }
	log "fetch kafka jars: $((SECONDS - start))s"
	touch "$stamp"
}

kafka_java() {
	java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
		-Dlog4j2.configurationFile="$KDIR/log4j2.properties" -cp "$KDIR/libs/*" "$@"
}

write_kafka_config() {
	cat >"$KDIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KDIR/data
num.partitions=$KAFKA_PARTITIONS
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=9223372036854775807
EOF
	cat >"$KDIR/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = info
logger.server.name = org.apache.kafka.server
logger.server.level = info
EOF
}

kafka_ready() { "$REALSVC" ping-kafka "127.0.0.1:$KAFKA_PORT"; }

up_kafka() {
	fetch_kafka
	build_realsvc
	if kafka_ready 2>/dev/null; then log "kafka already up on $KAFKA_PORT"; create_topics; return 0; fi
	port_free "$KAFKA_PORT" || die "port $KAFKA_PORT is taken by something that is not Kafka"
	port_free "$KAFKA_CONTROLLER_PORT" || die "port $KAFKA_CONTROLLER_PORT (Kafka's controller) is taken"
	write_kafka_config
	if [ ! -f "$KDIR/data/meta.properties" ]; then
		local id
		id="$(kafka_java kafka.tools.StorageTool random-uuid 2>>"$KDIR/format.log")"
		kafka_java kafka.tools.StorageTool format -t "$id" -c "$KDIR/server.properties" \
			>>"$KDIR/format.log" 2>&1 || { tail -n 20 "$KDIR/format.log" >&2; die "kafka storage format failed: see $KDIR/format.log"; }
	fi
	nohup java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
		-Dlog4j2.configurationFile="$KDIR/log4j2.properties" -cp "$KDIR/libs/*" \
		kafka.Kafka "$KDIR/server.properties" >"$KDIR/kafka.log" 2>&1 </dev/null &
	echo $! >"$KDIR/kafka.pid"
	wait_for kafka "$KDIR/kafka.log" "$KDIR/kafka.pid" kafka_ready
	create_topics
	log "kafka $KAFKA_VERSION up on 127.0.0.1:$KAFKA_PORT"
}

create_topics() {
	# shellcheck disable=SC2086 # a space-separated list
	"$REALSVC" create-topics "127.0.0.1:$KAFKA_PORT" "$KAFKA_PARTITIONS" $KAFKA_TOPICS ||
		die "kafka: creating topics $KAFKA_TOPICS failed: see $KDIR/kafka.log"
}

down_kafka() { stop_pid kafka "$KDIR/kafka.pid" "$KAFKA_PORT"; port_free "$KAFKA_CONTROLLER_PORT" || log "WARNING: port $KAFKA_CONTROLLER_PORT (kafka controller) still in use"; }

# ---- KMS emulator (local-kms, from the Go module proxy) ---------------------------------------

LOCALKMS="$REAL/bin/local-kms"
# The command serving local-kms on loopback only (local-kms's own binds every interface).
LOCALKMS_SRC="$ROOT/shared/backendtest/localkms/main.go"

build_localkms() {
	local stamp="$REAL/bin/.local-kms-$LOCAL_KMS_VERSION" work
	# Rebuilt when the version or the command's source changes.
	if [ -x "$LOCALKMS" ] && [ -f "$stamp" ] && [ "$LOCALKMS" -nt "$LOCALKMS_SRC" ]; then return 0; fi
	command -v go >/dev/null || die "go is needed to build local-kms"
	mkdir -p "$REAL/bin"
	work="$(mktemp -d)"
	# The source is excluded from the workspace's builds by its build constraint; here it is a
	# module of its own.
	sed '1{/^\/\/go:build ignore$/d}' "$LOCALKMS_SRC" >"$work/main.go"
	printf 'module caas.dev/localkms\n\ngo 1.20\n' >"$work/go.mod"
	log "building github.com/nsmithuk/local-kms@$LOCAL_KMS_VERSION (KMS emulator)"
	local start=$SECONDS
	if ! (cd "$work" && export GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=local &&
		go get "github.com/nsmithuk/local-kms@$LOCAL_KMS_VERSION" && go build -o "$LOCALKMS.tmp" .) >"$work/build.log" 2>&1; then
		tail -n 30 "$work/build.log" >&2
		rm -rf "$work"
		die "building local-kms failed"
	fi
	mv -f "$LOCALKMS.tmp" "$LOCALKMS"
	rm -rf "$work" "$REAL"/bin/.local-kms-*
	touch "$stamp"
	log "build local-kms: $((SECONDS - start))s"
}

kms_ready() {
	curl -sf -X POST -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: TrentService.ListKeys' \
		--data '{}' "http://127.0.0.1:$KMS_PORT/" | grep -q '"Keys"'
}

up_kms() {
	command -v curl >/dev/null || die "curl is needed to check that local-kms answers"
	build_localkms
	if kms_ready; then log "local-kms already up on $KMS_PORT"; return 0; fi
	port_free "$KMS_PORT" || die "port $KMS_PORT is taken by something that is not local-kms"
	mkdir -p "$REAL/kms"
	nohup "$LOCALKMS" -listen "127.0.0.1:$KMS_PORT" -data "$REAL/kms/data" \
		>"$REAL/kms/kms.log" 2>&1 </dev/null &
	echo $! >"$REAL/kms/kms.pid"
	wait_for local-kms "$REAL/kms/kms.log" "$REAL/kms/kms.pid" kms_ready
	log "local-kms up on 127.0.0.1:$KMS_PORT"
}

down_kms() { stop_pid local-kms "$REAL/kms/kms.pid" "$KMS_PORT"; }

# ---- S3 (SeaweedFS, from the Go module proxy) -------------------------------------------------

WEED="$REAL/bin/weed"
SWDIR="$REAL/seaweedfs"

build_seaweedfs() {
	local stamp="$REAL/bin/.weed-$SEAWEEDFS_VERSION" work src
	if [ -x "$WEED" ] && [ -f "$stamp" ]; then return 0; fi
	command -v go >/dev/null || die "go is needed to build SeaweedFS"
	mkdir -p "$REAL/bin"
	work="$(mktemp -d)"
	log "building github.com/seaweedfs/seaweedfs@$SEAWEEDFS_VERSION (S3 server; takes minutes the first time)"
	local start=$SECONDS
	# Its go.mod has replace directives, so `go install pkg@version` refuses it: it is built as
	# the main module, from a writable copy of the downloaded module.
	if ! (export GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=local &&
		src="$(cd "$work" && go mod download -json "github.com/seaweedfs/seaweedfs@$SEAWEEDFS_VERSION" |
			sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" && [ -n "$src" ] &&
		cp -r "$src" "$work/src" && chmod -R u+w "$work/src" &&
		cd "$work/src" && go build -o "$WEED.tmp" ./weed) >"$work/build.log" 2>&1; then
		tail -n 30 "$work/build.log" >&2
		rm -rf "$work"
		die "building SeaweedFS failed"
	fi
	mv -f "$WEED.tmp" "$WEED"
	rm -rf "$work" "$REAL"/bin/.weed-*
	touch "$stamp"
	log "build SeaweedFS: $((SECONDS - start))s"
}

# s3_ready: the S3 API answers (403 to an anonymous ListBuckets).
s3_ready() {
	case "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/")" in
	200 | 403) return 0 ;;
	*) return 1 ;;
	esac
}

weed_shell() { echo "$1" | "$WEED" shell -master="127.0.0.1:$SW_MASTER_PORT" 2>&1; }

up_s3() {
	command -v curl >/dev/null || die "curl is needed to check that SeaweedFS answers"
	build_seaweedfs
	if s3_ready; then log "seaweedfs s3 already up on $S3_PORT"; else
		local p
		for p in "$S3_PORT" "$SW_MASTER_PORT" "$SW_VOLUME_PORT" "$SW_FILER_PORT"; do
			port_free "$p" || die "port $p is taken by something that is not SeaweedFS"
		done
		mkdir -p "$SWDIR/data"
		printf '{"identities":[{"name":"caas","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}\n' \
			"$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$SWDIR/s3.json"
		# Every bucket is a SeaweedFS collection that grows 7 volumes on its first write; the
		# default cap of 8 volumes leaves room for one bucket only (the tests' and the platform's
		# are two), and a write to the next fails with "No writable volumes".
		nohup "$WEED" server -dir="$SWDIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
			-master.port="$SW_MASTER_PORT" -master.volumeSizeLimitMB=64 -volume.max=100 -volume.port="$SW_VOLUME_PORT" \
			-filer -filer.port="$SW_FILER_PORT" -s3 -s3.port="$S3_PORT" -s3.config="$SWDIR/s3.json" \
			>"$SWDIR/weed.log" 2>&1 </dev/null &
		echo $! >"$SWDIR/weed.pid"
		wait_for seaweedfs "$SWDIR/weed.log" "$SWDIR/weed.pid" s3_ready
		log "seaweedfs s3 up on 127.0.0.1:$S3_PORT"
	fi
	local b
	for b in $S3_BUCKETS; do
		weed_shell "s3.bucket.list" | grep -q "^[[:space:]]*$b[[:space:]]" && continue
		weed_shell "s3.bucket.create -name $b" | grep -q "created bucket $b" ||
			die "seaweedfs: creating bucket $b failed: see $SWDIR/weed.log"
	done
}

down_s3() { stop_pid seaweedfs "$SWDIR/weed.pid" "$S3_PORT"; }

# ---- commands ---------------------------------------------------------------------------------

print_env() {
	echo "export MONGO_URI='mongodb://127.0.0.1:$MONGO_PORT/'"
	echo "export REDIS_URL='redis://127.0.0.1:$REDIS_PORT/0'"
	echo "export KAFKA_BROKERS='127.0.0.1:$KAFKA_PORT'"
	echo "export CAAS_KMS_ENDPOINT='http://127.0.0.1:$KMS_PORT'"
	echo "export S3_ENDPOINT='http://127.0.0.1:$S3_PORT'"
	echo "export S3_REGION='us-east-1'"
	echo "export S3_ACCESS_KEY_ID='$S3_ACCESS_KEY'"
	echo "export S3_SECRET_ACCESS_KEY='$S3_SECRET_KEY'"
}

case "${1:-}" in
up)
	mkdir -p "$REAL"
	start=$SECONDS
	timed "redis up" up_redis
	timed "postgresql up" up_pg
	timed "ferretdb up" up_ferretdb
	timed "kafka up" up_kafka
	timed "local-kms up" up_kms
	timed "seaweedfs s3 up" up_s3
	log "all services up in $((SECONDS - start))s"
	;;
down)
	# Reverse order: FerretDB needs PostgreSQL until it stops.
	down_s3
	down_kms
	down_kafka
	down_ferretdb
	down_pg
	down_redis
	log "all services stopped"
	;;
env) print_env ;;
clean)
	# Stops everything and deletes the services' data; downloaded jars and built binaries stay.
	down_s3
	down_kms
	down_kafka
	down_ferretdb
	down_pg
	down_redis
	rm -rf "$REAL/redis" "$REAL/pg" "$REAL/ferretdb" "$KDIR/data" "$REAL/kms" "$SWDIR" "/tmp/caas-real-pg-$(id -u)-$PG_PORT"
	log "data removed"
	;;
status)
	build_realsvc
	redis_ready && echo "redis: up" || echo "redis: down"
	pg_bin >/dev/null && pg_ready && echo "postgresql: up" || echo "postgresql: down"
	mongo_ready 2>/dev/null && echo "ferretdb: up" || echo "ferretdb: down"
	kafka_ready 2>/dev/null && echo "kafka: up" || echo "kafka: down"
	kms_ready 2>/dev/null && echo "local-kms: up" || echo "local-kms: down"
	s3_ready 2>/dev/null && echo "seaweedfs s3: up" || echo "seaweedfs s3: down"
	;;
*)
	echo "usage: $0 up|down|env|status|clean" >&2
	exit 2
	;;
esac
