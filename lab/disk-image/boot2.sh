# Boot 2: the kernel runs with the parameters setup wrote, the boot units armed the backend;
# `lastgasp selftest` writes its canary for the next boot to find. Sourced by run.sh.
record cmdline cat /proc/cmdline
record load-unit systemctl show --property=Result,ExecMainStatus,ConditionResult lastgasp-load.service
record status lastgasp status --json
need selftest lastgasp selftest --json
finish reboot
