#!/bin/sh
# dracut pre-mount hook (sourced by dracut's init, before the root filesystem is mounted): in a
# kdump capture kernel the crashed kernel's memory is /proc/vmcore; save its log and dump with
# `lastgasp capture`, which mounts the [kdump] target itself, then reboot. In a normal boot there
# is no /proc/vmcore and this does nothing.

if [ -e /proc/vmcore ]; then
    info "lastgasp: /proc/vmcore present, capturing the crashed kernel's log"
    # pre-mount does not wait for devices other than the root: let udev finish loading the
    # target disk's driver and creating its node first.
    command -v udevadm > /dev/null && udevadm settle --timeout=30
    lastgasp capture || warn "lastgasp: capture failed (exit status $?)"
    # capture reboots when done; should it not have, never go on to boot the system inside the
    # capture kernel's small memory reservation.
    sync
    reboot -f
    echo b > /proc/sysrq-trigger
fi
