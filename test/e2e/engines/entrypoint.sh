#!/bin/sh
# Starts sshd (root may log in with AUTHORIZED_KEY only) and then dockerd in the foreground,
# listening on its socket and on tcp :2375. Extra dockerd flags come as arguments.
set -eu
# Without --privileged (this host's engine cannot grant every capability) the cgroup mounts come
# read-only; the nested engine must create its containers' cgroups below them.
for dir in /sys/fs/cgroup /sys/fs/cgroup/*; do
  if grep -q " $dir ro[, ]" /proc/self/mountinfo; then mount -o remount,bind,rw "$dir"; fi
done
ssh-keygen -A >/dev/null
if [ -n "${AUTHORIZED_KEY:-}" ]; then
  printf '%s\n' "$AUTHORIZED_KEY" >/root/.ssh/authorized_keys
  chmod 0600 /root/.ssh/authorized_keys
fi
# Tests open several sessions at once (docker's ssh helper opens one per API connection); the log
# (/var/log/sshd.log) lets them count connections ("Accepted publickey").
/usr/sbin/sshd -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no \
  -o MaxStartups=100:30:200 -o MaxSessions=100 -o UseDNS=no -E /var/log/sshd.log
exec dockerd --host unix:///var/run/docker.sock --host tcp://0.0.0.0:2375 --tls=false "$@"
