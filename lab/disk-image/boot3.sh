# Boot 3: the selftest's canary survived the reboot; then a real crash. setup's sysctl drop-in
# (kernel.panic) makes the panic reboot the machine. Sourced by run.sh.
record selftest lastgasp selftest --json
record sysctl sysctl kernel.panic kernel.panic_on_oops
finish crash
