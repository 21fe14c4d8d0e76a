#!/usr/bin/env bash
# The package on a fresh Debian 12, the way hospital IT installs it:
#
#   tests/packaging/install_test.sh DEB_DIR WORK_DIR
#
# DEB_DIR holds vytalwatch-appliance_<v>_amd64.deb (tests/packaging/deb_test.sh
# built it). In WORK_DIR this test makes a Debian 12 root with debootstrap
# (from the Debian mirror this machine's apt uses), then inside it:
#   1. apt-get install ./the.deb: the user, directories, secrets, certificate
#      and call log exist with the right owners and modes;
#   2. the binaries start from the units' ExecStartPre/ExecStart lines (no
#      systemd in the root: run as the units' User=, with the RuntimeDirectory
#      made as systemd would), a call is created through signald and a TURN
#      credential signald mints allocates on vytal-turnserver (and a forged one
#      does not);
#   3. the root booted with systemd (systemd-nspawn): the units start the
#      services with their hardening (no capabilities, seccomp, own user),
#      READY=1 and the watchdog, reload, restart after a crash;
#      vytal-syncd enabled by the admin; the watchdog pinged for real; a
#      settings request left as vytal-admin leaves it is carried out by
#      vytal-apply.path/.service (admin-settings.conf written, TURN restarted);
#   4. upgrade, on the running machine, to a rebuilt higher version from a call
#      log one migration behind: services stopped, the migration applied,
#      started again (vytal-syncd too); the admin's configuration, the admin
#      page's settings (still in force), the secrets and the call log are kept
#      (the call is still served); then vytalctl backup, as packaging/README.md
#      says, on the running machine;
#   5. remove stops the services and keeps data and configuration; purge
#      deletes them;
#   6. reinstall, and the restore commands of packaging/README.md: the old
#      configuration, secrets, key ring, settings, call and admin account are
#      back and in use.
# Needs root (debootstrap, chroot, mount, systemd-nspawn). Stops only what it
# started.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
DEB_DIR=$(cd "$1" && pwd)
WORK=$(mkdir -p "$2" && cd "$2" && pwd)
ROOT=$WORK/root
UNITS=$ROOT/lib/systemd/system
TURN_BIN_DIR=${VYTAL_TURN_BIN_DIR:-$SRC/build/turn/bin}
PIDS=()

