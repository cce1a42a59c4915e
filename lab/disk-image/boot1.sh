# Boot 1 of a disk-image scenario: install the package, arm the machine with `lastgasp setup`
# (everything automatic), and reboot into what setup wrote. Sourced by run.sh.
record before snapshot
need install dpkg -i "$LAB"/lastgasp_*.deb
need setup lastgasp setup
record setup-json cat /var/lib/lastgasp/setup.json
finish reboot
