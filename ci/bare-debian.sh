#!/usr/bin/env bash
# ci/bare-debian.sh: checks the README's promise for real. On a bare Debian 12
# (bookworm, minbase, plus only git, make and ca-certificates: no compiler, no
# pkg-config), as root, in a clean clone of the repository's committed HEAD,
# `make demo` and then `make test` must both work, the Makefile's deps and
# deps-test targets apt-get installing everything that is missing.
#
# How: debootstraps a minbase bookworm into ROOTFS_DIR (once; a marker file
# records a finished base, and a base that a previous check has already used,
# and so that has gcc in it, is rebuilt from scratch), checks that cc, gcc and
# pkg-config are absent there, clones REPO into ROOTFS_DIR/root/mergelab and
# runs the two commands in the chroot with a clean environment (CI passed
# through if set). Logs: ROOTFS_DIR/root/demo.log and ROOTFS_DIR/root/test.log.
# At the end it prints a summary: the chroot's Debian version, the packages the
# Makefile installed, each command's wall time and the tests' last line.
#
# Usage:  ci/bare-debian.sh [ROOTFS_DIR] [REPO]
#           ROOTFS_DIR  default /tmp/mergelab-bare
#           REPO        default the repository this script is in
#         SETUP_ONLY=1 ci/bare-debian.sh ...   only build and check the bare rootfs
#
# Needs: root (debootstrap, chroot, mount); debootstrap (apt-get installed on
# the host if missing); network access to a Debian mirror: the host's own
# (an http:// URI with suite bookworm in /etc/apt/sources.list or
# /etc/apt/sources.list.d/*.list|*.sources), else http://deb.debian.org/debian;
# about 3 GB of disk under ROOTFS_DIR.
#
# Time (2 cores, deb.debian.org): debootstrap and the base setup about 4 min
# (only when the rootfs is built); make demo about 3 min (installing the
# compiler and libraries ~20 s, building, the demo's 2.5 min); make test about
# 3-4 min (installing chromium and the test tools, then the tests). About
# 11 min in all; allow 20 on a slower mirror.
set -euo pipefail

die() { echo "bare-debian: error: $*" >&2; exit 1; }
say() { echo "== $*"; }

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOTFS=${1:-/tmp/mergelab-bare}
REPO=${2:-$(git -C "$script_dir" rev-parse --show-toplevel 2>/dev/null || (cd "$script_dir/.." && pwd))}

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and mount need it)"

# The rootfs path must be absolute, not /, and free of whitespace (it is matched
# against /proc/self/mountinfo, which escapes blanks).
case $ROOTFS in /*) ;; *) ROOTFS=$(pwd)/$ROOTFS;; esac
ROOTFS=${ROOTFS%/}
if [ -z "$ROOTFS" ] || [ "$ROOTFS" = / ]; then die "ROOTFS_DIR must not be /"; fi
case $ROOTFS in *[[:space:]]*) die "ROOTFS_DIR must not contain blanks: '$ROOTFS'";; esac

REPO=$(cd "$REPO" && pwd) || die "no such repository: ${2:-$REPO}"
git -C "$REPO" rev-parse --verify -q HEAD >/dev/null 2>&1 || die "$REPO is not a git repository with a commit"
[ -d "$REPO/.git" ] || [ "$(git -C "$REPO" rev-parse --is-bare-repository)" = true ] \
    || die "$REPO/.git is not a directory (a worktree?); pass the main repository"

READY=$ROOTFS/.mergelab-bare-ready        # base finished and checked
USED=$ROOTFS/.mergelab-bare-used          # make demo/test has run in it: gcc is in there now
INCOMPLETE=$ROOTFS/.mergelab-bare-incomplete
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SRC_MNT=/mnt/mergelab-src                 # REPO, bind-mounted read-only, in the chroot
CLONE=/root/mergelab

# ---- the host: debootstrap and the mirror -----------------------------------

if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap on the host"
    pkgs="debootstrap"
    [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || pkgs="$pkgs debian-archive-keyring"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $pkgs \
        || { apt-get update -q && apt-get install -y -q --no-install-recommends $pkgs; } \
        || die "could not install debootstrap with apt-get"
fi

# The first http:// URI of a deb entry for suite bookworm in the host's apt
# sources, one-line (.list) or deb822 (.sources) format; empty when none.
host_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] URI SUITE COMPONENT...
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
            awk '$1 == "deb" && $3 == "bookworm" && $2 ~ /^http:\/\// { print $2; exit }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'function flush() {
                 if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ && enabled !~ /^no$/) {
                     n = split(uris, u, " ")
                     for (i = 1; i <= n; i++) if (u[i] ~ /^http:\/\//) { print u[i]; found = 1; exit }
                 }
                 types = suites = uris = enabled = ""
             }
             /^[ \t]*#/ { next }
             /^[ \t]*$/ { flush(); next }
             /^[ \t]/ { next }
             { line = $0; key = tolower(line); sub(/:.*/, "", key); sub(/^[^:]*:[ \t]*/, "", line) }
             key == "types" { types = line } key == "suites" { suites = line }
             key == "uris" { uris = line } key == "enabled" { enabled = tolower(line) }
             END { if (!found) flush() }' "$f"
    done
}
MIRROR=$(host_mirror | head -n1)
MIRROR=${MIRROR%/}
if [ -n "$MIRROR" ]; then say "mirror: $MIRROR (from the host's apt sources)"
else MIRROR=http://deb.debian.org/debian; say "mirror: $MIRROR (default: no http:// bookworm entry in the host's apt sources)"; fi

