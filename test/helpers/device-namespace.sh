#!/bin/bash
# The product as a device, for test/ares-device.test.ts: run under `unshare --mount --propagation private`, it overlays
# what the product and sshd write (/usr /var /etc /opt, tmpfs /media /run) so the real root stays untouched, deploys
# the product as the README says, starts it with deploy/appinstalld.service's own command, and starts a private sshd
# for a developer user "prisoner" (as on a TV). Env: T (work dir, world-readable), PORT, REPO. Runs until killed.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "device: $*" >&2; }

for d in /usr /var /etc /opt /media /run; do
  [ -d "$d" ] || { say "$d is missing: it is needed as a mount point for the private view"; exit 1; }
done

# 1. A private view of everything written below: overlays whose upper layers live on a tmpfs of this namespace.
mount -t tmpfs -o mode=0755 tmpfs "$T/ns"
for d in usr var etc opt; do
  mkdir -p "$T/ns/$d.up" "$T/ns/$d.work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$T/ns/$d.up,workdir=$T/ns/$d.work" "/$d"
done
mount -t tmpfs -o mode=0755 tmpfs /media
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/sshd /run/lock

# 2. The developer user ares-cli logs in as, in this view's /etc only; "*" (not "!"): a key login is allowed.
if id prisoner >/dev/null 2>&1; then usermod -d /media/developer -s /bin/sh prisoner; else useradd -M -d /media/developer -s /bin/sh prisoner; fi
usermod -p '*' prisoner
install -d -o prisoner -g "$(id -g prisoner)" -m 0755 /media/developer /media/developer/temp

# 3. Deployed as the README says, started with the systemd unit's own command and environment.
node "$REPO/scripts/deploy-tree.mjs" /opt/appinstalld --bin-dir /usr/bin >&2
unit="$REPO/deploy/appinstalld.service"
exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
unit_env="$(sed -n 's/^Environment=//p' "$unit")"
say "starting: $exec_start"
# shellcheck disable=SC2086
env -i PATH="$PATH" HOME=/root $unit_env $exec_start >"$T/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 1 1200); do
  [ -S /var/run/luna-service2/com.palm.hub ] && grep -q 'services open' "$T/daemon.log" && break
  kill -0 "$daemon" 2>/dev/null || { say "the daemon exited"; cat "$T/daemon.log" >&2; exit 1; }
  sleep 0.1
done
# Developer mode on, as a device owner turns it on: root's luna-send with no settings at all.
env -i PATH="$PATH" HOME=/root luna-send -n 1 luna://com.webos.service.devmode/setDevMode '{"enabled":true}' >&2

# 4. sshd on loopback, its own host key and config; only prisoner, only by key.
cat >"$T/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $PORT
HostKey $T/ssh_host_ed25519_key
PidFile none
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile $T/authorized_keys
AllowUsers prisoner
Subsystem sftp internal-sftp
LogLevel VERBOSE
CONF
/usr/sbin/sshd -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
sshd=$!
for _ in $(seq 1 600); do
  grep -q 'Server listening' "$T/sshd.log" && break
  kill -0 "$sshd" 2>/dev/null || { say "sshd exited"; cat "$T/sshd.log" >&2; exit 1; }
  sleep 0.1
done
echo ready >"$T/ready"
trap 'kill "$sshd" "$daemon" 2>/dev/null; wait' TERM INT
wait -n "$daemon" "$sshd" || true
say "a device process ended"
kill "$sshd" "$daemon" 2>/dev/null || true
wait
