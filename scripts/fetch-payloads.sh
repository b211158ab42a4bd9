#!/usr/bin/env bash
# Fetches the real payloads the stage is measured with, without touching
# the system's apt state: Debian's arm64 cloud kernel (an uncompressed
# arm64 Image) and the Raspberry Pi 4 device tree (from the regular arm64
# kernel package). apt runs for arm64 with private lists, cache and status
# under target/apt-arm64/; the system's sources and apt.conf.d are used
# read-only. Idempotent: when both files are there it only prints them.
#
#   bash scripts/fetch-payloads.sh
#   -> target/payloads/vmlinuz-cloud-arm64     (arm64 Image, "ARM\x64" at 0x38)
#      target/payloads/bcm2711-rpi-4-b.dtb
#
# Needs apt-get, apt-cache, dpkg-deb, gzip and the network.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$PWD/target/payloads
kernel=$out/vmlinuz-cloud-arm64
dtb=$out/bcm2711-rpi-4-b.dtb

image_magic_ok() { [ "$(od -An -c -j 56 -N 4 "$1" 2>/dev/null | tr -d ' ')" = 'ARMd' ]; }

if [ -s "$kernel" ] && [ -s "$dtb" ] && image_magic_ok "$kernel"; then
    echo "$kernel"
    echo "$dtb"
    exit 0
fi

for c in apt-get apt-cache dpkg-deb gzip; do
    command -v "$c" >/dev/null || { echo "fetch-payloads: $c is missing" >&2; exit 1; }
done

d=$PWD/target/apt-arm64
mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/debs" "$out"
: >> "$d/status"   # an empty dpkg status: nothing is "installed" for arm64
o=(
    -oAPT::Architecture=arm64 -oAPT::Architectures=arm64
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

# The lists are refreshed once a day at most: kernel ABI names change with
# point releases and the old .debs leave the mirror.
stamp=$d/lists/.updated
if [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
    echo "fetch-payloads: apt-get update (arm64, private lists in $d)" >&2
    apt-get "${o[@]}" update >&2
    touch "$stamp"
fi

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
    f=$(ls "$d/debs/${p}_${v//:/%3a}_arm64.deb" 2>/dev/null || true)
    if [ -z "$f" ]; then
        echo "fetch-payloads: apt-get download $p=$v" >&2
        (cd "$d/debs" && apt-get "${o[@]}" download "$p=$v" >&2)
        f=$(ls "$d/debs/${p}_${v//:/%3a}_arm64.deb")
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

echo "$kernel"
echo "$dtb"
