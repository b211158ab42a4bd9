#!/usr/bin/env bash
# Fetches the real payloads the stage is measured with, without touching
# the system's apt state: Debian's arm64 cloud kernel (an uncompressed
# arm64 Image) and the Raspberry Pi 4 device tree (from the regular arm64
# kernel package). apt runs for arm64 with private lists, cache and status
# under target/apt-arm64/; the system's sources and apt.conf.d are used
# read-only. Idempotent: when both files are there it only prints them.
#
#   bash scripts/fetch-payloads.sh rpi-firmware
#   -> target/payloads/rpi-firmware/{start4.elf,fixup4.dat,copyright}
#      (the Raspberry Pi 4 boot firmware from Debian's raspi-firmware, in
#      the non-free-firmware component, for `cargo xtask sdcard`; only this)
#
#   bash scripts/fetch-payloads.sh
#   -> target/payloads/vmlinuz-cloud-arm64     (arm64 Image, "ARM\x64" at 0x38)
#      target/payloads/bcm2711-rpi-4-b.dtb
#      target/payloads/fit/boot.itb            (FIT: the kernel + a busybox initramfs)
#
# The FIT (scripts/fit/boot.its) holds the cloud kernel and an initramfs
# packed with cpio from Debian's arm64 busybox-static, whose /init
# (scripts/fit/init) prints `FIT-INITRAMFS-OK sha256=<sha256 of
# /bin/busybox>` and powers off; fit/root/ keeps the tree it was packed
# from, so tests can compute the checksum themselves. mkimage (Debian's
# u-boot-tools), the dtc it runs and cpio are the host architecture's
# packages, fetched the same way (private lists) and run from their
# extracted .debs: nothing is installed.
#
# Needs apt-get, apt-cache, dpkg-deb, gzip and the network.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$PWD/target/payloads
kernel=$out/vmlinuz-cloud-arm64
dtb=$out/bcm2711-rpi-4-b.dtb

fw=$out/rpi-firmware
if [ "${1:-}" = rpi-firmware ] && [ -s "$fw/start4.elf" ] && [ -s "$fw/fixup4.dat" ] && [ -s "$fw/copyright" ]; then
    echo "$fw"
    exit 0
fi

image_magic_ok() { [ "$(od -An -c -j 56 -N 4 "$1" 2>/dev/null | tr -d ' ')" = 'ARMd' ]; }

fitdir=$out/fit
fit=$fitdir/boot.itb
# The FIT is rebuilt when its recipe changes.
fit_recipe() { cat scripts/fit/boot.its scripts/fit/init | sha256sum | cut -d' ' -f1; }
fit_ok() { [ -s "$fit" ] && [ "$(cat "$fitdir/recipe" 2>/dev/null)" = "$(fit_recipe)" ]; }

if [ "${1:-}" != rpi-firmware ] && [ -s "$kernel" ] && [ -s "$dtb" ] && image_magic_ok "$kernel" && fit_ok; then
    echo "$kernel"
    echo "$dtb"
    echo "$fit"
    exit 0
fi

for c in apt-get apt-cache dpkg-deb gzip; do
    command -v "$c" >/dev/null || { echo "fetch-payloads: $c is missing" >&2; exit 1; }
done

host_arch=$(dpkg --print-architecture)

