#!/bin/bash
# dracut module "lastgasp": in a kdump capture kernel, `lastgasp capture` saves the crashed
# kernel's log (and a filtered dump) from /proc/vmcore to the configured target, then reboots.
# Included only on request: `dracut --add lastgasp`, or add_dracutmodules+=" lastgasp " in
# /etc/dracut.conf.d/. The capture settings and the modules that reach the target come from
# `lastgasp initramfs --print-config / --print-modules`, the same choice lastgasp's own minimal
# capture initramfs makes.

# called by dracut
check() {
    # On PATH, wherever it was installed (/usr/bin, /usr/local/bin, ...).
    if ! command -v lastgasp > /dev/null; then
        dinfo "dracut module 'lastgasp' will not be installed: no lastgasp on PATH"
        return 1
    fi
    return 255
}

# called by dracut
depends() {
    return 0
}

# called by dracut
installkernel() {
    local _modules
    _modules=$(lastgasp initramfs --kernel-version "$kernel" --modules-dir "$srcmods" --print-modules) || return 1
    # shellcheck disable=SC2086 # one module name a line, split on purpose
    [[ -z $_modules ]] || hostonly='' instmods $_modules
}

# called by dracut
install() {
    # Where the image's PATH finds it, wherever it lives here.
    inst_binary "$(command -v lastgasp)" /usr/bin/lastgasp
    inst_multiple -o sync reboot udevadm
    mkdir -p "$initdir/etc/lastgasp"
    lastgasp initramfs --kernel-version "$kernel" --modules-dir "$srcmods" --print-config \
        > "$initdir/etc/lastgasp/lastgasp.toml" || return 1
    inst_hook pre-mount 90 "$moddir/lastgasp-capture.sh"
}
