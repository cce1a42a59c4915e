//! Why a capture kernel cannot be loaded, in one line with the fix: from the kernel's kexec
//! state before the call, and from the errno after it. Pure, so every message is tested.

use sys::kexec_state::{KexecState, Lockdown};

/// The reservation to suggest when there is none: enough for a distribution kernel and
/// lastgasp's initramfs with room to spare (docs/kdump.md has the measured floor).
pub const SUGGESTED_CRASHKERNEL: &str = "256M";

/// What is being loaded, for the messages.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub kernel: u64,
    pub initramfs: u64,
}

/// A capture kernel has nothing to load: checked first, since nothing else about it (no
/// reservation, no initramfs of its own) is the real reason.
pub fn not_in_capture_kernel(running_cmdline: &str) -> Result<(), String> {
    if sys::cmdline::find(running_cmdline, "elfcorehdr").is_some() {
        return Err(
            "this is a capture kernel (elfcorehdr= on its command line): a capture \
                    kernel is loaded from the system it protects, not from itself"
                .to_string(),
        );
    }
    Ok(())
}

/// A reason the load cannot work, checked before calling the kernel.
pub fn before_load(state: &KexecState, running_cmdline: &str, sizes: Sizes) -> Result<(), String> {
    if state.load_disabled == Some(true) {
        return Err(disabled());
    }
    let Some(reserved) = state.crash_size else {
        return Err(
            "this kernel has no crash kernel support (no /sys/kernel/kexec_crash_size): \
                    it needs CONFIG_CRASH_DUMP and CONFIG_KEXEC_FILE"
                .to_string(),
        );
    };
    if reserved == 0 {
        return Err(no_reservation(running_cmdline));
    }
    let needed = sizes.kernel.saturating_add(sizes.initramfs);
    if needed >= reserved {
        return Err(format!(
            "the crash reservation ({}) is smaller than the kernel ({}) and initramfs ({}) \
             together: raise crashkernel= to at least {} and reboot",
            mib(reserved),
            mib(sizes.kernel),
            mib(sizes.initramfs),
            suggest(needed)
        ));
    }
    Ok(())
}

/// Room x86 keeps in a crash kernel's command line for the `elfcorehdr=0x...` it appends
/// (MAX_ELFCOREHDR_STR_LEN in arch/x86/kernel/kexec-bzimage64.c).
const ELFCOREHDR_ROOM: usize = 30;

/// Whether a command line of `len` bytes fits a kernel whose setup header allows
/// `cmdline_size` bytes (NUL included); `None` means the image states no limit.
pub fn cmdline_fits(len: usize, cmdline_size: Option<u32>) -> Result<(), String> {
    let Some(size) = cmdline_size else {
        return Ok(());
    };
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let max = size.saturating_sub(ELFCOREHDR_ROOM + 1);
    if len <= max {
        return Ok(());
    }
    Err(format!(
        "the capture command line is {len} bytes and this kernel takes at most {max} for a \
         capture kernel ({size} less room for elfcorehdr=): drop parameters from [kdump] \
         cmdline_append or from the boot command line"
    ))
}

/// The unload is refused for the same one reason as a load.
pub fn before_unload(state: &KexecState) -> Result<(), String> {
    if state.load_disabled == Some(true) {
        return Err(disabled());
    }
    Ok(())
}

fn disabled() -> String {
    "kexec is disabled until the next boot (kernel.kexec_load_disabled = 1 cannot be undone): \
     remove the setting (grep -r kexec_load_disabled /etc/sysctl.d /usr/lib/sysctl.d) and reboot"
        .to_string()
}

