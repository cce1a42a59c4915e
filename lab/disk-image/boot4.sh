# Boot 4: lastgasp-save.service collected the crash into a report and `status` shows it; then
# the package comes off, and nothing of it may remain but the reports. Sourced by run.sh.
record save-unit systemctl show --property=Result,ExecMainStatus,ConditionResult,ExecMainStartTimestampMonotonic lastgasp-save.service
record list lastgasp list --json
record status lastgasp status --json
record remove dpkg -r lastgasp
record after snapshot
finish poweroff