# ---- mounts, and their cleanup on every exit --------------------------------

mounted=()   # in mount order; unmounted in reverse
mount_in() { # mount_in TARGET MOUNT-ARGS...
    local target=$1; shift
    mkdir -p "$target"
    mount "$@" "$target"
    mounted+=("$target")
}
mounts_under_rootfs() { # deepest first
    awk -v r="$ROOTFS" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}
cleanup() {
    local rc=$? i m
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null \
            || echo "bare-debian: warning: could not unmount ${mounted[i]}" >&2
    done
    mounted=()
    # Anything else left under the rootfs (debootstrap's own /proc after a kill).
    for m in $(mounts_under_rootfs); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_chroot() {
    cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
    mount_in "$ROOTFS/proc" -t proc proc
    mount_in "$ROOTFS/sys" -t sysfs sysfs
    mount_in "$ROOTFS/dev" --bind /dev
    # Private, so that the pts and shm mounts below never propagate to the host's /dev.
    mount --make-private "$ROOTFS/dev"
    mount_in "$ROOTFS/dev/pts" --bind /dev/pts
    mount_in "$ROOTFS/dev/shm" -t tmpfs -o mode=1777,nosuid,nodev tmpfs
}

# Runs a shell command in the chroot, as root, with a clean environment.
in_chroot() {
    local envs=(HOME=/root "PATH=$CHROOT_PATH" TERM=dumb)
    [ -n "${CI+set}" ] && envs+=("CI=$CI")
    chroot "$ROOTFS" /usr/bin/env -i "${envs[@]}" /bin/bash -c "$1"
}

# ---- the bare rootfs ---------------------------------------------------------

remove_rootfs() {
    [ -z "$(mounts_under_rootfs)" ] || die "refusing to remove $ROOTFS: something is mounted under it"
    rm -rf --one-file-system "$ROOTFS"
}

if [ -f "$READY" ] && [ -f "$USED" ]; then
    say "$ROOTFS was used by an earlier check (gcc is in it now): building it again"
    remove_rootfs
elif [ -e "$ROOTFS" ] && [ ! -f "$READY" ]; then
    if [ -f "$INCOMPLETE" ]; then
        say "$ROOTFS holds an unfinished rootfs: building it again"
        remove_rootfs
    elif [ -n "$(ls -A "$ROOTFS" 2>/dev/null)" ]; then
        die "$ROOTFS exists, is not empty and was not made by this script; remove it or pick another ROOTFS_DIR"
    fi
fi

if [ ! -f "$READY" ]; then
    mkdir -p "$ROOTFS"
    touch "$INCOMPLETE"
    say "debootstrap --variant=minbase bookworm $ROOTFS $MIRROR"
    t0=$(date +%s)
    debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR"
    mount_chroot
    # No service may start in the chroot while packages install.
    printf '#!/bin/sh\nexit 101\n' > "$ROOTFS/usr/sbin/policy-rc.d"
    chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
    say "installing git make ca-certificates in the chroot (and nothing else)"
    in_chroot 'export DEBIAN_FRONTEND=noninteractive
               apt-get update && apt-get install -y --no-install-recommends git make ca-certificates'
    say "base rootfs built in $(( $(date +%s) - t0 )) s"
    rm -f "$INCOMPLETE"
    touch "$READY"
else
    say "reusing the finished bare rootfs in $ROOTFS"
    mount_chroot
fi

# The check proves nothing if the compiler or pkg-config is already there.
# shellcheck disable=SC2016  # expanded in the chroot
present=$(in_chroot 'for c in cc gcc pkg-config; do command -v $c; done; [ ! -e /usr/include/stdio.h ] || echo /usr/include/stdio.h' || true)
if [ -n "$present" ]; then
    echo "bare-debian: error: the bare rootfs is not bare; these are present:" >&2
    echo "$present" | sed 's/^/    /' >&2
    die "remove $ROOTFS and run again"
fi
for c in git make; do
    in_chroot "command -v $c >/dev/null" || die "$c is missing from the bare rootfs"
done
say "bare: $(cat "$ROOTFS/etc/debian_version"), $(in_chroot 'dpkg-query -W | wc -l') packages, no cc, gcc, pkg-config or libc headers"

if [ "${SETUP_ONLY:-0}" = 1 ]; then
    say "SETUP_ONLY=1: stopping after the base setup"
    exit 0
fi

# ---- a clean clone of the committed HEAD ------------------------------------

rm -rf --one-file-system "${ROOTFS:?}$CLONE"
mount_in "$ROOTFS$SRC_MNT" --bind "$REPO"
mount -o remount,bind,ro "$ROOTFS$SRC_MNT"
say "cloning $REPO (HEAD $(git -C "$REPO" rev-parse --short HEAD)) into $ROOTFS$CLONE"
in_chroot "git -c safe.directory='*' clone -q --no-hardlinks $SRC_MNT $CLONE"
umount "$ROOTFS$SRC_MNT" && unset 'mounted[-1]'
commit=$(in_chroot "git -C $CLONE log -1 --format='%h %s' | cut -c1-100")
touch "$USED"

# ---- make demo, make test ----------------------------------------------------

pkgs_now() { in_chroot "dpkg-query -W -f '\${Package}\n' | LC_ALL=C sort"; }
notable() { grep -E '^(gcc|libc6-dev|pkg-config|libopenblas.*|chromium)$' | tr '\n' ' '; }
declare -A secs=() newpkgs=()
ran=()

summary() {
    local k all="" line
    echo
    echo "==================== mergelab on bare Debian: summary ===================="
    echo "chroot Debian version: $(cat "$ROOTFS/etc/debian_version")   (mirror $MIRROR)"
    echo "repository: $REPO, cloned commit $commit${CI+, CI=$CI}"
    for k in "${ran[@]}"; do
        all+="${newpkgs[$k]}"$'\n'
        echo "make $k: ${secs[$k]:-?} s wall; installed $(grep -c . <<<"${newpkgs[$k]}") packages;" \
             "notable: $(notable <<<"${newpkgs[$k]}")"
    done
    echo "packages the Makefile installed in all: $(grep -c . <<<"$all"); notable: $(notable <<<"$all")"
    if [ -f "$ROOTFS/root/test.log" ]; then
        line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$ROOTFS/root/test.log" | tail -n1 || true)
        echo "test run's last line: ${line:-$(tail -n1 "$ROOTFS/root/test.log")}"
    fi
    echo "logs: $ROOTFS/root/demo.log $ROOTFS/root/test.log"
}

run_make() { # run_make TARGET
    local target=$1 log=$ROOTFS/root/$1.log before after t0 rc
    before=$(pkgs_now)
    say "make $target (in the chroot, log $log)"
    t0=$(date +%s)
    set +e
    in_chroot "cd $CLONE && make $target" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    secs[$target]=$(( $(date +%s) - t0 ))
    after=$(pkgs_now)
    newpkgs[$target]=$(LC_ALL=C comm -13 <(echo "$before") <(echo "$after"))
    ran+=("$target")
    if [ "$rc" != 0 ]; then
        echo
        echo "bare-debian: error: make $target failed (exit $rc) after ${secs[$target]} s; the last 40 lines of $log:" >&2
        tail -n 40 "$log" >&2
        # The tests print each failure's reason just above its FAIL line, which
        # the tail may have scrolled past.
        if grep -q '^FAIL' "$log"; then
            echo >&2
            echo "bare-debian: the failed tests, with the lines before each:" >&2
            grep -B4 '^FAIL' "$log" >&2 || true
        fi
        summary
        exit 1
    fi
}

run_make demo
run_make test
summary
