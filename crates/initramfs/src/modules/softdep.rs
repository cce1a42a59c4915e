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
                name => list
                    .as_mut()
                    .ok_or_else(|| error("a name before 'pre:' or 'post:'"))?
                    .push(name.to_string()),
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
        let error = parse("softdep ext4 crc32c\n").unwrap_err();
        assert!(
            error.to_string().contains("modules.softdep line 1"),
            "{error}"
        );
        assert!(parse("alias x y\n").is_err());
    }
}
