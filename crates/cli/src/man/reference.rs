//! The parts of `lastgasp.1` that clap knows nothing about: where the files are, which
//! environment variables count, what the exit status means. Written once here, beside the
//! definitions they describe.

use clap_mangen::roff::{Roff, bold, roman};

/// A titled section: paragraphs of running text, then tagged items (`.TP`).
pub struct Section {
    pub title: &'static str,
    pub intro: &'static [&'static str],
    pub items: &'static [(&'static str, &'static str)],
}

impl Section {
    pub fn render(&self, roff: &mut Roff) {
        roff.control("SH", [self.title]);
        for paragraph in self.intro {
            roff.control("PP", []);
            roff.text([roman(*paragraph)]);
        }
        for (tag, text) in self.items {
            roff.control("TP", []);
            roff.text([bold(*tag)]);
            roff.text([roman(*text)]);
        }
    }
}

pub fn main_page_sections() -> Vec<Section> {
    vec![
        Section {
            title: "FILES",
            intro: &["With --root DIR every path below is looked up under DIR."],
            items: &[
                (
                    "/usr/lib/lastgasp/lastgasp.toml",
                    "Vendor defaults (TOML). Unknown keys are errors naming the file and line.",
                ),
                (
                    "/etc/lastgasp/lastgasp.toml",
                    "The administrator's configuration; wins over the vendor file key by key.",
                ),
                (
                    "{/usr/lib,/run,/etc}/lastgasp/lastgasp.toml.d/*.toml",
                    "Drop-ins, applied after the main files in file-name order; a file in /etc \
                     replaces a same-named one in /run, which replaces one in /usr/lib.",
                ),
                (
                    "/sys/fs/pstore",
                    "The records the kernel kept across the reboot. save removes them only after \
                     their report is durably on disk.",
                ),
                (
                    "/var/lib/systemd/pstore",
                    "systemd-pstore's archive of records it moved out of /sys/fs/pstore; read, \
                     never modified.",
                ),
                (
                    "/var/lib/lastgasp/reports/ID/",
                    "One report per crash: report.json beside dmesg.txt and, when the crash left \
                     them, console.txt, pmsg.bin and ftrace.txt.",
                ),
            ],
        },
        Section {
            title: "ENVIRONMENT",
            intro: &[],
            items: &[
                (
                    "LASTGASP_LOG",
                    "A tracing filter directive (error, warn, info, debug, trace, or \
                     target=level lists) that replaces the level chosen by -v and -q.",
                ),
                (
                    "LASTGASP_LOG_TARGET",
                    "Where log records go: auto (the default), stderr, journal or kmsg. auto \
                     picks the journal when JOURNAL_STREAM names standard error, standard error \
                     when it is a terminal, the journal when its socket exists, /dev/kmsg when \
                     started by PID 1 in an initramfs, and standard error otherwise. Errors that \
                     end the program are always printed on standard error.",
                ),
                (
                    "JOURNAL_STREAM",
                    "Set by systemd when standard error is connected to the journal; log \
                     records are then sent to the journal with their priority.",
                ),
            ],
        },
        Section {
            title: "EXIT STATUS",
            intro: &[],
            items: &[
                (
                    "0",
                    "Success, also when there was nothing to collect, and when the reader of \
                     standard output went away.",
                ),
                (
                    "1",
                    "Failure; one line starting with \"error:\" on standard error names the \
                     cause. save leaves every record it could not save in pstore.",
                ),
                (
                    "2",
                    "A usage error: an unknown command or option, or a missing argument.",
                ),
            ],
        },
    ]
}