# Private apt state for one architecture: sets $d (its directory) and $o
# (the options every apt call takes). With a second argument, a one-line
# sources.list used instead of the system's sources (state in its own
# directory, named by the third).
use_arch() {
    d=$PWD/target/apt-$1${3:+-$3}
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/debs" "$out"
    : >> "$d/status"   # an empty dpkg status: nothing is "installed" here
    o=(
        -oAPT::Architecture="$1" -oAPT::Architectures="$1"
        -oDir::State::Lists="$d/lists"
        -oDir::State::status="$d/status"
        -oDir::State::extended_states="$d/extended_states"
        -oDir::Cache="$d/cache" -oDir::Cache::archives="$d/cache/archives"
        # Only Packages indices: no translations, no AppStream metadata.
        -oAcquire::Languages=none
        -oAcquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
        # The private dirs are root's; apt's _apt user could not write them.
        -oAPT::Sandbox::User=root
        -qq
    )
    if [ -n "${2:-}" ]; then
        echo "$2" > "$d/sources.list"
        o+=(-oDir::Etc::SourceList="$d/sources.list" -oDir::Etc::SourceParts=/dev/null)
    fi

    # The lists are refreshed once a day at most: kernel ABI names change with
    # point releases and the old .debs leave the mirror.
    stamp=$d/lists/.updated
    if [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
        echo "fetch-payloads: apt-get update ($1, private lists in $d)" >&2
        apt-get "${o[@]}" update >&2
        touch "$stamp"
    fi
}

# The Pi 4 boot firmware: raspi-firmware is in bookworm's non-free-firmware
# component, which the system's sources may not name; a private list does.
# Its licence (copyright file, kept beside it and put on the card) allows
# redistribution in binary form for use with a Raspberry Pi.
if [ "${1:-}" = rpi-firmware ]; then
    key=$(sed -n 's/^Signed-By: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    use_arch arm64 "deb [signed-by=${key:-/usr/share/keyrings/debian-archive-keyring.gpg}] http://deb.debian.org/debian bookworm non-free-firmware" nonfree
    v=$(apt-cache "${o[@]}" policy raspi-firmware | sed -n 's/^ *Candidate: //p')
    [ -n "$v" ] && [ "$v" != "(none)" ] || { echo "fetch-payloads: no raspi-firmware in non-free-firmware" >&2; exit 1; }
    f=$(ls "$d/debs/raspi-firmware_${v//:/%3a}_"*.deb 2>/dev/null | head -1 || true)
    if [ -z "$f" ]; then
        echo "fetch-payloads: apt-get download raspi-firmware=$v" >&2
        (cd "$d/debs" && apt-get "${o[@]}" download "raspi-firmware=$v" >&2)
        f=$(ls "$d/debs/raspi-firmware_${v//:/%3a}_"*.deb | head -1)
    fi
    x=$(mktemp -d "$out/.fw.XXXXXX")
    dpkg-deb -x "$f" "$x"
    mkdir -p "$fw"
    cp "$x/usr/lib/raspi-firmware/start4.elf" "$x/usr/lib/raspi-firmware/fixup4.dat" "$fw/"
    cp "$x/usr/share/doc/raspi-firmware/copyright" "$fw/copyright"
    rm -rf "$x"
    echo "fetch-payloads: $(basename "$f") -> $fw" >&2
    echo "$fw"
    exit 0
fi

use_arch arm64

# linux-image-cloud-arm64 -> linux-image-6.1.0-N-cloud-arm64
resolve() { # meta-package -> the versioned image package it depends on
    local p
    p=$(apt-cache "${o[@]}" depends "$1" | sed -n 's/^ *Depends: \(linux-image-[^ ]*\).*/\1/p' | head -1)
    [ -n "$p" ] || { echo "fetch-payloads: cannot resolve $1 for arm64" >&2; exit 1; }
    echo "$p"
}
cloud=$(resolve linux-image-cloud-arm64)
generic=$(resolve linux-image-arm64)

fetch() { # package -> path of its cached .deb
    local p=$1 v f
    v=$(apt-cache "${o[@]}" policy "$p" | sed -n 's/^ *Candidate: //p')
    [ -n "$v" ] && [ "$v" != "(none)" ] || { echo "fetch-payloads: no candidate for $p" >&2; exit 1; }
    f=$(ls "$d/debs/${p}_${v//:/%3a}_"*.deb 2>/dev/null | head -1 || true)
    if [ -z "$f" ]; then
        echo "fetch-payloads: apt-get download $p=$v" >&2
        (cd "$d/debs" && apt-get "${o[@]}" download "$p=$v" >&2)
        f=$(ls "$d/debs/${p}_${v//:/%3a}_"*.deb | head -1)
    fi
    echo "$f"
}

tmp=$(mktemp -d "$out/.x.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if ! { [ -s "$kernel" ] && image_magic_ok "$kernel"; }; then
    deb=$(fetch "$cloud")
    dpkg-deb -x "$deb" "$tmp/cloud"
    src=$(ls "$tmp"/cloud/boot/vmlinuz-* | head -1)
    # Debian ships arm64 kernels gzip-compressed; loaders want the Image.
    if [ "$(od -An -tx1 -N2 "$src" | tr -d ' ')" = 1f8b ]; then
        gzip -dc "$src" > "$tmp/Image"
    else
        cp "$src" "$tmp/Image"
    fi
    image_magic_ok "$tmp/Image" || { echo "fetch-payloads: $src is not an arm64 Image" >&2; exit 1; }
    mv "$tmp/Image" "$kernel"
    echo "fetch-payloads: $cloud ($(basename "$deb")) -> $kernel" >&2
fi

if [ ! -s "$dtb" ]; then
    deb=$(fetch "$generic")
    dpkg-deb -x "$deb" "$tmp/generic"
    src=$(ls "$tmp"/generic/usr/lib/linux-image-*/broadcom/bcm2711-rpi-4-b.dtb | head -1)
    [ -s "$src" ] || { echo "fetch-payloads: no bcm2711-rpi-4-b.dtb in $deb" >&2; exit 1; }
    cp "$src" "$tmp/dtb"
    mv "$tmp/dtb" "$dtb"
    echo "fetch-payloads: $generic ($(basename "$deb")) -> $dtb" >&2
fi

if ! fit_ok; then
    bb=$(fetch busybox-static)
    dpkg-deb -x "$bb" "$tmp/busybox"
    # Host tools, run from their extracted .debs with the libraries a
    # stock Debian 12 may lack (mkimage runs dtc for `-f`).
    use_arch "$host_arch"
    tools=$tmp/tools
    for p in u-boot-tools device-tree-compiler libyaml-0-2 libssl3 cpio; do
        dpkg-deb -x "$(fetch "$p")" "$tools"
    done
    export PATH=$tools/usr/bin:$tools/bin:$PATH
    export LD_LIBRARY_PATH=$(dirname "$(ls "$tools"/usr/lib/*/libyaml-0.so.2 | head -1)")
    mkimage -V >&2 && dtc -v >&2 && cpio --version | head -1 >&2 ||
        { echo "fetch-payloads: the host tools from Debian's .debs do not run here" >&2; exit 1; }
    root=$tmp/root
    mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys"
    cp "$tmp/busybox/bin/busybox" "$root/bin/busybox"
    cp scripts/fit/init "$root/init"
    chmod 755 "$root/init" "$root/bin/busybox"
    # newc, uncompressed: the kernel unpacks it without a decompressor. The
    # file list is sorted so the archive is the same from run to run.
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) > "$tmp/initramfs.cpio"
    cp "$kernel" "$tmp/Image"
    cp scripts/fit/boot.its "$tmp/boot.its"
    (cd "$tmp" && mkimage -f boot.its boot.itb >&2)
    rm -rf "$fitdir"
    mkdir -p "$fitdir"
    mv "$root" "$fitdir/root"
    mv "$tmp/boot.itb" "$fitdir/boot.itb"
    fit_recipe > "$fitdir/recipe"
    echo "fetch-payloads: $(basename "$bb"), mkimage $(mkimage -V | sed 's/.* //') -> $fit" >&2
fi

echo "$kernel"
echo "$dtb"
echo "$fit"