fn no_reservation(running_cmdline: &str) -> String {
    let asked = sys::cmdline::find(running_cmdline, "crashkernel");
    let zero = asked
        .and_then(|param| param.split_once('='))
        .is_some_and(|(_, size)| size.trim_end_matches(['K', 'M', 'G']) == "0");
    match asked {
        Some(param) if zero => format!(
            "{param} reserves no memory for a capture kernel: set \
             crashkernel={SUGGESTED_CRASHKERNEL} on the kernel command line and reboot"
        ),
        Some(param) => format!(
            "{param} is on the kernel command line but nothing was reserved \
             (/sys/kernel/kexec_crash_size is 0): the size does not fit this machine's memory \
             or its range excludes it; see `dmesg | grep -i crashkernel` and use a plain \
             size such as crashkernel={SUGGESTED_CRASHKERNEL}"
        ),
        None => format!(
            "no memory is reserved for a capture kernel (/sys/kernel/kexec_crash_size is 0): \
             add crashkernel={SUGGESTED_CRASHKERNEL} to the kernel command line and reboot"
        ),
    }
}

/// What the failed call was asked to do, for the explanation.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub sizes: Sizes,
    pub kernel: &'a str,
    pub cmdline_len: usize,
    /// Running with effective uid 0: an EPERM then is not about privileges.
    pub as_root: bool,
}

/// One line saying why kexec_file_load failed with `errno`, and what to do.
pub fn explain_failure(errno: i32, state: &KexecState, attempt: &Attempt<'_>) -> String {
    let Attempt {
        sizes,
        kernel,
        cmdline_len,
        as_root,
    } = *attempt;
    let lockdown = state
        .lockdown
        .filter(|mode| *mode != Lockdown::None)
        .map(Lockdown::name);
    match errno {
        sys::errno::EKEYREJECTED | sys::errno::EBADMSG | sys::errno::ENOPKG => format!(
            "the kernel rejected {kernel}'s signature ({}): under Secure Boot or lockdown \
             only a kernel signed with a key it trusts loads; use the distribution's signed \
             image or set [kdump] kernel to one",
            sys::errno_name(errno).unwrap_or("signature")
        ),
        sys::errno::EPERM => match (state.load_disabled, lockdown) {
            _ if !as_root => {
                "not permitted (EPERM): run as root (kexec needs CAP_SYS_BOOT)".to_string()
            }
            (Some(true), _) => disabled(),
            (_, Some(mode)) => format!(
                "refused under kernel lockdown ({mode}, usually enabled by Secure Boot): \
                 {kernel} must carry a signature the kernel trusts; use the distribution's \
                 signed image or set [kdump] kernel to one"
            ),
            _ => "not permitted (EPERM) although running as root: a security module (SELinux, \
                  IMA) refused the image, or kernel.kexec_load_limit_panic is used up until \
                  the next boot"
                .to_string(),
        },
        sys::errno::ENOEXEC => format!(
            "the kernel does not recognise {kernel} as an image it can load (ENOEXEC): set \
             [kdump] kernel to this architecture's bzImage or Image"
        ),
        sys::errno::EADDRNOTAVAIL | sys::errno::ENOMEM => {
            let reserved = state.crash_size.unwrap_or(0);
            format!(
                "the capture kernel does not fit the crash reservation ({}, {}): the kernel \
                 ({}, several times that once decompressed) and initramfs ({}) need more; \
                 raise crashkernel= to at least {} and reboot",
                mib(reserved),
                sys::errno_name(errno).unwrap_or("no room"),
                mib(sizes.kernel),
                mib(sizes.initramfs),
                suggest(reserved.saturating_mul(2).max(256 << 20))
            )
        }
        sys::errno::EBUSY => {
            "another kexec load, or a crash, is in progress (EBUSY): try again in a \
                        moment"
                .to_string()
        }
        sys::errno::ENOSYS => "kexec_file_load is not available (ENOSYS): the kernel lacks \
                         CONFIG_KEXEC_FILE, or a container or seccomp filter blocks it"
            .to_string(),
        sys::errno::EINVAL => format!(
            "the kernel refused the arguments (EINVAL): the command line is {cmdline_len} \
             bytes (x86 and arm64 take about 2 KiB), or {kernel}'s boot protocol is too old; \
             shorten [kdump] cmdline_append or the boot command line"
        ),
        other => format!(
            "kexec_file_load failed: {}",
            sys::Error::Syscall {
                call: "kexec_file_load",
                errno: other
            }
            .to_string()
            .trim_start_matches("kexec_file_load: ")
        ),
    }
}

