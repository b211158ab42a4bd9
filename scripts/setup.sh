#!/usr/bin/env bash
# One-time machine set-up shared by the run and test commands: the pinned
# toolchain's aarch64-unknown-none target and QEMU >= 9 (bookworm-backports).
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_qemu_major=9

if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-none; then
    echo "setup: rustup target add aarch64-unknown-none" >&2
    rustup target add aarch64-unknown-none >&2
fi

qemu_ok() {
    command -v qemu-system-aarch64 >/dev/null 2>&1 || return 1
    local v
    v=$(qemu-system-aarch64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -1)
    [ -n "$v" ] && [ "$v" -ge "$need_qemu_major" ]
}

if ! qemu_ok; then
    cmd='printf "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n" > /etc/apt/sources.list.d/backports.sources && apt-get update && apt-get install -y -t bookworm-backports qemu-system-arm'
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: QEMU >= $need_qemu_major is missing; as root run:" >&2
        echo "  $cmd" >&2
        exit 1
    fi
    echo "setup: installing qemu-system-arm from bookworm-backports" >&2
    src=/etc/apt/sources.list.d/debian.sources
    uris=$(sed -n 's/^URIs: *//p' "$src" | head -1)
    key=$(sed -n 's/^Signed-By: *//p' "$src" | head -1)
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
        "${uris:-http://deb.debian.org/debian}" "${key:-/usr/share/keyrings/debian-archive-keyring.gpg}" \
        > /etc/apt/sources.list.d/bookworm-backports.sources
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -t bookworm-backports qemu-system-arm >&2
    qemu_ok || { echo "setup: QEMU install did not give qemu-system-aarch64 >= $need_qemu_major" >&2; exit 1; }
fi
