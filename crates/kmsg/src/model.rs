//! The result of analysing a kernel log: what crashed, where, and the stable signature.
//!
//! These types are embedded in the report manifest, so field names are part of the report
//! format: kebab-case, and new fields get `#[serde(default)]` so older reports still load.

use serde::{Deserialize, Serialize};

/// What `analyze` found in one kernel log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Analysis {
    /// Kebab-case crash class, e.g. `null-pointer-dereference`, `panic`, `unknown`.
    pub class: String,
    /// `<class>-<function>-<8 hex>`; see docs/signature.md.
    pub signature: String,
    /// One human line describing the crash.
    pub title: String,
    /// The function the signature names: the guilty frame (docs/signature.md §3), else a slug
    /// of the panic message.
    #[serde(default)]
    pub function: Option<String>,
    /// The function the crash happened in, before the guilty frame was looked for: the
    /// faulting instruction's (RIP, pc), else the first reliable frame of the trace. It is a
    /// helper or reporting function where `function` names the caller to blame.
    #[serde(default)]
    pub faulting_function: Option<String>,
    /// The line that opened the crash block, as logged (prefixes removed).
    #[serde(default)]
    pub headline: Option<String>,
    /// Text after `Kernel panic - not syncing: `.
    #[serde(default)]
    pub panic_message: Option<String>,
    #[serde(default)]
    pub kernel_release: Option<String>,
    /// Everything after the release on the CPU line, e.g. `#1 Debian 6.1.192-2`.
    #[serde(default)]
    pub kernel_build: Option<String>,
    /// Seconds since boot of the crash, from the log's timestamps.
    #[serde(default)]
    pub crash_time: Option<f64>,
    #[serde(default)]
    pub cpu: Option<u32>,
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub comm: Option<String>,
    #[serde(default)]
    pub taint: Option<Taint>,
    /// The `Hardware name:` string.
    #[serde(default)]
    pub hardware: Option<String>,
    /// The faulting instruction's function (x86 `RIP:`, arm64 `pc :`).
    #[serde(default)]
    pub fault_frame: Option<Frame>,
    /// arm64 `lr :`.
    #[serde(default)]
    pub link_register: Option<Frame>,
    /// The faulting address named by a page-fault headline.
    #[serde(default)]
    pub fault_address: Option<String>,
    /// The call trace of the crash block, in printed order.
    #[serde(default)]
    pub frames: Vec<Frame>,
    /// The `module:function` names the signature hashed, in order.
    #[serde(default)]
    pub signature_frames: Vec<String>,
    #[serde(default)]
    pub modules: Vec<Module>,
    /// The `[last unloaded: name]` of the module list.
    #[serde(default)]
    pub last_unloaded: Option<String>,
    /// The KASLR offset from `Kernel Offset:`, or `disabled`.
    #[serde(default)]
    pub kernel_offset: Option<String>,
    /// `file:line` of a `kernel BUG at`, `WARNING: ... at` or `UBSAN: ... in` line.
    #[serde(default)]
    pub bug_location: Option<String>,
    /// How many oops die lines (`[#N]`) the crash's boot logged.
    #[serde(default)]
    pub oops_count: u32,
    #[serde(default)]
    pub hashes: Hashes,
}

/// One call-trace frame, or the faulting instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Frame {
    /// The symbol as printed, compiler suffixes included (`__handle_sysrq.cold`).
    pub function: String,
    #[serde(default)]
    pub offset: Option<u64>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub module: Option<String>,
    /// False for `? ` frames: addresses the unwinder found on the stack but did not verify.
    pub reliable: bool,
    /// The stack the frame was on when the trace marked it (`task`, `irq`, `softirq`, `nmi`,
    /// `#df`, ...).
    #[serde(default)]
    pub context: Option<String>,
}

impl Frame {
    /// A frame known by its function name alone: no offset, size, module or stack context.
    pub(crate) fn bare(function: &str) -> Self {
        Frame {
            function: function.to_owned(),
            offset: None,
            size: None,
            module: None,
            reliable: true,
            context: None,
        }
    }
}

/// The taint of the kernel when it crashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Taint {
    /// The letters as printed after `Tainted:`, spaces squeezed out; empty when not tainted.
    pub raw: String,
    /// The kernel's names of the set flags (`OOT_MODULE`, `WARN`, ...).
    pub flags: Vec<String>,
}

/// One entry of `Modules linked in:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Module {
    pub name: String,
    /// The module's taint letters printed in parentheses (`OE`), empty when none.
    #[serde(default)]
    pub flags: String,
}

/// Signatures of other crash pipelines, so reports can be joined with them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Hashes {
    /// ChromeOS crash_reporter's `kernel-<func>-<%08X>`.
    #[serde(default)]
    pub chromeos: Option<String>,
    /// ABRT's koops duphash: SHA-1 over the first six reliable frame names.
    #[serde(default)]
    pub abrt: Option<String>,
}
