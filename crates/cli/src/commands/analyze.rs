//! `lastgasp analyze FILE|-`: the kmsg analysis of any kernel log text, nothing saved.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use anyhow::{Result, bail};

use crate::cli::AnalyzeArgs;
use crate::output;

/// Far more than any kernel log; keeps a mistaken `analyze /dev/zero` bounded.
const MAX_INPUT_BYTES: u64 = 256 << 20;

pub fn run(args: &AnalyzeArgs) -> Result<()> {
    let data = read_input(&args.input)?;
    let analysis = kmsg::analyze(&String::from_utf8_lossy(&data));
    if args.json {
        output::line(&serde_json::to_string_pretty(&analysis)?)?;
    } else {
        output::line(analysis.render_text().trim_end())?;
    }
    Ok(())
}

fn read_input(input: &Path) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    let read = if input == Path::new("-") {
        io::stdin()
            .lock()
            .take(MAX_INPUT_BYTES)
            .read_to_end(&mut data)
    } else {
        File::open(input).and_then(|f| f.take(MAX_INPUT_BYTES).read_to_end(&mut data))
    };
    if let Err(e) = read {
        let name = if input == Path::new("-") {
            "standard input".to_string()
        } else {
            input.display().to_string()
        };
        bail!("cannot read {name}: {}", super::os_cause(&e));
    }
    Ok(data)
}
