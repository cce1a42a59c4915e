# Boot 1 of a disk-image scenario: install the package, arm the machine with `lastgasp setup`
# (with the image's SETUP_ARGS), and reboot into what setup wrote. Sourced by run.sh.
record before snapshot
need install dpkg -i "$LAB"/lastgasp_*.deb
# SETUP_ARGS is a word list (run.sh): unquoted on purpose.
need setup lastgasp setup $SETUP_ARGS
if [ -n "$KERNEL_INSTALL" ]; then
    # What Debian's kernel hook runs at a kernel upgrade: the loader entry made anew from the
    # /etc/kernel/cmdline setup edited, so boot 2 starts from kernel-install's entry.
    release=$(uname -r)
    need kernel-install kernel-install add "$release" "/boot/vmlinuz-$release"
fi
record setup-json cat /var/lib/lastgasp/setup.json
finish reboot
