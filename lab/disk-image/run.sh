#!/bin/sh
# The lab's driver on the control disk of a disk-image run (the image's lastgasp-lab-step unit
# hands over to it at every boot): counts this boot, runs this boot's step script, whose results
# go to the control disk (out/boot<N>/<name>.txt and .rc, read by the host after QEMU exits)
# and to the serial console between markers, and ends the boot the way the step says.
LAB=$1
# The host's settings for this image: SETUP_ARGS (boot 1's `lastgasp setup` arguments) and
# KERNEL_INSTALL (non-empty: boot 1 remakes the loader entry with kernel-install after setup).
. "$LAB/scenario.env"
count=$(cat "$LAB/boot-count" 2>/dev/null || echo 0)
BOOT=$((count + 1))
echo "$BOOT" > "$LAB/boot-count"
OUT="$LAB/out/boot$BOOT"
mkdir -p "$OUT"
sync

say() {
    echo "LASTGASP-LAB: $*"
}

# record NAME COMMAND...: runs COMMAND, keeps its output and exit status as NAME on the control
# disk, prints them, and returns the status.
record() {
    name=$1
    shift
    say "begin $name: $*"
    "$@" > "$OUT/$name.txt" 2>&1
    rc=$?
    echo "$rc" > "$OUT/$name.rc"
    sync
    # Long outputs (the snapshots) stay on the control disk: the console is slow under TCG.
    lines=$(wc -l < "$OUT/$name.txt")
    head -n 60 "$OUT/$name.txt"
    [ "$lines" -le 60 ] || say "($lines lines, the rest on the control disk)"
    say "end $name: exit $rc"
    return "$rc"
}

# finish reboot|poweroff|crash: ends this boot. The host checks the ending each boot wrote.
finish() {
    echo "$1" > "$OUT/ending"
    sync
    say "end of boot $BOOT: $1"
    case $1 in
        reboot) systemctl reboot ;;
        poweroff) systemctl poweroff ;;
        crash)
            sync
            echo c > /proc/sysrq-trigger
            ;;
    esac
    exit 0
}

# need NAME COMMAND...: like record, but a failure ends the run here (the host names the step).
need() {
    record "$@" || finish poweroff
}

# snapshot: every file and link of the system's directories, and the hash of every
# configuration file, so the host can tell what a package left behind or changed.
snapshot() {
    find /etc /boot /usr /var/lib/lastgasp \( -type f -o -type l \) -print 2>/dev/null | sort
    find /etc /boot/grub /boot/efi/loader -type f -exec sha256sum {} + 2>/dev/null | sort -k 2
}

say "boot $BOOT"
if [ -f "$LAB/steps/boot$BOOT.sh" ]; then
    . "$LAB/steps/boot$BOOT.sh"
    finish poweroff
fi
say "no step for boot $BOOT"
finish poweroff
