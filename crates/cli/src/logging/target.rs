//! Where log records go. A boot-time tool's logs belong where the system keeps logs: the journal
//! when it runs, the kernel log (/dev/kmsg) in an initramfs without one, otherwise stderr. The
//! choice is a pure function of an [`Environment`] so tests need not depend on the real system.

use std::fs;
use std::io::{IsTerminal, Read};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsFd;
use std::path::Path;

/// Overrides the automatic choice: `auto`, `stderr`, `journal` or `kmsg`.
pub const TARGET_VAR: &str = "LASTGASP_LOG_TARGET";
const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";
/// systemd's marker of an initramfs (os-release(5)); busybox initramfs images lack it.
const INITRD_RELEASE: &str = "/etc/initrd-release";
const MOUNTINFO: &str = "/proc/self/mountinfo";
/// An initramfs has a handful of mounts.
const MAX_MOUNTINFO: u64 = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Stderr,
    Journal,
    Kmsg,
}

/// What the choice depends on, as probed from the running system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// The value of `LASTGASP_LOG_TARGET`.
    pub requested: Option<String>,
    /// `JOURNAL_STREAM`: `<device>:<inode>` of the stream systemd connected stdout/stderr to.
    pub journal_stream: Option<String>,
    /// Device and inode of our stderr.
    pub stderr_id: Option<(u64, u64)>,
    pub stderr_is_terminal: bool,
    pub journal_socket: bool,
    /// Started by PID 1: the initramfs' /init script, or the init system itself.
    pub parent_is_init: bool,
    pub in_initramfs: bool,
}

impl Environment {
    pub fn probe() -> Self {
        let stderr = std::io::stderr();
        let stderr_id = stderr
            .as_fd()
            .try_clone_to_owned()
            .map(fs::File::from)
            .and_then(|file| file.metadata())
            .ok()
            .map(|meta| (meta.dev(), meta.ino()));
        let journal_socket = Path::new(JOURNAL_SOCKET).exists();
        let parent_is_init = std::os::unix::process::parent_id() == 1;
        Self {
            requested: std::env::var(TARGET_VAR).ok(),
            journal_stream: std::env::var("JOURNAL_STREAM").ok(),
            stderr_id,
            stderr_is_terminal: stderr.is_terminal(),
            journal_socket,
            parent_is_init,
            // Only looked at when it can matter: mountinfo is long on a busy host.
            in_initramfs: parent_is_init && !journal_socket && in_initramfs(),
        }
    }
}

fn in_initramfs() -> bool {
    if Path::new(INITRD_RELEASE).exists() {
        return true;
    }
    let mut text = String::new();
    let read = fs::File::open(MOUNTINFO)
        .and_then(|file| file.take(MAX_MOUNTINFO).read_to_string(&mut text));
    // So many mounts that the file is cut off is no initramfs, and the cut may hide the real
    // root mounted over rootfs.
    matches!(read, Ok(n) if (n as u64) < MAX_MOUNTINFO) && root_is_rootfs(&text)
}

/// The target, and a complaint about an unusable `LASTGASP_LOG_TARGET` to log once logging runs.
pub fn choose(env: &Environment) -> (Target, Option<String>) {
    match env.requested.as_deref().map(str::trim) {
        Some("stderr") => return (Target::Stderr, None),
        Some("journal") => return (Target::Journal, None),
        Some("kmsg") => return (Target::Kmsg, None),
        None | Some("auto" | "") => {}
        Some(other) => {
            let complaint = format!(
                "{TARGET_VAR}={other:?} is not one of auto, stderr, journal, kmsg; choosing automatically"
            );
            return (automatic(env), Some(complaint));
        }
    }
    (automatic(env), None)
}

fn automatic(env: &Environment) -> Target {
    // A service's stderr already is the journal; native records keep their priority. The check
    // against stderr's identity is systemd's: a child whose stderr was redirected inherits the
    // variable but not the stream.
    if env.journal_stream.as_deref().and_then(parse_stream_id) == env.stderr_id
        && env.stderr_id.is_some()
    {
        return Target::Journal;
    }
    // An initramfs /init usually hands us the console, a terminal, but what is printed there is
    // gone after the switch to the real root; the kernel log is kept and read by journald later.
    if env.parent_is_init && env.in_initramfs && !env.journal_socket {
        return Target::Kmsg;
    }
    // Someone is watching.
    if env.stderr_is_terminal {
        return Target::Stderr;
    }
    if env.journal_socket {
        return Target::Journal;
    }
    Target::Stderr
}

/// `JOURNAL_STREAM`'s `<device>:<inode>`, both decimal.
fn parse_stream_id(value: &str) -> Option<(u64, u64)> {
    let (device, inode) = value.trim().split_once(':')?;
    Some((device.parse().ok()?, inode.parse().ok()?))
}

