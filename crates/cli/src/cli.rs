//! The command line: every command, option and help text, as clap derive types. No behaviour
//! lives here; `main` hands the parsed values to `commands`, and the man pages are rendered
//! from the same definition.

// The doc comments below are clap's help text, written for a terminal, not rustdoc markup.
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

const ABOUT: &str =
    "Collect the last words of a crashed Linux kernel into small, private crash reports";

const LONG_ABOUT: &str = "\
lastgasp collects what a crashed Linux kernel left in pstore (ramoops, UEFI variables, ACPI ERST,
pstore/blk) at the next boot, turns it into a report with a stable crash signature under
/var/lib/lastgasp/reports, and frees the backend for the next crash.

Configuration: /usr/lib/lastgasp/lastgasp.toml < /etc/lastgasp/lastgasp.toml < drop-ins
{/usr/lib,/run,/etc}/lastgasp/lastgasp.toml.d/*.toml (documented in docs/configuration.md).";

/// The top-level examples; the man page puts them in its own EXAMPLES section.
pub const EXAMPLES: &str = "\
Examples:
  lastgasp save                 collect pstore records into reports (run at boot)
  lastgasp list                 what crashed, when, with which signature
  lastgasp show 2026            the report whose id starts with 2026
  lastgasp analyze serial.log   analyse any kernel log text
  lastgasp config               the effective configuration and where each value comes from";

const EXIT_STATUS: &str =
    "Exit status: 0 success (also when there is nothing to collect), 1 failure, 2 usage error.";

#[derive(Debug, Parser)]
#[command(
    name = "lastgasp",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = format!("{EXAMPLES}\n\n{EXIT_STATUS}"),
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Resolve every system path (/sys/fs/pstore, /var/lib, /etc, /usr/lib, /run) under DIR
    #[arg(long, global = true, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Read pstore records from DIR instead of <root>/sys/fs/pstore or [pstore] dir
    #[arg(long, global = true, value_name = "DIR")]
    pub pstore_dir: Option<PathBuf>,
    /// Keep reports in DIR instead of <root>/var/lib/lastgasp/reports or [reports] dir
    #[arg(long, global = true, value_name = "DIR")]
    pub reports_dir: Option<PathBuf>,
    /// Read only this configuration file instead of the standard locations and drop-ins
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More log output (-v info, -vv debug, -vvv trace); see LASTGASP_LOG_TARGET for where it goes
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Log only errors, and print no progress lines on stdout
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Load(LoadArgs),
    Save(SaveArgs),
    List(ListArgs),
    Show(ShowArgs),
    Export(ExportArgs),
    Analyze(AnalyzeArgs),
    Config(ConfigArgs),
    Capture(CaptureArgs),
    Dmesg(DmesgArgs),
    Initramfs(InitramfsArgs),
    Estimate(EstimateArgs),
    Status(StatusArgs),
    Selftest(SelftestArgs),
    Setup(SetupArgs),
    Unsetup(UnsetupArgs),
    Submit(SubmitArgs),
}

/// Send saved reports, scrubbed, to the configured server, Sentry project or directory
#[derive(Debug, Args)]
#[command(
    long_about = "\
Send the saved reports to where [submit] says: a lastgasp-server (POST /api/v1/reports with the
upload token), a Sentry project (an envelope whose event is fingerprinted by the crash
signature, the report attached) or a directory (one <id>.tar.zst per report). Nothing is sent
unless [submit] enabled = true, set by the admin or a vendor drop-in; until then this command
says how to turn it on and sends nothing, and --dry-run, once a target is set, shows what would
go.

Each report not queued yet is first scrubbed: this machine's host names, machine id, boot ids and
DMI serials, user names in /home and /Users paths, MAC, IPv4 and IPv6 addresses, UUIDs, serial
numbers and the [submit] scrub_patterns become <hostname>, <user>, <mac>, ... The signature and
the analysis stay as computed before. The scrubbed archive (what `lastgasp export` makes, memory
dumps left out) waits in /var/lib/lastgasp/submit until it is sent; a report, keyed by its id,
is sent once: a retry never makes a second copy, and a report once sent or refused for good is
never sent again. A server that answers 429 or 5xx, or does not answer, is tried again later:
after 30-60 s, then twice as long each time up to a day (with jitter), and never before its
Retry-After; 413 and other 4xx give the report up, with the server's reason. At most
[submit] max_reports_per_day reports and max_bytes_per_day bytes go in any 24 hours.
lastgasp-submit.timer runs this hourly once the network is up.

The sending is done by lastgasp-submit (/usr/lib/lastgasp/lastgasp-submit), which carries TLS
(rustls; the system's roots plus [submit] ca_file) so that this program, which also runs in the
capture kernel, does not. Exits 1 when a report was given up or the credentials were refused.",
    after_help = "\
Examples:
  lastgasp submit --dry-run          every file that would leave, scrubbed, and its size
  lastgasp submit                    queue new reports and send what is due
  lastgasp submit --now --json       send the queue now, past its backoff; JSON result
  lastgasp status                    the queue: pending, sent, next attempt"
)]
pub struct SubmitArgs {
    /// Show exactly what would be sent, file by file; queue and send nothing (works while off)
    #[arg(long)]
    pub dry_run: bool,
    /// Send queued reports now instead of waiting out their backoff (a Retry-After still holds)
    #[arg(long)]
    pub now: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

/// Arm what setup chose: the pstore backend and/or the kdump capture kernel
#[derive(Debug, Args)]
#[command(
    long_about = "\
Arm what `lastgasp setup` chose (/var/lib/lastgasp/setup.json), for this boot: the pstore
backend's module loaded with setup's parameters (ramoops with its reserved region, efi_pstore,
pstore_blk on its partition; ERST is built in and only checked), then
/sys/module/pstore/parameters/backend read back to say which backend pstore holds, or exactly
why none (another backend such as erst registered first, no UEFI, the module is missing, the
region is not reserved in this boot); and the kdump capture kernel when the mode wants it. Mode
pstore falls back to kdump when pstore cannot be armed and crashkernel= reserved memory.
--pstore or --kdump restrict it to one half. Without setup.json, `load --kdump` loads the
capture kernel as below, and a plain `load` says to run `lastgasp setup`.

The capture kernel is loaded with kexec_file_load into the memory reserved by crashkernel=, so
that a panic boots it and `lastgasp capture` saves the crashed kernel's log. The kernel is
[kdump] kernel, else the running one (/usr/lib/modules/<release>/vmlinuz, else
/boot/vmlinuz-<release>); the initramfs is [kdump] initrd, else the one `lastgasp initramfs`
makes (/var/lib/lastgasp/initramfs-<release>.img). The command line is the running kernel's
without the parameters a capture kernel must not get (crashkernel=, huge pages, quiet, ...), plus
nr_cpus=1 reset_devices panic=10 (and irqpoll on x86) and [kdump] cmdline_append; docs/kdump.md
lists them and why. Before loading it checks the reservation, kernel.kexec_load_disabled and the
image format, and every failure is one line with the fix. --unload takes it out again.

At boot (--boot, what lastgasp-load.service and lastgasp-kdump.service run) it also keeps the
crash-loop guard's record, /var/lib/lastgasp/boots.json: this boot as started, and at shutdown
(--shutdown, the ExecStop of lastgasp-load.service) as ended cleanly. When the last
[load] crash_loop_boots boots (3) all ended without a clean shutdown, it arms pstore only, no
capture kernel, and says so here and in the journal. lastgasp-load.service arms the pstore half
early; lastgasp-kdump.service runs `load --boot --kdump` later for the capture kernel.",
    after_help = "\
Examples:
  lastgasp load                          arm what setup chose, now
  lastgasp load --dry-run                what would be armed, with the module parameters
  lastgasp load --boot                   what lastgasp-load.service runs early in boot
  lastgasp load --boot --kdump           what lastgasp-kdump.service runs later
  lastgasp load --shutdown               record a clean shutdown (the unit's ExecStop)
  lastgasp load --kdump                  load the capture kernel, with or without setup
  lastgasp load --kdump --dry-run        show kernel, initramfs and command line; load nothing
  lastgasp load --unload                 unload the capture kernel"
)]
pub struct LoadArgs {
    /// Arm only the pstore backend setup chose
    #[arg(long, conflicts_with_all = ["kdump", "unload", "shutdown"])]
    pub pstore: bool,
    /// Load only the capture kernel for kdump (kexec_file_load with KEXEC_FILE_ON_CRASH)
    #[arg(long)]
    pub kdump: bool,
    /// Unload the capture kernel (KEXEC_FILE_UNLOAD | KEXEC_FILE_ON_CRASH)
    #[arg(long, conflicts_with_all = ["kdump", "boot", "shutdown"])]
    pub unload: bool,
    /// At boot: record this boot for the crash-loop guard, and arm as setup.json and the guard say
    #[arg(long, conflicts_with = "shutdown")]
    pub boot: bool,
    /// At shutdown: record that this boot ended cleanly
    #[arg(long, conflicts_with_all = ["kdump", "dry_run"])]
    pub shutdown: bool,
    /// Print what would be armed and check it, without arming or recording anything
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

/// Say how much memory crashkernel= must reserve on this machine, and how that was worked out
#[derive(Debug, Args)]
#[command(
    long_about = "\
Say how much memory crashkernel= must reserve for a full kdump capture on this machine, and how
the number was reached. It adds up what is in the reservation while the capture kernel runs: the
capture kernel as its image says it spreads out in memory (a bzImage's init_size), the capture
initramfs twice (packed, as kexec loads it, and unpacked into the rootfs), the peak memory of
`lastgasp capture` measured in the lab (11.8 MiB) with page bitmaps that grow with this machine's
memory, the capture kernel's runtime allocations, its struct pages, and one 8 MiB step of margin;
then it rounds up to 8 MiB and never goes below the smallest reservation that captured in the lab
for that kernel series (96M on 6.1, 80M on 6.12; docs/kdump.md). The kernel and initramfs are
those `lastgasp load --kdump` would load; before `lastgasp initramfs` has run, the initramfs is
assumed from this program's size. `lastgasp setup` writes the same value.",
    after_help = "\
Examples:
  lastgasp estimate                 crashkernel=104M, then one line per part
  lastgasp estimate --json | jq -r .crashkernel"
)]
pub struct EstimateArgs {
    /// Print the estimate and its parts as JSON
    #[arg(long)]
    pub json: bool,
}

/// Collect pstore records into reports, then remove them from pstore
#[derive(Debug, Args)]
#[command(
    long_about = "\
Collect pstore records into reports, then remove them from pstore.

Reads the records in /sys/fs/pstore and in systemd-pstore's archive (/var/lib/systemd/pstore),
groups them into crashes, reassembles each crash's kernel log, analyses it and writes one report
per crash under /var/lib/lastgasp/reports. Only after a report is durably on disk are its records
deleted from /sys/fs/pstore, which frees the backend's slot for the next crash. systemd's archive
is never modified; reports are named after their records' content, so records seen again are
recognised and not saved twice. Each report also carries context read now, after the crash, as
[collect] asks: the OS release, the crashed kernel's package, DMI product and BIOS version, the
pstore set-up and, when configured, the crashed boot's journal tail; what cannot be read is
recorded as missing, with the reason. Prints one line per report; exits 0 when there is nothing
to collect.",
    after_help = "\
Examples:
  lastgasp save                       what the boot-time service runs
  lastgasp save --keep --json         collect, leave the records in pstore, print JSON
  lastgasp --root /mnt/sysroot save   collect from a system mounted at /mnt/sysroot"
)]
pub struct SaveArgs {
    /// Leave the records in pstore (also: [pstore] keep = true)
    #[arg(long)]
    pub keep: bool,
    /// Print what was saved as JSON
    #[arg(long)]
    pub json: bool,
}

/// List the saved reports, oldest first
#[derive(Debug, Args)]
#[command(
    long_about = "\
List the saved reports, oldest first: id, crash time, pstore backend, crash class, signature and
whether the report is partial (parts missing, truncated or undecodable records).

--verify also checks every report's integrity as `show` does: report.json parses and names its
directory, and every file it lists has the recorded size and SHA-256. A report that fails is
listed as corrupt with its first problem, and list exits nonzero naming every such report.",
    after_help = "\
Examples:
  lastgasp list
  lastgasp list --json | jq -r '.[].signature'
  lastgasp list --verify          exit status 1 when any report is damaged
  lastgasp list --verify --json   each report's integrity problems in \"integrity\""
)]
pub struct ListArgs {
    /// Print the list as a JSON array
    #[arg(long)]
    pub json: bool,
    /// Re-hash every report's files against its manifest; exit nonzero naming damaged reports
    #[arg(long)]
    pub verify: bool,
}

/// Show one report: the analysis, the facts, the end of the log
#[derive(Debug, Args)]
#[command(
    long_about = "\
Show one report: the crash analysis first (class, signature, panic message, faulting function,
call trace), then the report's facts (times, backend, records, files, integrity) and the last
lines of the kernel log. ID may be any unique prefix of a report id.",
    after_help = "\
Examples:
  lastgasp show 20261126T031729Z-3f2a9c1b7d40
  lastgasp show 2026 --lines 60
  lastgasp show 2026 --json          the report.json manifest"
)]
pub struct ShowArgs {
    /// Report id, or a unique prefix of one
    #[arg(value_name = "ID")]
    pub id: String,
    /// How many lines of the end of the log to print (0: none)
    #[arg(long, value_name = "N", default_value_t = 25)]
    pub lines: usize,
    /// Print report.json instead
    #[arg(long)]
    pub json: bool,
}

/// Write one report as a .tar.gz or .tar.zst archive
#[derive(Debug, Args)]
#[command(
    long_about = "\
Write one report as an archive to share with whoever debugs the crash. The archive holds the
report directory (<id>/report.json, <id>/dmesg.txt, ...); the format follows the file name:
.tar.gz or .tgz, .tar.zst or .tzst, or plain .tar. An existing file is only replaced with --force.
A kdump report's memory dump (vmcore.kdump) stays out unless --with-dump is given: it holds all
of the machine's kernel memory, the log does not.",
    after_help = "\
Examples:
  lastgasp export 2026 -o crash.tar.gz
  lastgasp export 20261126T031729Z-3f2a -o /tmp/crash.tar.zst --force"
)]
pub struct ExportArgs {
    /// Report id, or a unique prefix of one
    #[arg(value_name = "ID")]
    pub id: String,
    /// Archive to write
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace FILE if it exists
    #[arg(long)]
    pub force: bool,
    /// Include the memory dump of a kdump report
    #[arg(long)]
    pub with_dump: bool,
}

/// Analyse kernel log text from a file or stdin
#[derive(Debug, Args)]
#[command(
    long_about = "\
Analyse kernel log text: a pstore dmesg record, a serial console log, `journalctl -k` or `dmesg`
output. Prints what crashed, where, and the crash signature; nothing is saved.",
    after_help = "\
Examples:
  lastgasp analyze /sys/fs/pstore/dmesg-ramoops-0
  journalctl -k -b -1 | lastgasp analyze -
  lastgasp analyze --json serial.log"
)]
pub struct AnalyzeArgs {
    /// Log file to read, or - for standard input
    #[arg(value_name = "FILE|-")]
    pub input: PathBuf,
    /// Print the analysis as JSON
    #[arg(long)]
    pub json: bool,
}

/// Print the effective configuration and where each value comes from
#[derive(Debug, Args)]
#[command(
    long_about = "\
Print the effective configuration after merging every file (and --pstore-dir / --reports-dir),
as TOML with a comment after each key naming the file that set it, or \"default\". Paths are
shown as used, that is under --root.",
    after_help = "\
Examples:
  lastgasp config
  lastgasp config --json
  lastgasp --root /mnt/sysroot config"
)]
pub struct ConfigArgs {
    /// Print values, origins and the files read as JSON
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_an_example() {
        let cli = Cli::command();
        for sub in cli.get_subcommands() {
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            // The man pages turn this block into their EXAMPLES section.
            assert!(
                help.starts_with("Examples:\n  lastgasp "),
                "{} lacks an example",
                sub.get_name()
            );
            assert!(
                sub.get_long_about().is_some(),
                "{} lacks a long help",
                sub.get_name()
            );
        }
    }
}

/// In the capture kernel: save the crashed kernel's log (and a dump) from /proc/vmcore
#[derive(Debug, Args)]
#[command(
    long_about = "\
Save what the crashed kernel left in memory, from the capture kernel that kdump booted. Reads
/proc/vmcore, pulls the kernel log out of the printk ring buffer (guided by the crashed kernel's
own VMCOREINFO, no debug symbols needed), and writes dmesg.txt and capture.json to a directory
named after the crash under [kdump] dir on the [kdump] target filesystem (found by UUID or LABEL
and mounted). The log is written and synced first; then, unless --dmesg-only or [kdump]
dump = false, a filtered, compressed dump in the kdump-compressed format (vmcore.kdump, what
makedumpfile writes; crash and drgn open it), with progress on the console. Finally it syncs and
reboots, whatever happened, so the machine comes back and `lastgasp save` makes the report.

With --vmcore FILE it works offline on a saved vmcore (ELF or kdump-compressed), writes to --out
DIR and never reboots.",
    after_help = "\
Examples:
  lastgasp capture                                   what the capture initramfs runs
  lastgasp capture --vmcore vmcore --out /tmp/cap    offline, on a saved vmcore
  lastgasp capture --vmcore vmcore --out cap --dump-level 1 --compression zlib"
)]
pub struct CaptureArgs {
    /// Read this vmcore instead of /proc/vmcore; implies --no-reboot
    #[arg(long, value_name = "FILE", requires = "out")]
    pub vmcore: Option<PathBuf>,
    /// Write the capture directory under DIR instead of the configured target
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Save only the kernel log, no dump
    #[arg(long)]
    pub dmesg_only: bool,
    /// makedumpfile's dump level, 0-31 (default: [kdump] dump_level, 31)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=31))]
    pub dump_level: Option<u8>,
    /// zstd, zlib, lzo or none (default: [kdump] compression, zstd)
    #[arg(long, value_name = "NAME", value_parser = ["zstd", "zlib", "lzo", "none"])]
    pub compression: Option<String>,
    /// Do not reboot when done
    #[arg(long)]
    pub no_reboot: bool,
    /// Print what was written as JSON
    #[arg(long)]
    pub json: bool,
}

/// Make a minimal capture initramfs: lastgasp as /init, and only the modules to reach the target
#[derive(Debug, Args)]
#[command(
    long_about = "\
Make the initramfs the kdump capture kernel boots: its /init is this lastgasp binary (the static
build: no shell, no busybox, no systemd), /etc/lastgasp/lastgasp.toml holds the capture
settings ([kdump] target, dir, dump, dump_level, compression), and the only kernel modules are
those that reach the capture target: the drivers of its device and of every controller above it
(from their sysfs modalias files and bound drivers, resolved through the kernel's modules.alias
and modules.dep, dependencies first) and its filesystem's. Built-in modules need nothing.
Compressed modules (.ko.xz, .ko.zst, .ko.gz) stay compressed when the kernel's config has
CONFIG_MODULE_DECOMPRESS for that method, and are decompressed here otherwise.

The target is --target, else [kdump] target, else the filesystem that holds [kdump] dir; the image
always names it by UUID when it has one. Writes /var/lib/lastgasp/initramfs-<release>.img, where
`lastgasp load --kdump` looks for it, and prints its size and modules.",
    after_help = "\
Examples:
  lastgasp initramfs                              for the running kernel and configured target
  lastgasp initramfs --kernel-version 6.12.48+deb13-amd64 --target LABEL=dumps
  lastgasp initramfs -o /tmp/capture.img --dir /var/crash --json
  lastgasp initramfs --print-modules              what dracut's and mkinitcpio's hooks add"
)]
pub struct InitramfsArgs {
    /// Image to write (default: /var/lib/lastgasp/initramfs-<release>.img)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Kernel release whose modules to use (default: the running kernel's)
    #[arg(long, value_name = "VER")]
    pub kernel_version: Option<String>,
    /// Filesystem to write captures to: UUID=..., LABEL=... or a device (default: [kdump] target)
    #[arg(long, value_name = "SPEC")]
    pub target: Option<String>,
    /// Capture directory as the running system sees it (default: [kdump] dir)
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// The kernel's module directory (default: <root>/lib/modules/<release> or /usr/lib/modules)
    #[arg(long, value_name = "DIR")]
    pub modules_dir: Option<PathBuf>,
    /// Static lastgasp executable to use as /init (default: this program)
    #[arg(long, value_name = "FILE")]
    pub binary: Option<PathBuf>,
    /// Write no image: print the capture configuration it would carry (for dracut and mkinitcpio)
    #[arg(long, conflicts_with_all = ["print_modules", "output", "json"])]
    pub print_config: bool,
    /// Write no image: print the modules it would load, one name a line, in load order
    #[arg(long, conflicts_with_all = ["output", "json"])]
    pub print_modules: bool,
    /// Write the cpio archive without gzip
    #[arg(long)]
    pub uncompressed: bool,
    /// Print what was written as JSON
    #[arg(long)]
    pub json: bool,
}

/// Print the kernel log of a vmcore (ELF, kdump-compressed, QEMU dump-guest-memory)
#[derive(Debug, Args)]
#[command(
    long_about = "\
Print the kernel log that a vmcore holds: /proc/vmcore, a copy of it, a kdump-compressed file
(makedumpfile's or lastgasp's vmcore.kdump), or QEMU dump-guest-memory output in ELF or
kdump-compressed form, of an x86_64 or aarch64 kernel. The log is read from the printk ring
buffer through the kernel's VMCOREINFO, so no debug symbols are needed. The text is what
`makedumpfile --dump-dmesg` writes. When part of the ring buffer cannot be read, the records that
can are printed and the command says what is missing.",
    after_help = "\
Examples:
  lastgasp dmesg /proc/vmcore
  lastgasp dmesg vmcore.kdump | lastgasp analyze -
  lastgasp dmesg guest-memory.elf --json"
)]
pub struct DmesgArgs {
    /// The vmcore to read
    #[arg(value_name = "VMCORE")]
    pub vmcore: PathBuf,
    /// Print the records and what is known of the dump as JSON
    #[arg(long)]
    pub json: bool,
}

/// Say what is armed, what is not and why, with the fix for each problem
#[derive(Debug, Args)]
#[command(
    long_about = "\
Say on one screen whether this machine is armed to keep a crash's log, and what is wrong when
it is not: the mode setup chose (/var/lib/lastgasp/setup.json); the pstore backend registered
(/sys/module/pstore/parameters/backend) and, for ramoops, its region (module parameters, and the
/proc/iomem line that must keep it out of the kernel's hands); records waiting in pstore and
kdump captures waiting to be saved; the crash kernel reservation (/sys/kernel/kexec_crash_size)
against what `lastgasp estimate` says this machine needs, and whether the capture kernel is
loaded; each sysctl setup wants against the value in effect; whether the running kernel's
command line holds every parameter setup wrote; the crash-loop guard; the newest report; the
last selftest's result; then each problem, one line each, with its fix.

\"armed\" means a crash now would be kept: what setup asked for is in effect. A sysctl that
differs, or a selftest never run, is a warning, not a reason to say unarmed.",
    after_help = "\
Examples:
  lastgasp status                  the one screen
  lastgasp status --json | jq .armed
  lastgasp status || echo 'not armed'

Exit status: 0 armed, 3 not armed (the problems say why), 1 when the state cannot be read."
)]
pub struct StatusArgs {
    /// Print the whole status as JSON
    #[arg(long)]
    pub json: bool,
}

/// Check that the armed pstore backend keeps a record across a reboot, without a crash
#[derive(Debug, Args)]
#[command(
    long_about = "\
Check that a record written through the armed pstore backend survives a reboot, without
crashing the machine. It writes a canary and records the selftest as pending in
/var/lib/lastgasp/selftest.json (its id, the backend, this boot's id, the time); then reboot. At
the next boot `lastgasp save` (lastgasp-save.service) recognises the canary, makes no crash
report of it, removes it from pstore and marks the selftest passed (\"survives a reboot\"); when
the boot changed and no canary came back, it marks the selftest failed with the likely reason.
Run `lastgasp selftest` again after the reboot to see the result (`lastgasp status` shows it too).

The canary, per backend: efi: a UEFI variable in efi-pstore's own format (dump-type0-...,
vendor GUID cfc8fc79-be2e-4ddc-97f0-9f98bfe298a0), read back by efi-pstore at boot; a full
variable store is reported as such. ramoops: a pmsg record when the kernel has /dev/pmsg0;
otherwise the canary line goes into the kernel log and ramoops is reloaded with
max_reason=4 (KMSG_DUMP_SHUTDOWN), so the kernel itself writes its log through ramoops at the
reboot. erst: printk.always_kmsg_dump switched on, so the kernel dumps its log through ERST
(which sets no max_reason of its own) at the reboot. blk: a pmsg record when the kernel has
pmsg; otherwise only --crash tests it (at a reboot the kernel dumps its log after the disk is
shut down).

--crash does the real thing: it records the selftest, logs the canary, syncs and crashes the
kernel with SysRq 'c', after asking for confirmation on the terminal (--yes skips it).",
    after_help = "\
Examples:
  lastgasp selftest                write the canary (then reboot); after the reboot: the result
  lastgasp selftest --json
  lastgasp selftest --again        start a new selftest even though a result is there
  lastgasp selftest --crash        crash the machine for real, after asking
  lastgasp selftest --crash --yes  no question (for scripts)

Exit status: 0 when a selftest was started or passed, 1 when it failed or on error."
)]
pub struct SelftestArgs {
    /// Start a new selftest even when the last one's result has not been looked at
    #[arg(long)]
    pub again: bool,
    /// Crash the kernel for real (SysRq 'c') instead of writing a canary
    #[arg(long)]
    pub crash: bool,
    /// With --crash: do not ask for confirmation
    #[arg(long, requires = "crash")]
    pub yes: bool,
    /// Print the selftest as JSON
    #[arg(long)]
    pub json: bool,
}

/// Arm this machine for crash collection: kernel parameters, panic sysctls, units
#[derive(Debug, Args)]
#[command(
    long_about = "\
Arm this machine for crash collection, through the boot set-up it has, in one command that
`lastgasp unsetup` undoes exactly. It chooses the mode (pstore when a backend can be armed, else
kdump) and the pstore backend (ACPI ERST, then UEFI variables when booted by UEFI, then a ramoops
region in RAM, then pstore_blk on [setup] blk_device), and writes:
  - the kernel parameters (the ramoops region as memmap= at an address chosen from /proc/iomem,
    or reserve_mem= once a selftest showed it survives here; crashkernel= from `lastgasp
    estimate`; crash_kexec_post_notifiers for mode both) through GRUB (/etc/default/grub.d/
    lastgasp.cfg on Debian, else a marked block in /etc/default/grub, then update-grub),
    systemd-boot (/etc/kernel/cmdline and each installed kernel's loader entry), or a unified
    kernel image (/etc/kernel/cmdline or /etc/cmdline.d/lastgasp.conf, then the images rebuilt);
    any other bootloader gets the parameters and the manual steps;
  - /etc/sysctl.d/90-lastgasp.conf: panic on oops, reboot timeout, panic_print, lockup panics;
  - /var/lib/lastgasp/setup.json, which `lastgasp load` arms at every boot;
and enables lastgasp-load.service and lastgasp-save.service (and lastgasp-kdump.service, with the
capture initramfs, for kdump). Every edited file's original is kept under
/var/lib/lastgasp/setup-backup/; running setup again changes only what differs.

Under --root DIR the commands that act on the running system (update-grub, kernel-install,
mkinitcpio, systemctl, sysctl) are not run: setup names them and keeps them in setup.json as
pending. [setup] in lastgasp.toml sets the defaults (docs/setup.md).",
    after_help = "\
Examples:
  lastgasp setup --dry-run                 the diff of every file and the commands, nothing written
  lastgasp setup                           auto: the best backend this machine has
  lastgasp setup --mode both --json        pstore and kdump, with crash_kexec_post_notifiers
  lastgasp setup --backend ramoops
  lastgasp --root /mnt/image setup         prepare a disk image; prints the commands to run in it"
)]
pub struct SetupArgs {
    /// pstore, kdump, both or auto (default: [setup] mode, auto)
    #[arg(long, value_name = "MODE", value_parser = ["pstore", "kdump", "both", "auto"])]
    pub mode: Option<String>,
    /// ramoops, efi, erst, blk or auto (default: [setup] backend, auto)
    #[arg(long, value_name = "NAME", value_parser = ["ramoops", "efi", "erst", "blk", "auto"])]
    pub backend: Option<String>,
    /// Print the unified diff of every file and the commands; write and run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print what was chosen and done as JSON
    #[arg(long)]
    pub json: bool,
}

/// Undo exactly what `lastgasp setup` did
#[derive(Debug, Args)]
#[command(
    long_about = "\
Undo what `lastgasp setup` did, as /var/lib/lastgasp/setup.json records it, and nothing else:
files setup created are removed; files it edited get their original back byte for byte from
/var/lib/lastgasp/setup-backup/, or, when they were edited after setup, lose only setup's block or
parameters. grub.cfg or the unified kernel images are regenerated (named, not run, under --root)
and lastgasp-kdump.service is disabled if setup enabled it. The kernel parameters leave at the
next reboot.",
    after_help = "\
Examples:
  lastgasp unsetup --dry-run     the diff of every file it would restore
  lastgasp unsetup
  lastgasp unsetup --json"
)]
pub struct UnsetupArgs {
    /// Print the unified diff of every file and the commands; write and run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print what was undone as JSON
    #[arg(long)]
    pub json: bool,
}
