#!/usr/bin/env bash
# `sam local` without Docker, on a Debian machine where you are root: Debian's podman serves the
# Docker API that SAM talks to, qemu runs the arm64 functions, and the Lambda base image SAM
# expects (public.ecr.aws/lambda/provided:al2023-arm64, which no registry is needed for) is
# built here from Debian's arm64 libc and busybox. SAM adds its own runtime interface emulator.
#   scripts/podman-local.sh start   set up, build the image, start the Docker API; prints DOCKER_HOST
#   scripts/podman-local.sh stop    stop the API and undo the system changes
# Then (with `DYNAMODB_BIND=0.0.0.0 make dev` running):
#   DOCKER_HOST=unix:///tmp/podman.sock .tools/venv/bin/sam local invoke GetUserSessionsFunction \
#     -e .data/events/get-user-sessions/200-admin-lists-user-74.json --skip-pull-image \
#     --add-host host.docker.internal:<this machine's address>
# (podman before 4.7 does not know Docker's `host-gateway`, so name the address.)
set -euo pipefail
SOCK=/tmp/podman.sock
IMAGE=public.ecr.aws/lambda/provided:al2023-arm64
WORK=/tmp/lambda-base-arm64
BINFMT=/proc/sys/fs/binfmt_misc

start() {
  apt-get install -y -qq podman qemu-user-static >/dev/null
  # podman on these machines: the hugetlb controller is not on cgroup v2, and the default
  # ulimits exceed the sandbox's.
  if [[ ! -d /sys/fs/cgroup/hugetlb ]] || ! mountpoint -q /sys/fs/cgroup/hugetlb; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb none /sys/fs/cgroup/hugetlb
  fi
  mkdir -p /etc/containers
  cat >/etc/containers/containers.conf <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  # arm64 binaries under qemu.
  mountpoint -q "$BINFMT" || mount -t binfmt_misc binfmt_misc "$BINFMT"
  [[ -e "$BINFMT/qemu-aarch64" ]] || cat /usr/lib/binfmt.d/qemu-aarch64.conf >"$BINFMT/register"
  # The base image: arm64 glibc (the functions link it) and busybox (SAM's image build runs
  # `mv` and `chmod`), from Debian's packages.
  if ! podman image exists "$IMAGE"; then
    dpkg --add-architecture arm64
    apt-get update -qq
    rm -rf "$WORK" && mkdir -p "$WORK/rootfs"
    (cd "$WORK" && apt-get download -qq libc6:arm64 libgcc-s1:arm64 busybox-static:arm64)
    for deb in "$WORK"/*.deb; do dpkg -x "$deb" "$WORK/rootfs"; done
    mkdir -p "$WORK/rootfs"/{tmp,var/task,var/runtime,opt,proc,dev,etc}
    chmod 1777 "$WORK/rootfs/tmp"
    chroot "$WORK/rootfs" /bin/busybox --install -s /bin
    tar -C "$WORK/rootfs" -c . | podman import --arch arm64 \
      --change 'ENV LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime PATH=/usr/local/bin:/usr/bin:/bin' \
      --change 'WORKDIR /var/task' - "$IMAGE" >/dev/null
  fi
  podman system service --time=0 "unix://$SOCK" >/tmp/podman-service.log 2>&1 &
  echo $! >/tmp/podman-service.pid
  for _ in $(seq 1 50); do [[ -S "$SOCK" ]] && break; sleep 0.1; done
  echo "export DOCKER_HOST=unix://$SOCK"
}

stop() {
  if [[ -f /tmp/podman-service.pid ]]; then
    kill "$(cat /tmp/podman-service.pid)" 2>/dev/null || true
    rm -f /tmp/podman-service.pid
  fi
  rm -f "$SOCK"
  [[ -e "$BINFMT/qemu-aarch64" ]] && echo -1 >"$BINFMT/qemu-aarch64"
  mountpoint -q /sys/fs/cgroup/hugetlb && umount /sys/fs/cgroup/hugetlb
  rmdir /sys/fs/cgroup/hugetlb 2>/dev/null || true
  if dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --remove-architecture arm64 && apt-get update -qq || true
  fi
  echo "podman API stopped; binfmt, hugetlb mount and the arm64 architecture undone (the image stays: podman rmi $IMAGE)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
