//! `modules.softdep`: `softdep MODULE pre: NAME... post: NAME...` lines, depmod's record of the
//! modules a module uses without linking to them (ext4 and jbd2 need a crc32c implementation,
//! found through the alias `crypto-crc32c`). Without them a module loads and then fails.

use std::collections::BTreeMap;

use super::{ParseError, normalize};

/// Names (modules or aliases) to load before and after a module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoftDep {
    pub pre: Vec<String>,
    pub post: Vec<String>,
}

pub fn parse(text: &str) -> Result<BTreeMap<String, SoftDep>, ParseError> {
    let mut softdeps: BTreeMap<String, SoftDep> = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |what: &str| ParseError::new("modules.softdep", index + 1, what, line);
        let mut words = line.split_whitespace();
        if words.next() != Some("softdep") {
            return Err(error("the line does not start with 'softdep'"));
        }
        let module = words.next().ok_or_else(|| error("no module named"))?;
        let entry = softdeps.entry(normalize(module)).or_default();
        let mut list: Option<&mut Vec<String>> = None;
        for word in words {
            match word {
                "pre:" => list = Some(&mut entry.pre),
                "post:" => list = Some(&mut entry.post),
                // Some modules declare a soft dependency without "pre:" (Debian 6.12's cifs:
                // `softdep cifs gcm`); modprobe places it nowhere, and neither do we.
                name => {
                    if let Some(list) = list.as_mut() {
                        list.push(name.to_string());
                    }
                }
            }
        }
    }
    Ok(softdeps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pre_and_post_lists() {
        let softdeps = parse(
            "# Soft dependencies extracted from modules themselves.\n\
             softdep ext4 pre: crypto-crc32c\n\
             softdep snd-hda-codec-realtek pre: snd-hda-codec-generic post: ledtrig-audio\n",
        )
        .unwrap();
        assert_eq!(softdeps["ext4"].pre, ["crypto-crc32c"]);
        let realtek = &softdeps["snd_hda_codec_realtek"];
        assert_eq!(realtek.pre, ["snd-hda-codec-generic"]);
        assert_eq!(realtek.post, ["ledtrig-audio"]);
        let unplaced = parse("softdep cifs gcm\n").unwrap();
        assert_eq!(unplaced["cifs"], SoftDep::default());
        let error = parse("softdep\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "modules.softdep line 1: no module named: \"softdep\""
        );
        assert!(parse("alias x y\n").is_err());
    }
}
