//! Prints the analysis of kernel log files: `cargo run -p lastgasp-kmsg --example analyze -- FILE...`
//! (`--json` for the full JSON). Handy when looking at a new fixture.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let mut status = ExitCode::SUCCESS;
    for path in args.iter().filter(|a| *a != "--json") {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{path}: {e}");
                status = ExitCode::FAILURE;
                continue;
            }
        };
        let analysis = kmsg::analyze(&String::from_utf8_lossy(&bytes));
        println!("== {path}");
        if json {
            match serde_json::to_string_pretty(&analysis) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("{path}: cannot serialize: {e}"),
            }
        } else {
            print!("{}", analysis.render_text());
            println!("Frames:     {}", analysis.signature_frames.join(" | "));
        }
    }
    status
}