/// Whether `/` is the kernel's initial rootfs, as in an initramfs before the switch to the real
/// root. The last mount on `/` is the visible one.
pub fn root_is_rootfs(mountinfo: &str) -> bool {
    let root_type = mountinfo
        .lines()
        .filter_map(|line| {
            // "<id> <parent> <maj:min> <root> <mount point> <options> [optional...] - <type> ..."
            let mount_point = line.split(' ').nth(4)?;
            let (_, after) = line.split_once(" - ")?;
            let fs_type = after.split(' ').next()?;
            (mount_point == "/").then_some(fs_type)
        })
        .next_back();
    matches!(root_type, Some("rootfs" | "ramfs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Environment {
        Environment {
            journal_stream: Some("8:12345".to_string()),
            stderr_id: Some((8, 12345)),
            journal_socket: true,
            parent_is_init: true,
            ..Environment::default()
        }
    }

    fn busybox_initramfs() -> Environment {
        Environment {
            stderr_is_terminal: true,
            parent_is_init: true,
            in_initramfs: true,
            ..Environment::default()
        }
    }

    fn target(env: &Environment) -> Target {
        let (target, complaint) = choose(env);
        assert_eq!(complaint, None);
        target
    }

    #[test]
    fn a_service_logs_to_the_journal() {
        assert_eq!(target(&service()), Target::Journal);
    }

    #[test]
    fn an_inherited_journal_stream_that_is_not_stderr_does_not_count() {
        let env = Environment {
            stderr_id: Some((8, 999)),
            stderr_is_terminal: true,
            ..service()
        };
        assert_eq!(target(&env), Target::Stderr);
        let garbled = Environment {
            journal_stream: Some("eight:12345".to_string()),
            journal_socket: false,
            ..service()
        };
        assert_eq!(target(&garbled), Target::Stderr);
        let unknown_stderr = Environment {
            journal_stream: Some("8:12345".to_string()),
            ..Environment::default()
        };
        assert_eq!(target(&unknown_stderr), Target::Stderr);
    }

    #[test]
    fn journal_socket_without_a_terminal_means_journal() {
        let env = Environment {
            journal_socket: true,
            ..Environment::default()
        };
        assert_eq!(target(&env), Target::Journal);
    }

    #[test]
    fn a_terminal_wins_over_the_journal_socket() {
        let env = Environment {
            journal_socket: true,
            stderr_is_terminal: true,
            ..Environment::default()
        };
        assert_eq!(target(&env), Target::Stderr);
    }

    #[test]
    fn initramfs_without_journal_logs_to_kmsg_even_on_the_console() {
        assert_eq!(target(&busybox_initramfs()), Target::Kmsg);
        let not_started_by_init = Environment {
            parent_is_init: false,
            ..busybox_initramfs()
        };
        assert_eq!(target(&not_started_by_init), Target::Stderr);
        let systemd_initrd = Environment {
            journal_socket: true,
            ..busybox_initramfs()
        };
        assert_eq!(target(&systemd_initrd), Target::Stderr);
        let real_root = Environment {
            in_initramfs: false,
            stderr_is_terminal: false,
            ..busybox_initramfs()
        };
        assert_eq!(target(&real_root), Target::Stderr);
    }

    #[test]
    fn the_variable_overrides_the_choice() {
        for (value, expected) in [
            ("stderr", Target::Stderr),
            ("journal", Target::Journal),
            ("kmsg", Target::Kmsg),
            (" kmsg\n", Target::Kmsg),
        ] {
            let env = Environment {
                requested: Some(value.to_string()),
                ..service()
            };
            assert_eq!(target(&env), expected, "{value:?}");
        }
        let auto = Environment {
            requested: Some("auto".to_string()),
            ..busybox_initramfs()
        };
        assert_eq!(target(&auto), Target::Kmsg);
    }

    #[test]
    fn an_unknown_value_chooses_automatically_and_says_so() {
        let env = Environment {
            requested: Some("syslog".to_string()),
            ..service()
        };
        let (target, complaint) = choose(&env);
        assert_eq!(target, Target::Journal);
        let complaint = complaint.unwrap();
        assert!(
            complaint.contains("LASTGASP_LOG_TARGET=\"syslog\""),
            "{complaint}"
        );
    }

    #[test]
    fn rootfs_is_recognised_from_mountinfo() {
        let initramfs = "1 1 0:2 / / rw - rootfs rootfs rw,size=1010236k,nr_inodes=252559\n\
                         18 1 0:17 / /proc rw,relatime - proc proc rw\n";
        assert!(root_is_rootfs(initramfs));
        let booted = "1 1 0:2 / / rw - rootfs rootfs rw\n\
                      25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n\
                      26 25 0:22 / /proc rw shared:12 - proc proc rw\n";
        assert!(!root_is_rootfs(booted));
        let container = "412 380 0:56 / / rw,relatime master:1 - overlay overlay rw\n";
        assert!(!root_is_rootfs(container));
        assert!(!root_is_rootfs(""));
        assert!(!root_is_rootfs("garbage\n - \n1 2 3\n"));
    }

    #[test]
    fn stream_ids_parse() {
        assert_eq!(parse_stream_id("8:12345"), Some((8, 12345)));
        assert_eq!(parse_stream_id("8:"), None);
        assert_eq!(parse_stream_id("12345"), None);
    }
}