step() { echo "==> $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
check() { local what=$1; shift; "$@" || fail "$what"; echo "ok: $what"; }
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

# Every mount under the root (proc here; whatever a killed debootstrap left).
unmount_all() {
  local m
  for m in $(awk -v r="$ROOT/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do umount -l "$m" || true; done
}
cleanup() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ] && [ -n "${LEADER:-}" ]; then
    nsenter -t "$LEADER" -a journalctl --no-pager -n 60 -u vytal-signald -u vytal-turnserver >"$WORK/journal.log" 2>&1
  fi
  [ -n "${BUILD2:-}" ] && kill -- -"$BUILD2" 2>/dev/null && wait "$BUILD2" 2>/dev/null
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  unmount_all
  if [ $rc -ne 0 ]; then
    for log in "$WORK"/*.log; do [ -f "$log" ] && { echo "--- $log"; tail -30 "$log"; }; done
  fi
  return $rc
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot)"
rm -f "$WORK"/*.log
DEB1=$(ls "$DEB_DIR"/vytalwatch-appliance_*_amd64.deb | sort -V | head -n 1)
V1=$(dpkg-deb -f "$DEB1" Version)

# --------------------------------------------------------------- the root
# The mirror this machine's own apt uses (deb822 or one-line sources).
MIRROR=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
[ -n "$MIRROR" ] || fail "no Debian mirror in /etc/apt/sources*"
MIRROR=${MIRROR%% *}

step "rebuilding the package as a higher version (in the background)"
V2="$V1+rebuild1"
VYTAL_DEB_VERSION=$V2 setsid "$SRC/packaging/build-deb.sh" "$WORK/deb2" >"$WORK/build-deb2.log" 2>&1 &
BUILD2=$!

step "debootstrap bookworm (minbase with systemd, as a server has) into $ROOT"
# Never delete through a mount (a /proc left by a killed run).
unmount_all
rm -rf --one-file-system "$ROOT"
mkdir -p "$WORK/debootstrap-cache"
debootstrap --variant=minbase --include=systemd-sysv --cache-dir="$WORK/debootstrap-cache" \
  --keyring=/usr/share/keyrings/debian-archive-keyring.gpg bookworm "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
  fail "debootstrap failed (see $WORK/debootstrap.log)"
# Debian's suites as this machine has them (updates, security); no third-party source.
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$ROOT/etc/apt/sources.list.d/" && : >"$ROOT/etc/apt/sources.list"
fi
# A chroot has no init: services are not started by maintainer scripts.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d" && chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
mount -t proc proc "$ROOT/proc"
in_root apt-get update -qq >"$WORK/apt-update.log" 2>&1 || fail "apt-get update in the root"

# -------------------------------------------------------------- 1. install
step "apt-get install ./$(basename "$DEB1")"
cp "$DEB1" "$ROOT/tmp/"
in_root sh -c "cd /tmp && apt-get install -y -q ./$(basename "$DEB1")" >"$WORK/install.log" 2>&1 ||
  fail "apt-get install of $(basename "$DEB1") failed"
check "the postinst says how to make the first admin account (there is no default one)" \
  grep -q "vytalctl --config /etc/vytalwatch/appliance.conf --config /etc/vytalwatch/site.conf admin add NAME --role admin" "$WORK/install.log"
check "package $V1 is installed" test "$(in_root dpkg-query -W -f='${Version} ${Status}' vytalwatch-appliance)" = "$V1 install ok installed"

# Owners as the root's own passwd and group name them (the host's may differ).
owner_mode() {
  local uid gid mode
  read -r uid gid mode < <(stat -c '%u %g %a' "$ROOT$1")
  echo "$(in_root getent passwd "$uid" | cut -d: -f1):$(in_root getent group "$gid" | cut -d: -f1) $mode"
}
expect_stat() { check "$1 is $2" test "$(owner_mode "$1")" = "$2"; }
passwd_line=$(in_root getent passwd vytalwatch) || fail "no vytalwatch user"
check "vytalwatch is a system user without a login shell" \
  bash -c "[[ '$passwd_line' =~ ^vytalwatch:x:([0-9]+):[0-9]+:.*:/var/lib/vytalwatch:/usr/sbin/nologin$ ]] && (( \${BASH_REMATCH[1]} < 1000 ))"
expect_stat /var/lib/vytalwatch "vytalwatch:vytalwatch 750"
expect_stat /etc/vytalwatch "root:vytalwatch 750"
expect_stat /etc/vytalwatch/appliance.conf "root:vytalwatch 640"
expect_stat /etc/vytalwatch/site.conf "root:vytalwatch 640"
expect_stat /etc/vytalwatch/secrets.conf "root:vytalwatch 640"
expect_stat /etc/vytalwatch/tls "root:vytalwatch 750"
expect_stat /etc/vytalwatch/tls/turn.key "root:vytalwatch 640"
expect_stat /etc/vytalwatch/tls/https.key "root:root 600"
expect_stat /var/lib/vytalwatch/turn/keyring "vytalwatch:vytalwatch 640"
expect_stat /var/lib/vytalwatch/calls.db "vytalwatch:vytalwatch 640"
check "appliance.conf is a conffile" grep -qx /etc/vytalwatch/appliance.conf "$ROOT/var/lib/dpkg/info/vytalwatch-appliance.conffiles"
jwt_secret=$(sed -n 's/^JWT_SECRET = //p' "$ROOT/etc/vytalwatch/secrets.conf")
check "secrets.conf has a random JWT secret (${#jwt_secret} characters)" test "${#jwt_secret}" -ge 40
check "site.conf holds no secret" bash -c '! grep -q "^JWT_SECRET\|^DATABASE_PASSWORD" "$1"' _ "$ROOT/etc/vytalwatch/site.conf"
check "the key ring has a current TURN secret" grep -Eq '^current [A-Za-z0-9_-]{40,}$' "$ROOT/var/lib/vytalwatch/turn/keyring"
check "the development certificate is valid now" openssl x509 -in "$ROOT/etc/vytalwatch/tls/turn.crt" -noout -checkend 0
check "the certificate and key match" test "$(openssl x509 -in "$ROOT/etc/vytalwatch/tls/turn.crt" -noout -pubkey)" = \
  "$(openssl pkey -in "$ROOT/etc/vytalwatch/tls/turn.key" -pubout)"
schema=$(sqlite3 "$ROOT/var/lib/vytalwatch/calls.db" 'SELECT max(version) FROM schema_migrations')
check "the call log exists at schema version $schema" test "$schema" -ge 5

# ------------------------------------------------- 2. run from the units
# The rebuild is done before anything here is timed (a shared 2-core machine).
step "waiting for the $V2 build"
wait "$BUILD2" || fail "building $V2 failed (see $WORK/build-deb2.log)"
BUILD2=
# A port free on loopback for both TCP and UDP (the TURN ports are both).
free_port() {
  node -e '
    const net = require("net"), dgram = require("dgram");
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = s.address().port, u = dgram.createSocket("udp4");
      u.on("error", () => { s.close(); process.exit(1); });
      u.bind(port, "127.0.0.1", () => { console.log(port); u.close(); s.close(); });
    });' || free_port
}
PORT=$(free_port); TURN_PORT=$(free_port); TLS_PORT=$(free_port)
# Relay ports below the kernel's ephemeral range (32768 and up).
RELAY_MIN=$(( 20000 + (RANDOM % 100) * 100 ))
step "configuring as an admin would: ports $PORT (HTTP), $TURN_PORT (TURN), relay $RELAY_MIN+, loopback only"
# appliance.conf (the conffile) is edited in place; upgrade must keep it.
sed -i -e "s/^PORT = .*/PORT = $PORT/" -e "s/^VYTAL_TURN_PORT = .*/VYTAL_TURN_PORT = $TURN_PORT/" \
  -e "s/^VYTAL_TURN_TLS_PORT = .*/VYTAL_TURN_TLS_PORT = $TLS_PORT/" "$ROOT/etc/vytalwatch/appliance.conf"
cat >>"$ROOT/etc/vytalwatch/appliance.conf" <<EOF

# Install test: everything on loopback.
VYTAL_TURN_LISTEN_IPS = 127.0.0.1
VYTAL_TURN_MIN_PORT = $RELAY_MIN
VYTAL_TURN_MAX_PORT = $(( RELAY_MIN + 99 ))
EOF
sed -i -e '/^VYTAL_TURN_RELAY_IPS\|^WEBRTC_STUN_SERVERS\|^WEBRTC_TURN_SERVERS/d' "$ROOT/etc/vytalwatch/site.conf"
cat >>"$ROOT/etc/vytalwatch/site.conf" <<EOF
VYTAL_TURN_RELAY_IPS = 127.0.0.1
WEBRTC_TURN_SERVERS = turn:127.0.0.1:$TURN_PORT?transport=udp
EOF
CONF_SUM=$(cat "$ROOT"/etc/vytalwatch/{appliance,site,secrets}.conf | sha256sum)
SECRETS_SUM=$(cat "$ROOT/var/lib/vytalwatch/turn/keyring" "$ROOT/etc/vytalwatch/tls/"* | sha256sum)

SVC_UID=$(stat -c %u "$ROOT/var/lib/vytalwatch")
SVC_GID=$(stat -c %g "$ROOT/var/lib/vytalwatch")
unit_value() { sed -n "s/^$2=//p" "$UNITS/$1"; }
# Runs one unit's ExecStartPre lines, then its ExecStart in the background,
# as its User=/Group= inside the root, logging to WORK/<unit>.log.
start_unit() {
  local unit=$1 user group line
  user=$(unit_value "$unit" User); group=$(unit_value "$unit" Group)
  check "$unit runs as vytalwatch" test "$user:$group" = vytalwatch:vytalwatch
  # RuntimeDirectory=vytalwatch, RuntimeDirectoryMode=0750, as systemd makes it.
  check "$unit has RuntimeDirectory=vytalwatch" test "$(unit_value "$unit" RuntimeDirectory)" = vytalwatch
  install -d -o "$SVC_UID" -g "$SVC_GID" -m 0750 "$ROOT/run/vytalwatch"
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    echo "\$ $line" >>"$WORK/$unit.log"
    # shellcheck disable=SC2086 # the unit's command line, split as systemd splits it (no quoting in ours)
    chroot --userspec="$SVC_UID:$SVC_GID" "$ROOT" env -i PATH=/usr/sbin:/usr/bin $line >>"$WORK/$unit.log" 2>&1 ||
      fail "$unit: ExecStartPre failed: $line"
  done < <(unit_value "$unit" ExecStartPre)
  line=$(unit_value "$unit" ExecStart)
  echo "\$ $line" >>"$WORK/$unit.log"
  # shellcheck disable=SC2086
  chroot --userspec="$SVC_UID:$SVC_GID" "$ROOT" env -i PATH=/usr/sbin:/usr/bin $line >>"$WORK/$unit.log" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
}
stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
wait_for() {
  local what=$1; shift
  for _ in $(seq 100); do "$@" >/dev/null 2>&1 && { echo "ok: $what"; return 0; }; sleep 0.1; done
  fail "$what"
}
ctl() { chroot --userspec="$SVC_UID:$SVC_GID" "$ROOT" env -i PATH=/usr/sbin:/usr/bin \
  vytalctl --config /etc/vytalwatch/appliance.conf --config /etc/vytalwatch/site.conf \
  --config /etc/vytalwatch/secrets.conf "$@"; }
URL=http://127.0.0.1:$PORT

step "starting vytal-signald and vytal-turnserver from their units"
start_unit vytal-signald.service
wait_for "signald answers /healthz on $URL" curl -sf "$URL/healthz"
start_unit vytal-turnserver.service
TURN_PID=$LAST_PID
listening() { [ -n "$(ss -Hln "( sport = :$TURN_PORT )" src 127.0.0.1)" ] && [ "$(ss -Hln "( sport = :$TURN_PORT )" | wc -l)" -ge 2 ]; }
wait_for "vytal-turnserver listens on UDP and TCP $TURN_PORT" listening
check "vytal-turnserver loaded the plugin" grep -q "plugin=/usr/lib/vytalwatch/libvytal_turn.so loaded" "$WORK/vytal-turnserver.service.log"
check "vytal-turnserver found the TLS certificate" grep -q "Certificate file found: /etc/vytalwatch/tls/turn.crt" "$WORK/vytal-turnserver.service.log"
check "vytal-turnserver took every line of its generated configuration" bash -c '! grep -q "Bad configuration format" "$1"' _ "$WORK/vytal-turnserver.service.log"
check "vytal-turnserver is still running" kill -0 "$TURN_PID"

SERVICE=$(ctl dev-token --sub platform --role service)
PATIENT=$(ctl dev-token --sub patient-7 --role patient)
CALL=$(curl -sf -X POST "$URL/webrtc/calls" -H "Authorization: Bearer $SERVICE" -H 'Content-Type: application/json' \
  -d '{"patientId":"patient-7","providerId":"provider-3","type":"video"}') || fail "POST /webrtc/calls"
CALL_ID=$(node -e 'console.log(JSON.parse(process.argv[1]).id)' "$CALL")
check "a call was created through the installed signald ($CALL_ID)" test -n "$CALL_ID"
ICE=$(curl -sf "$URL/webrtc/ice-servers?callId=$CALL_ID" -H "Authorization: Bearer $PATIENT") || fail "GET /webrtc/ice-servers"
read -r TURN_USER TURN_PASS < <(node -e '
  const s = JSON.parse(process.argv[1]).iceServers.find((s) => [].concat(s.urls).some((u) => u.startsWith("turn:")));
  console.log(s.username, s.credential);' "$ICE")
check "signald minted a TURN credential ($TURN_USER)" test -n "$TURN_PASS"

uclient() { timeout 20 "$TURN_BIN_DIR/turnutils_uclient" -v -y -n 3 -m 1 -u "$1" -w "$2" -p "$TURN_PORT" 127.0.0.1 2>&1; }
out=$(uclient "$TURN_USER" "$TURN_PASS") || true
echo "$out" >"$WORK/uclient.log"
check "the credential allocates a relay on the installed vytal-turnserver" \
  grep -q "Received relay addr: 127.0.0.1:" <<<"$out"
out=$(uclient "$TURN_USER" "forged${TURN_PASS:6}") || true
check "a forged password is refused and does not allocate" \
  bash -c '! grep -q "Received relay addr" <<<"$1" && grep -q "Cannot complete Allocation" <<<"$1"' _ "$out"
stop_all

# ------------------------------------------- 3. booted under systemd
# The same root booted as a machine: systemd-nspawn with its own network
# (only loopback), systemd as PID 1 starting the units as installed, with all
# their hardening. Host tools (curl, uclient) run in its network namespace.
step "booting the root with systemd (systemd-nspawn --boot --private-network)"
rm -f "$ROOT/usr/sbin/policy-rc.d"  # a real machine: maintainer scripts start services
umount "$ROOT/proc"
setsid systemd-nspawn -D "$ROOT" --boot --register=no --keep-unit --private-network --console=pipe \
  >"$WORK/machine.log" 2>&1 &
NSPAWN=$!
PIDS+=("$NSPAWN")
LEADER=
for _ in $(seq 100); do LEADER=$(pgrep -P "$NSPAWN" -x systemd || true); [ -n "$LEADER" ] && break; sleep 0.1; done
[ -n "$LEADER" ] || fail "systemd did not start in the machine (see $WORK/machine.log)"
in_machine() { nsenter -t "$LEADER" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
in_net() { nsenter -t "$LEADER" -n "$@"; }
booted() { in_machine systemctl is-system-running 2>/dev/null | grep -Eqx 'running|degraded'; }
for _ in $(seq 120); do booted && break; sleep 0.5; done
booted || fail "the machine did not finish booting: $(in_machine systemctl --failed --no-legend 2>&1)"
echo "ok: the machine booted ($(in_machine systemctl is-system-running))"
prop() { in_machine systemctl show -P "$2" "$1"; }
active() { [ "$(prop "$1" ActiveState)" = active ]; }
check "vytal-signald is active (READY=1 received: $(prop vytal-signald.service StatusText))" active vytal-signald.service
check "vytal-turnserver is active (READY=1 received)" active vytal-turnserver.service
check "vytal-syncd is installed disabled until the central database is configured" \
  test "$(in_machine systemctl is-enabled vytal-syncd.service || true)" = disabled
check "vytal-signald has a 30 s watchdog" test "$(prop vytal-signald.service WatchdogUSec)" = 30s
for unit in vytal-signald vytal-turnserver; do
  pid=$(prop $unit.service MainPID)
  status=$(in_machine cat "/proc/$pid/status")
  check "$unit runs as vytalwatch" test "$(in_machine ps -o user= -p "$pid")" = vytalwatch
  check "$unit has no capabilities" grep -q $'^CapEff:\t0000000000000000$' <<<"$status"
  check "$unit cannot gain privileges and is under a seccomp filter" \
    bash -c 'grep -q $'"'"'^NoNewPrivs:\t1$'"'"' <<<"$1" && grep -q $'"'"'^Seccomp:\t2$'"'"' <<<"$1"' _ "$status"
done
turn_pid=$(prop vytal-turnserver.service MainPID)
check "vytal-turnserver's view of /var/lib/vytalwatch is turn/ alone (no call log)" \
  test "$(in_machine nsenter -t "$turn_pid" -m ls /var/lib/vytalwatch)" = turn
# Read as root in each service's mount namespace: signald sees the secret,
# vytal-turnserver sees an inaccessible, empty node in its place.
secret_seen() { in_machine nsenter -t "$1" -m cat /etc/vytalwatch/secrets.conf 2>/dev/null | grep -q '^JWT_SECRET = '; }
check "signald's namespace has secrets.conf" secret_seen "$(prop vytal-signald.service MainPID)"
secret_hidden() { ! secret_seen "$1"; }
check "vytal-turnserver's namespace does not (JWT secret, database password)" secret_hidden "$turn_pid"
check "vytal-turnserver cannot write there" \
  bash -c '! nsenter -t "$1" -a nsenter -t "$2" -m touch /var/lib/vytalwatch/turn/x 2>/dev/null' _ "$LEADER" "$turn_pid"
wait_for "signald answers inside the machine" in_net curl -sf "$URL/healthz"
got=$(in_net curl -sf "$URL/webrtc/calls/$CALL_ID" -H "Authorization: Bearer $SERVICE") || fail "GET the call under systemd"
check "the call made before the boot is served by the systemd-run signald" grep -q "\"id\":\"$CALL_ID\"" <<<"$got"
ICE=$(in_net curl -sf "$URL/webrtc/ice-servers?callId=$CALL_ID" -H "Authorization: Bearer $PATIENT") || fail "GET /webrtc/ice-servers"
read -r TURN_USER TURN_PASS < <(node -e '
  const s = JSON.parse(process.argv[1]).iceServers.find((s) => [].concat(s.urls).some((u) => u.startsWith("turn:")));
  console.log(s.username, s.credential);' "$ICE")
out=$(in_net timeout 20 "$TURN_BIN_DIR/turnutils_uclient" -v -y -n 3 -m 1 -u "$TURN_USER" -w "$TURN_PASS" -p "$TURN_PORT" 127.0.0.1 2>&1) || true
echo "$out" >"$WORK/uclient-systemd.log"
check "a credential minted under systemd allocates on the hardened vytal-turnserver" grep -q "Received relay addr: 127.0.0.1:" <<<"$out"
turn_pid=$(prop vytal-turnserver.service MainPID)
in_machine systemctl reload vytal-turnserver.service || fail "systemctl reload vytal-turnserver"
check "reload (new certificates) keeps vytal-turnserver running in the same process" \
  test "$(prop vytal-turnserver.service MainPID):$(prop vytal-turnserver.service ActiveState)" = "$turn_pid:active"
# The admin page: vytal-admin runs hardened like the others; the first
# account is made as the postinst said, and it logs in; its login reaches the
# call log's audit_log through signald's local channel (same user, SO_PEERCRED).
check "vytal-admin is active (READY=1 received: $(prop vytal-admin.service StatusText))" active vytal-admin.service
admin_pid=$(prop vytal-admin.service MainPID)
check "vytal-admin runs as vytalwatch" test "$(in_machine ps -o user= -p "$admin_pid")" = vytalwatch
check "vytal-admin has no capabilities" grep -q $'^CapEff:\t0000000000000000$' <<<"$(in_machine cat "/proc/$admin_pid/status")"
ADMIN_URL=http://127.0.0.1:3001
ADMIN_PASSWORD='install test passphrase'
echo "$ADMIN_PASSWORD" | in_machine vytalctl --config /etc/vytalwatch/appliance.conf --config /etc/vytalwatch/site.conf \
  admin add first-admin --role admin --password-stdin >"$WORK/admin-add.log" 2>&1 || fail "vytalctl admin add: $(cat "$WORK/admin-add.log")"
check "admin.db stays the service user's, mode 0600" test "$(stat -c %u:%a "$ROOT/var/lib/vytalwatch/admin.db")" = "$SVC_UID:600"
wait_for "vytal-admin answers on $ADMIN_URL" in_net curl -sf "$ADMIN_URL/"
login=$(in_net curl -s -i -X POST "$ADMIN_URL/api/login" -H "Origin: $ADMIN_URL" -H 'Content-Type: application/json' \
  -d "{\"name\":\"first-admin\",\"password\":\"$ADMIN_PASSWORD\"}")
check "the account made by vytalctl admin add logs in" grep -q '^HTTP/1.1 200' <<<"$login"
check "the session cookie is __Host-, Secure, HttpOnly, SameSite=Strict" \
  grep -Eq '^Set-Cookie: __Host-vytal_admin=[A-Za-z0-9_-]{43}; Path=/; Secure; HttpOnly; SameSite=Strict' <<<"$login"
ADMIN_COOKIE=$(sed -n 's/^Set-Cookie: \(__Host-vytal_admin=[^;]*\);.*/\1/p' <<<"$login")
overview=$(in_net curl -sf "$ADMIN_URL/api/overview" -H "Cookie: $ADMIN_COOKIE") || fail "GET /api/overview"
check "the overview sees signald up under systemd" \
  node -e 'const o = JSON.parse(process.argv[1]); process.exit(o.services.find((s) => s.name === "vytal-signald").state === "up" ? 0 : 1)' "$overview"
audited() { in_net curl -sf "$ADMIN_URL/api/audit?actor=first-admin&action=admin.login" -H "Cookie: $ADMIN_COOKIE" | grep -q '"outcome":"ok"'; }
wait_for "the login is in the call log's audit_log (through signald's local channel)" audited

signald_pid=$(prop vytal-signald.service MainPID)
in_machine kill -9 "$signald_pid"
restarted() { active vytal-signald.service && [ "$(prop vytal-signald.service MainPID)" != "$signald_pid" ] && [ "$(prop vytal-signald.service MainPID)" != 0 ]; }
for _ in $(seq 100); do restarted && break; sleep 0.1; done
check "a crashed signald is restarted by systemd (NRestarts=$(prop vytal-signald.service NRestarts))" restarted

# Logs under journald: a call's lifecycle lines carry CALL_ID= and USER_ID=
# (signald writes natively to the journal when $JOURNAL_STREAM says so).
wait_for "the restarted signald answers" in_net curl -sf "$URL/healthz"
LOGGED=$(in_net curl -sf -X POST "$URL/webrtc/calls" -H "Authorization: Bearer $SERVICE" -H 'Content-Type: application/json' \
  -d '{"patientId":"patient-8","providerId":"provider-4","type":"audio"}') || fail "POST /webrtc/calls under systemd"
LOGGED_ID=$(node -e 'console.log(JSON.parse(process.argv[1]).id)' "$LOGGED")
in_net curl -sf -X POST "$URL/webrtc/calls/$LOGGED_ID/cancel" -H "Authorization: Bearer $SERVICE" >/dev/null ||
  fail "cancel the call under systemd"
story() { in_machine journalctl --no-pager -o cat "CALL_ID=$LOGGED_ID" 2>/dev/null; }
has_story() { story | grep -q "^call created type=audio" && story | grep -q "^call cancelled reason=cancelled"; }
wait_for "journalctl CALL_ID=$LOGGED_ID shows the call created, then cancelled" has_story
check "its journal entries carry USER_ID= and come from vytal-signald.service" bash -c \
  'grep -q "USER_ID=platform" <<<"$1" && grep -q "_SYSTEMD_UNIT=vytal-signald.service" <<<"$1"' _ \
  "$(in_machine journalctl --no-pager -o verbose "CALL_ID=$LOGGED_ID" 2>/dev/null)"

# vytal-syncd, once an admin configured and enabled it (the central database
# is not reachable from this machine: it starts, says READY and backs off).
cat >>"$ROOT/etc/vytalwatch/site.conf" <<EOF
VYTAL_SITE_ID = install-test
DATABASE_HOST = 127.0.0.1
DATABASE_PORT = 9
DATABASE_SSLMODE = disable
VYTAL_SYNC_METRICS_PORT = $(free_port)
VYTAL_SYNC_BACKOFF_MAX_SECONDS = 2
EOF
CONF_SUM=$(cat "$ROOT"/etc/vytalwatch/{appliance,site,secrets}.conf | sha256sum)
in_machine systemctl enable --now vytal-syncd.service >/dev/null 2>&1 || fail "systemctl enable --now vytal-syncd"
check "vytal-syncd is active once enabled (READY=1 received: $(prop vytal-syncd.service StatusText))" \
  active vytal-syncd.service
# The watchdog, for real: a drop-in shortens it to 3 s (pings every 1.5 s);
# after 8 s both daemons are still the same processes and the last ping is recent.
for unit in vytal-signald vytal-syncd; do
  mkdir -p "$ROOT/etc/systemd/system/$unit.service.d"
  printf '[Service]\nWatchdogSec=3s\n' >"$ROOT/etc/systemd/system/$unit.service.d/test-watchdog.conf"
done
in_machine systemctl daemon-reload
in_machine systemctl restart vytal-signald.service vytal-syncd.service
watched_pids="$(prop vytal-signald.service MainPID) $(prop vytal-syncd.service MainPID)"
sleep 8
for unit in vytal-signald vytal-syncd; do
  first=$(prop $unit.service WatchdogTimestampMonotonic)
  sleep 2
  check "$unit keeps pinging its 3 s watchdog" test "$(prop $unit.service WatchdogTimestampMonotonic)" -gt "$first"
done
check "no watchdog restart in 8 s" \
  test "$(prop vytal-signald.service MainPID) $(prop vytal-syncd.service MainPID)" = "$watched_pids"
rm -rf "$ROOT/etc/systemd/system/vytal-signald.service.d" "$ROOT/etc/systemd/system/vytal-syncd.service.d"
in_machine systemctl daemon-reload
wait_for "signald answers again" in_net curl -sf "$URL/healthz"

# ------------------------------------------- 3b. the admin page's settings
# A settings request as vytal-admin leaves it (as vytalwatch, in the spool):
# vytal-apply.path starts vytal-apply.service (root, two capabilities),
# which validates it, writes admin-settings.conf and restarts the TURN server.
step "a settings request through vytal-apply.path"
check "vytal-apply.path is active" active vytal-apply.path
APPLY_ID=0123456789abcdef0123456789abcdef
in_machine runuser -u vytalwatch -- sh -c "printf '%s' '{\"id\":\"$APPLY_ID\",\"kind\":\"settings\",\"actor\":\"install-test\",\"createdAt\":'\$(date +%s)000',\"changes\":{\"VYTAL_TURN_USER_QUOTA\":\"9\"},\"expect\":{},\"restart\":true}' >/var/lib/vytalwatch/apply/tmp/r && mv /var/lib/vytalwatch/apply/tmp/r /var/lib/vytalwatch/apply/requests/$APPLY_ID.json"
# A result is results/<id>.json until vytal-admin (every 2 s) puts it in the
# audit log and renames it <id>.audited.json; nothing moves it after that.
RESULTS="$ROOT/var/lib/vytalwatch/apply/results"
answered() { test -s "$RESULTS/$1.json" || test -s "$RESULTS/$1.audited.json"; }
wait_for "vytal-apply wrote its result" answered "$APPLY_ID"
wait_for "vytal-admin audited the result" test -s "$RESULTS/$APPLY_ID.audited.json"
check "the request was applied: $(cat "$RESULTS/$APPLY_ID.audited.json")" \
  grep -q '"state":"done"' "$RESULTS/$APPLY_ID.audited.json"
check "admin-settings.conf holds the setting" grep -qx 'VYTAL_TURN_USER_QUOTA = 9' "$ROOT/etc/vytalwatch/admin-settings.conf"
expect_stat /etc/vytalwatch/admin-settings.conf "root:vytalwatch 640"
# (the machine's /run is its own tmpfs: read it from inside)
turn_conf_has() { nsenter -t "$LEADER" -a cat /run/vytalwatch/vytal-turnserver.conf 2>/dev/null | grep -qx "$1"; }
wait_for "vytal-turnserver restarted with it" turn_conf_has 'user-quota=9'
wait_for "vytal-turnserver is active again" active vytal-turnserver.service
# A rotation from the page: the key ring is vytalwatch's, and vytal-apply may
# give a file away (CAP_CHOWN) but not change the mode of one it gave away
# (no CAP_FOWNER): the new ring gets its mode first, then its owner.
apply_journal() { { in_machine systemctl status --no-pager vytal-apply.path vytal-apply.service
  in_machine journalctl --no-pager -n 40 -u vytal-apply.path -u vytal-apply.service; } 2>&1 | sed 's/^/  /' || true; }
ROTATE_ID=fedcba9876543210fedcba9876543210
OLD_CURRENT=$(grep '^current ' "$ROOT/var/lib/vytalwatch/turn/keyring")
in_machine runuser -u vytalwatch -- sh -c "printf '%s' '{\"id\":\"$ROTATE_ID\",\"kind\":\"rotate\",\"actor\":\"install-test\",\"createdAt\":'\$(date +%s)000',\"overlapSeconds\":600}' >/var/lib/vytalwatch/apply/tmp/r && mv /var/lib/vytalwatch/apply/tmp/r /var/lib/vytalwatch/apply/requests/$ROTATE_ID.json"
for _ in $(seq 300); do answered "$ROTATE_ID" && break; sleep 0.1; done
answered "$ROTATE_ID" || { echo "vytal-apply has not answered the rotation in 30 s:"; apply_journal; fail "vytal-apply wrote the rotation's result"; }
echo "ok: vytal-apply wrote the rotation's result"
wait_for "vytal-admin audited the rotation's result" test -s "$RESULTS/$ROTATE_ID.audited.json"
check "the rotation was done: $(cat "$RESULTS/$ROTATE_ID.audited.json")" \
  grep -q '"state":"done"' "$RESULTS/$ROTATE_ID.audited.json"
rotation_audited() { in_net curl -sf "$ADMIN_URL/api/audit?actor=install-test&action=turn.rotate" -H "Cookie: $ADMIN_COOKIE" |
  grep -q "\"outcome\":\"ok\".*$ROTATE_ID"; }
wait_for "the admin page's audit shows the rotation, done, by its actor" rotation_audited
check "the key ring has a new current secret and keeps the old one for the overlap" bash -c \
  '! grep -qx "$1" "$2" && grep -q "^previous ${1#current }" "$2"' _ "$OLD_CURRENT" "$ROOT/var/lib/vytalwatch/turn/keyring"
expect_stat /var/lib/vytalwatch/turn/keyring "vytalwatch:vytalwatch 640"
expect_stat "/var/lib/vytalwatch/apply/results/$ROTATE_ID.audited.json" "vytalwatch:vytalwatch 640"
SECRETS_SUM=$(cat "$ROOT/var/lib/vytalwatch/turn/keyring" "$ROOT/etc/vytalwatch/tls/"* | sha256sum)
check "vytal-admin's unit has no capability and sees the key ring read-only" bash -c \
  '[ -z "$(nsenter -t "$1" -a systemctl show -P CapabilityBoundingSet vytal-admin.service)" ] && nsenter -t "$1" -a systemctl show -P ReadOnlyPaths vytal-admin.service | grep -q /var/lib/vytalwatch/turn' _ "$LEADER"

# ------------------------------------------------------------ 4. upgrade
DEB2=$(ls "$WORK"/deb2/vytalwatch-appliance_"$V2"_amd64.deb)
check "$V2 is higher than $V1" dpkg --compare-versions "$V2" gt "$V1"
# The call log as an older release left it: without the newest migrations (6
# and 7, which drop three indexes nothing on the appliance reads), so the
# upgrade has two to apply. signald and syncd (which would migrate it themselves at start)
# stay stopped until the upgrade.
in_machine systemctl stop vytal-signald.service vytal-syncd.service
sqlite3 "$ROOT/var/lib/vytalwatch/calls.db" 'CREATE INDEX idx_calls_status_scheduled ON calls(status, scheduled_at);
  CREATE INDEX idx_calls_appointment ON calls(appointment_id);
  CREATE INDEX idx_participants_call_status ON call_participants(call_id, status);
  DELETE FROM schema_migrations WHERE version IN (6, 7);'
step "upgrade to $V2 on the running machine"
# (not /tmp: the machine's /tmp is its own tmpfs)
cp "$DEB2" "$ROOT/root/"
turn_pid=$(prop vytal-turnserver.service MainPID)
in_machine sh -c "cd /root && apt-get install -y -q ./$(basename "$DEB2")" >"$WORK/upgrade.log" 2>&1 || fail "upgrade failed"
check "package $V2 is installed" test "$(in_machine dpkg-query -W -f='${Version}' vytalwatch-appliance)" = "$V2"
check "the admin's appliance.conf, site.conf and secrets.conf are kept" \
  test "$(cat "$ROOT"/etc/vytalwatch/{appliance,site,secrets}.conf | sha256sum)" = "$CONF_SUM"
check "the admin page's settings are kept and in force" \
  bash -c 'grep -qx "VYTAL_TURN_USER_QUOTA = 9" "$1/etc/vytalwatch/admin-settings.conf"' _ "$ROOT"
check "vytal-turnserver runs with them after the upgrade" turn_conf_has 'user-quota=9'
check "the TURN key ring and the certificate are kept" \
  test "$(cat "$ROOT/var/lib/vytalwatch/turn/keyring" "$ROOT/etc/vytalwatch/tls/"* | sha256sum)" = "$SECRETS_SUM"
check "the upgrade migrated the call log to schema 7" \
  grep -q "call log /var/lib/vytalwatch/calls.db: schema version 7 (2 migration(s) applied)" "$WORK/upgrade.log"
check "the three unread indexes are gone again" \
  test "$(sqlite3 "$ROOT/var/lib/vytalwatch/calls.db" "SELECT count(*) FROM sqlite_master WHERE name IN
    ('idx_calls_status_scheduled', 'idx_calls_appointment', 'idx_participants_call_status')")" = 0
check "vytal-turnserver was stopped for the upgrade and started again" \
  bash -c '[ "$1" != "$2" ] && [ "$2" != 0 ]' _ "$turn_pid" "$(prop vytal-turnserver.service MainPID)"
check "vytal-turnserver is active after the upgrade" active vytal-turnserver.service
check "the upgrade started vytal-signald" active vytal-signald.service
check "the upgrade started the enabled vytal-syncd" active vytal-syncd.service
wait_for "the upgraded signald answers" in_net curl -sf "$URL/healthz"
got=$(in_net curl -sf "$URL/webrtc/calls/$CALL_ID" -H "Authorization: Bearer $SERVICE") || fail "GET the call after upgrade"
check "the call created before the upgrade is still served" grep -q "\"id\":\"$CALL_ID\"" <<<"$got"

# The commands of packaging/README.md's "Backup and restore", as written there:
# its first sh block backs up, its second restores.
readme_block() {
  awk -v want="$1" '/^## Backup and restore/ {s = 1} s && /^```sh/ {if (++n == want) {p = 1; next}} p && /^```/ {exit} p' \
    "$SRC/packaging/README.md"
}
step "vytalctl backup on the running machine (packaging/README.md)"
in_machine bash -euc "$(readme_block 1)" >"$WORK/backup.log" 2>&1 || fail "vytalctl backup: $(cat "$WORK/backup.log")"
check "the backup holds the call log, checked" \
  grep -Eq '^  /var/lib/vytalwatch/calls\.db +[1-9][0-9]* call\(s\), checked$' "$WORK/backup.log"
check "the backup holds the admin account, checked" \
  grep -Eq '^  /var/lib/vytalwatch/admin\.db +1 admin account\(s\), checked$' "$WORK/backup.log"
check "the backup is root's alone" test "$(stat -c %u:%a "$ROOT/root/vytal-backup")" = 0:700
check "the backup names its release" \
  test "$(cat "$ROOT/root/vytal-backup/VERSION")" = "$(in_machine vytalctl --version)"
TURN_FILES_SUM=$(cat "$ROOT/var/lib/vytalwatch/turn/keyring" "$ROOT/etc/vytalwatch/tls/turn."* | sha256sum)

# ------------------------------------------------------ 5. remove, purge
step "apt-get remove"
in_machine apt-get remove -y -q vytalwatch-appliance >"$WORK/remove.log" 2>&1 || fail "remove failed"
for unit in vytal-signald vytal-turnserver vytal-syncd vytal-admin; do
  check "remove stops $unit" bash -c '! nsenter -t "$1" -a systemctl is-active -q "$2"' _ "$LEADER" "$unit.service"
done
check "the binaries are gone" test ! -e "$ROOT/usr/sbin/vytal-signald"
check "remove keeps the call log" test -s "$ROOT/var/lib/vytalwatch/calls.db"
check "remove keeps the call" bash -c "[ \"\$(sqlite3 '$ROOT/var/lib/vytalwatch/calls.db' \"SELECT count(*) FROM calls WHERE id = '$CALL_ID'\")\" = 1 ]"
check "remove keeps the configuration and secrets" test -s "$ROOT/etc/vytalwatch/appliance.conf" -a -s "$ROOT/etc/vytalwatch/site.conf" \
  -a -s "$ROOT/etc/vytalwatch/secrets.conf" \
  -a -s "$ROOT/var/lib/vytalwatch/turn/keyring" -a -s "$ROOT/etc/vytalwatch/tls/turn.key"
step "apt-get purge"
in_machine apt-get purge -y -q vytalwatch-appliance >"$WORK/purge.log" 2>&1 || fail "purge failed"
check "purge deletes the call log and the state directory" test ! -e "$ROOT/var/lib/vytalwatch"
check "purge deletes the configuration and secrets" test ! -e "$ROOT/etc/vytalwatch"
check "dpkg no longer knows the package" bash -c '! nsenter -t "$1" -a dpkg-query -W -f="\${Status}" vytalwatch-appliance 2>/dev/null | grep -q installed' _ "$LEADER"

# ---------------------------------------- 6. reinstall, restore the backup
step "reinstall $V2 and restore the backup (packaging/README.md)"
in_machine sh -c "cd /root && apt-get install -y -q ./$(basename "$DEB2")" >"$WORK/reinstall.log" 2>&1 || fail "reinstall failed"
check "the new install has secrets and configuration of its own" \
  test "$(cat "$ROOT"/etc/vytalwatch/{appliance,site,secrets}.conf | sha256sum)" != "$CONF_SUM"
# A file whose mode and owner differ from the old machine's: OWNERS gives them back.
in_machine sh -c 'chown root:root /etc/vytalwatch/site.conf && chmod 0644 /etc/vytalwatch/site.conf'
in_machine bash -euc "$(readme_block 2)" >"$WORK/restore.log" 2>&1 || fail "restore: $(cat "$WORK/restore.log")"
in_machine systemctl enable --now vytal-syncd >>"$WORK/restore.log" 2>&1 || fail "enable vytal-syncd"
expect_stat /etc/vytalwatch/site.conf "root:vytalwatch 640"
check "every file of the backup matched its MANIFEST line" \
  test "$(grep -c ': OK$' "$WORK/restore.log")" = "$(wc -l <"$ROOT/root/vytal-backup/MANIFEST")"
check "the old configuration and secrets are back" \
  test "$(cat "$ROOT"/etc/vytalwatch/{appliance,site,secrets}.conf | sha256sum)" = "$CONF_SUM"
check "the TURN key ring, certificate and key are back" \
  test "$(cat "$ROOT/var/lib/vytalwatch/turn/keyring" "$ROOT/etc/vytalwatch/tls/turn."* | sha256sum)" = "$TURN_FILES_SUM"
check "the call log and admin.db are the service user's" \
  test "$(stat -c %u "$ROOT/var/lib/vytalwatch/calls.db" "$ROOT/var/lib/vytalwatch/admin.db" | sort -u)" = "$SVC_UID"
expect_stat /var/lib/vytalwatch/admin.db "vytalwatch:vytalwatch 600"
wait_for "the restored signald answers" in_net curl -sf "$URL/healthz"
got=$(in_net curl -sf "$URL/webrtc/calls/$CALL_ID" -H "Authorization: Bearer $SERVICE") || fail "GET the call after the restore"
check "the call from before the backup is served (with the old JWT secret)" grep -q "\"id\":\"$CALL_ID\"" <<<"$got"
wait_for "vytal-turnserver runs with the restored settings" turn_conf_has 'user-quota=9'
wait_for "vytal-admin answers again" in_net curl -sf "$ADMIN_URL/"
login=$(in_net curl -s -i -X POST "$ADMIN_URL/api/login" -H "Origin: $ADMIN_URL" -H 'Content-Type: application/json' \
  -d "{\"name\":\"first-admin\",\"password\":\"$ADMIN_PASSWORD\"}")
check "the admin account from before the backup logs in" grep -q '^HTTP/1.1 200' <<<"$login"
check "vytal-syncd runs again" active vytal-syncd.service
in_machine systemctl poweroff >/dev/null 2>&1 || true
for _ in $(seq 300); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.1; done
echo "install test: all checks passed"
