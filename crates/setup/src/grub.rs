//! GRUB: the parameters go into the shell-sourced defaults that grub-mkconfig reads, either
//! Debian's drop-in directory (/etc/default/grub.d/*.cfg, a Debian patch; Arch's GRUB does not
//! read it) or a marked block at the end of /etc/default/grub; then grub.cfg is regenerated.
//! They go into GRUB_CMDLINE_LINUX_DEFAULT, so the recovery entries boot without them: if a
//! reservation ever keeps a machine from booting, recovery mode still does. Pure.

use crate::params;

pub const DEFAULTS: &str = "/etc/default/grub";
pub const DROPIN_DIR: &str = "/etc/default/grub.d";
pub const DROPIN: &str = "/etc/default/grub.d/lastgasp.cfg";
pub const BEGIN: &str =
    "# BEGIN lastgasp: added by `lastgasp setup`; `lastgasp unsetup` removes this block";
pub const END: &str = "# END lastgasp";
/// grub.cfg locations, the one in use first when several exist.
pub const CONFIGS: [&str; 2] = ["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"];

/// The assignment that appends `params` to the normal entries' command line.
fn assignment(params: &[String]) -> String {
    let words: Vec<String> = params.iter().map(|p| params::for_grub_default(p)).collect();
    format!(
        "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT {}\"\n",
        words.join(" ")
    )
}

/// The whole of /etc/default/grub.d/lastgasp.cfg.
pub fn dropin(params: &[String]) -> String {
    format!(
        "# Written by `lastgasp setup`; `lastgasp unsetup` removes this file (docs/setup.md).\n\
         # Kernel parameters for crash collection, for the normal boot entries only: recovery\n\
         # mode boots without them. `$` is escaped twice: once for this shell file, once for\n\
         # grub.cfg, so that the kernel receives it as `$`.\n{}",
        assignment(params)
    )
}

/// /etc/default/grub with the marked block at its end (any earlier block replaced).
pub fn with_block(text: &str, params: &[String]) -> String {
    let mut out = without_block(text);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(BEGIN);
    out.push('\n');
    out.push_str(&assignment(params));
    out.push_str(END);
    out.push('\n');
    out
}

/// /etc/default/grub without the marked block; everything else byte for byte.
pub fn without_block(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if !inside && bare == BEGIN {
            inside = true;
            continue;
        }
        if inside {
            if bare == END {
                inside = false;
            }
            continue;
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<String> {
        vec![
            "memmap=1M$0x30000000".into(),
            "ramoops.mem_address=0x30000000".into(),
        ]
    }

    #[test]
    fn the_block_goes_at_the_end_and_comes_out_exactly() {
        let original = "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"\n";
        let edited = with_block(original, &params());
        assert!(edited.starts_with(original));
        assert!(
            edited.contains("=\"$GRUB_CMDLINE_LINUX_DEFAULT memmap=1M\\\\\\$0x30000000 ramoops")
        );
        assert_eq!(with_block(&edited, &params()), edited, "twice is once");
        assert_eq!(without_block(&edited), original);
    }

    #[test]
    fn a_file_without_final_newline_still_gets_a_block_of_its_own() {
        let edited = with_block("GRUB_TIMEOUT=5", &params());
        assert!(edited.starts_with("GRUB_TIMEOUT=5\n# BEGIN lastgasp"));
        // Without the block the newline setup added stays: unsetup restores the backup instead
        // when the file is as setup left it.
        assert_eq!(without_block(&edited), "GRUB_TIMEOUT=5\n");
    }

    #[test]
    fn user_lines_after_the_block_survive_its_removal() {
        let edited = with_block("A=1\n", &params()) + "B=2\n";
        assert_eq!(without_block(&edited), "A=1\nB=2\n");
    }
}