/// Bytes as MiB, rounded up: "17 MiB".
pub fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

/// A crashkernel= size of at least `bytes`, rounded up to 64 MiB.
fn suggest(bytes: u64) -> String {
    let mib = bytes.div_ceil(64 << 20).saturating_mul(64);
    format!("crashkernel={mib}M")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: Sizes = Sizes {
        kernel: 8 << 20,
        initramfs: 3 << 20,
    };

    fn attempt(kernel: &str, cmdline_len: usize) -> Attempt<'_> {
        Attempt {
            sizes: SIZES,
            kernel,
            cmdline_len,
            as_root: true,
        }
    }

    fn ready() -> KexecState {
        KexecState {
            crash_size: Some(256 << 20),
            crash_loaded: Some(false),
            load_disabled: Some(false),
            lockdown: Some(Lockdown::None),
        }
    }

    #[test]
    fn a_reserved_enabled_machine_passes() {
        assert_eq!(before_load(&ready(), "root=/dev/vda", SIZES), Ok(()));
        assert_eq!(before_unload(&ready()), Ok(()));
    }

    #[test]
    fn no_reservation_says_to_add_crashkernel() {
        let state = KexecState {
            crash_size: Some(0),
            ..ready()
        };
        let message = before_load(&state, "root=/dev/vda quiet", SIZES).unwrap_err();
        assert!(message.contains("add crashkernel=256M"), "{message}");
        assert!(!message.contains('\n'));
    }

    #[test]
    fn a_reservation_that_failed_names_the_parameter() {
        let state = KexecState {
            crash_size: Some(0),
            ..ready()
        };
        let message = before_load(&state, "root=/dev/vda crashkernel=64G", SIZES).unwrap_err();
        assert!(
            message.starts_with("crashkernel=64G is on the kernel command line"),
            "{message}"
        );
    }

    #[test]
    fn an_explicit_zero_reservation_says_so() {
        let state = KexecState {
            crash_size: Some(0),
            ..ready()
        };
        for param in ["crashkernel=0", "crashkernel=0M"] {
            let message = before_load(&state, param, SIZES).unwrap_err();
            assert_eq!(
                message,
                format!(
                    "{param} reserves no memory for a capture kernel: set crashkernel=256M on \
                     the kernel command line and reboot"
                )
            );
        }
    }

    #[test]
    fn the_command_line_must_leave_room_for_elfcorehdr() {
        assert_eq!(cmdline_fits(2016, Some(2047)), Ok(()));
        let message = cmdline_fits(2017, Some(2047)).unwrap_err();
        assert!(
            message.starts_with(
                "the capture command line is 2017 bytes and this kernel takes at most 2016"
            ),
            "{message}"
        );
        assert_eq!(cmdline_fits(100_000, None), Ok(()));
        assert!(cmdline_fits(1, Some(0)).is_err());
    }

    #[test]
    fn a_capture_kernel_does_not_load_another() {
        let message =
            not_in_capture_kernel("elfcorehdr=0x20000000 console=ttyS0 nr_cpus=1").unwrap_err();
        assert!(message.starts_with("this is a capture kernel"), "{message}");
        assert_eq!(not_in_capture_kernel("root=/dev/vda"), Ok(()));
    }

    #[test]
    fn disabled_kexec_is_one_way() {
        let state = KexecState {
            load_disabled: Some(true),
            ..ready()
        };
        for message in [
            before_load(&state, "", SIZES).unwrap_err(),
            before_unload(&state).unwrap_err(),
            explain_failure(sys::errno::EPERM, &state, &attempt("vmlinuz", 100)),
        ] {
            assert!(
                message.contains("kernel.kexec_load_disabled = 1"),
                "{message}"
            );
            assert!(message.contains("until the next boot"), "{message}");
        }
    }

    #[test]
    fn missing_crash_support_is_named() {
        let state = KexecState {
            crash_size: None,
            ..ready()
        };
        let message = before_load(&state, "", SIZES).unwrap_err();
        assert!(message.contains("CONFIG_CRASH_DUMP"), "{message}");
    }

    #[test]
    fn images_bigger_than_the_reservation_are_caught_before_the_call() {
        let state = KexecState {
            crash_size: Some(10 << 20),
            ..ready()
        };
        let message = before_load(&state, "", SIZES).unwrap_err();
        assert_eq!(
            message,
            "the crash reservation (10 MiB) is smaller than the kernel (8 MiB) and initramfs \
             (3 MiB) together: raise crashkernel= to at least crashkernel=64M and reboot"
        );
    }

    #[test]
    fn signature_failures_point_at_signed_images() {
        for errno in [
            sys::errno::EKEYREJECTED,
            sys::errno::EBADMSG,
            sys::errno::ENOPKG,
        ] {
            let message = explain_failure(errno, &ready(), &attempt("/boot/vmlinuz", 100));
            assert!(message.contains("signature"), "{message}");
            assert!(message.contains("Secure Boot"), "{message}");
        }
    }

    #[test]
    fn eperm_under_lockdown_blames_lockdown_else_privileges() {
        let locked = KexecState {
            lockdown: Some(Lockdown::Integrity),
            ..ready()
        };
        let message = explain_failure(sys::errno::EPERM, &locked, &attempt("/boot/vmlinuz", 100));
        assert!(message.starts_with("refused under kernel lockdown (integrity"));
        let message = explain_failure(sys::errno::EPERM, &ready(), &attempt("/boot/vmlinuz", 100));
        assert!(message.contains("although running as root"), "{message}");
        let as_user = Attempt {
            as_root: false,
            ..attempt("/boot/vmlinuz", 100)
        };
        for state in [ready(), locked] {
            let message = explain_failure(sys::errno::EPERM, &state, &as_user);
            assert!(message.contains("run as root"), "{message}");
        }
    }

    #[test]
    fn no_room_gives_the_reservation_and_image_sizes() {
        let state = KexecState {
            crash_size: Some(160 << 20),
            ..ready()
        };
        let message = explain_failure(sys::errno::EADDRNOTAVAIL, &state, &attempt("vmlinuz", 100));
        assert!(message.contains("(160 MiB, EADDRNOTAVAIL)"), "{message}");
        assert!(message.contains("kernel (8 MiB"), "{message}");
        assert!(message.contains("initramfs (3 MiB)"), "{message}");
        assert!(message.contains("crashkernel=320M"), "{message}");
    }

    #[test]
    fn the_other_errnos_each_have_their_explanation() {
        let explain = |errno| explain_failure(errno, &ready(), &attempt("vmlinuz", 3000));
        assert!(explain(sys::errno::ENOEXEC).contains("does not recognise vmlinuz"));
        assert!(explain(sys::errno::EBUSY).contains("try again"));
        assert!(explain(sys::errno::ENOSYS).contains("CONFIG_KEXEC_FILE"));
        assert!(explain(sys::errno::EINVAL).contains("3000 bytes"));
        assert_eq!(
            explain(sys::errno::EIO),
            "kexec_file_load failed: Input/output error (EIO)"
        );
        for errno in [
            sys::errno::ENOEXEC,
            sys::errno::EBUSY,
            sys::errno::ENOSYS,
            sys::errno::EINVAL,
            sys::errno::EIO,
        ] {
            assert!(!explain(errno).contains('\n'));
        }
    }
}
