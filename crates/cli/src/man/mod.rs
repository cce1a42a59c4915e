//! Man pages rendered from the clap definition: `lastgasp.1` with the sections clap does not
//! know about (FILES, ENVIRONMENT, EXIT STATUS), and one `lastgasp-<command>.1` per command.
//! `cargo xtask man` writes them to docs/man; a test here fails when the committed ones are stale.

mod reference;
mod synopsis;

use std::io::{self, Write};

use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

/// Where the committed pages live, relative to the workspace root.
pub const MAN_DIR: &str = "docs/man";

/// One rendered page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// `lastgasp.1`, `lastgasp-save.1`, ...
    pub file_name: String,
    pub roff: Vec<u8>,
}

/// `lastgasp.1` first, then the commands' pages in the order `--help` lists them.
pub fn pages() -> io::Result<Vec<Page>> {
    // No `help` command page: it only prints what these pages already say.
    let mut command = crate::command().disable_help_subcommand(true);
    // Propagates the global options and the version to every command, and names them
    // `lastgasp-save` and so on.
    command.build();
    let commands: Vec<clap::Command> = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .cloned()
        .collect();
    let mut pages = vec![main_page(command)?];
    for sub in commands {
        pages.push(command_page(sub)?);
    }
    Ok(pages)
}

fn main_page(command: clap::Command) -> io::Result<Page> {
    let names: Vec<String> = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| format!("lastgasp-{}", sub.get_name()))
        .collect();
    // The exit status gets a section of its own here, so the examples stand alone.
    let command = command.after_help(crate::cli::EXAMPLES);
    let examples = examples(&command);
    let man = new_man(command.clone());
    let mut out = PageText::default();
    out.clap_sections(&man, &command, true)?;
    out.roff(&examples_section(&examples))?;
    let mut reference = Roff::new();
    for section in reference::main_page_sections() {
        section.render(&mut reference);
    }
    out.roff(&reference)?;
    let mut see_also: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    see_also.extend([
        ("systemd-pstore.service", "8"),
        ("journalctl", "1"),
        ("dmesg", "1"),
    ]);
    out.roff(&see_also_section(&see_also))?;
    out.piece(|w| man.render_version_section(w))?;
    Ok(Page {
        file_name: man.get_filename(),
        roff: out.text,
    })
}

fn command_page(command: clap::Command) -> io::Result<Page> {
    let examples = examples(&command);
    let man = new_man(command.clone());
    let mut out = PageText::default();
    out.clap_sections(&man, &command, false)?;
    out.roff(&examples_section(&examples))?;
    out.roff(&see_also_section(&[("lastgasp", "1")]))?;
    out.piece(|w| man.render_version_section(w))?;
    Ok(Page {
        file_name: man.get_filename(),
        roff: out.text,
    })
}

/// A page whose footer names the package, not the command.
fn new_man(command: clap::Command) -> Man {
    Man::new(command).source(format!("lastgasp {}", env!("CARGO_PKG_VERSION")))
}

/// The example lines of a command's after-help text, without their "Examples:" heading and
/// their indentation.
fn examples(command: &clap::Command) -> Vec<String> {
    let text = command
        .get_after_long_help()
        .or_else(|| command.get_after_help())
        .map(|text| text.to_string())
        .unwrap_or_default();
    let body = text.strip_prefix("Examples:\n").unwrap_or(&text);
    body.lines()
        .map(|line| line.strip_prefix("  ").unwrap_or(line).to_string())
        .collect()
}

/// The examples, in no-fill mode so that their columns line up.
fn examples_section(examples: &[String]) -> Roff {
    let mut roff = Roff::new();
    if !examples.is_empty() {
        roff.control("SH", ["EXAMPLES"]);
        roff.control("nf", []);
        for line in examples {
            roff.text([roman(line.as_str())]);
        }
        roff.control("fi", []);
    }
    roff
}

fn see_also_section(pages: &[(&str, &str)]) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["SEE ALSO"]);
    let mut line = Vec::new();
    for (i, (name, section)) in pages.iter().enumerate() {
        let separator = if i + 1 < pages.len() { "), " } else { ")" };
        line.push(bold(*name));
        line.push(roman(format!("({section}{separator}")));
    }
    roff.text(line);
    roff
}

/// A page put together from pieces. Every rendered piece starts with roff's apostrophe
/// preamble; the page keeps only the first, as groff warns about a second definition.
#[derive(Default)]
struct PageText {
    text: Vec<u8>,
}

impl PageText {
    fn piece(&mut self, render: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
        let mut piece = Vec::new();
        render(&mut piece)?;
        let preamble = Roff::new().render();
        let body = match piece.strip_prefix(preamble.as_bytes()) {
            Some(body) if !self.text.is_empty() => body,
            _ => &piece,
        };
        self.text.extend_from_slice(body);
        Ok(())
    }

    fn roff(&mut self, roff: &Roff) -> io::Result<()> {
        self.piece(|w| roff.to_writer(w))
    }

    /// The sections rendered from the definition: clap_mangen's, and a synopsis that reads like
    /// a usage line rather than a list of every option.
    fn clap_sections(
        &mut self,
        man: &Man,
        command: &clap::Command,
        with_commands: bool,
    ) -> io::Result<()> {
        self.piece(|w| man.render_title(w))?;
        self.piece(|w| man.render_name_section(w))?;
        self.roff(&synopsis::section(command))?;
        self.piece(|w| man.render_description_section(w))?;
        self.piece(|w| man.render_options_section(w))?;
        if with_commands {
            self.piece(|w| man.render_subcommands_section(w))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    fn committed_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(MAN_DIR)
    }

    #[test]
    fn committed_man_pages_match_the_cli() {
        let dir = committed_dir();
        let pages = pages().unwrap();
        for page in &pages {
            let path = dir.join(&page.file_name);
            let committed = std::fs::read(&path).unwrap_or_default();
            assert!(
                committed == page.roff,
                "{MAN_DIR}/{} is not what the current CLI generates: run `cargo xtask man`",
                page.file_name
            );
        }
        let expected: BTreeSet<String> = pages.into_iter().map(|p| p.file_name).collect();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.ends_with(".1") || expected.contains(&name),
                "{MAN_DIR}/{name} belongs to no command: run `cargo xtask man`"
            );
        }
    }

    #[test]
    fn one_page_per_command() {
        let names: Vec<String> = pages().unwrap().into_iter().map(|p| p.file_name).collect();
        let mut expected = vec!["lastgasp.1".to_string()];
        expected.extend(
            crate::command()
                .get_subcommands()
                .map(|sub| format!("lastgasp-{}.1", sub.get_name())),
        );
        assert!(expected.len() > 2, "{expected:?}");
        assert_eq!(names, expected);
        assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
    }

    fn page(name: &str) -> String {
        let page = pages()
            .unwrap()
            .into_iter()
            .find(|p| p.file_name == name)
            .unwrap();
        String::from_utf8(page.roff).unwrap()
    }

    #[test]
    fn main_page_has_the_sections_clap_does_not_know() {
        let text = page("lastgasp.1");
        let headings: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix(".SH "))
            .collect();
        assert_eq!(
            headings,
            [
                "NAME",
                "SYNOPSIS",
                "DESCRIPTION",
                "OPTIONS",
                "\"GLOBAL OPTIONS\"",
                "SUBCOMMANDS",
                "EXAMPLES",
                "FILES",
                "ENVIRONMENT",
                "\"EXIT STATUS\"",
                "\"SEE ALSO\"",
                "VERSION",
            ]
        );
        let examples = text
            .split(".SH EXAMPLES\n")
            .nth(1)
            .and_then(|rest| rest.split(".SH ").next())
            .unwrap_or_default();
        assert!(examples.contains("lastgasp config "), "{examples}");
        assert!(!examples.contains("Exit status"), "{examples}");
        assert_eq!(text.matches(".ds Aq").count(), 2, "one apostrophe preamble");
    }

    #[test]
    fn command_pages_carry_global_options_and_examples() {
        let text = page("lastgasp-save.1");
        assert!(text.starts_with(".ie \\n(.g .ds Aq"), "{text}");
        assert!(text.contains(".TH lastgasp-save 1 "), "{text}");
        assert!(text.contains("\\-\\-keep"), "{text}");
        assert!(text.contains("\\-\\-root"), "global option missing: {text}");
        assert!(text.contains(".SH EXAMPLES\n.nf\nlastgasp save "), "{text}");
        assert!(text.contains("\\fBlastgasp\\fR(1)"), "{text}");
    }

    #[test]
    fn examples_lose_heading_and_indent() {
        let command = clap::Command::new("x").after_help("Examples:\n  x a   does a\n  x b");
        assert_eq!(examples(&command), ["x a   does a", "x b"]);
        assert!(examples(&clap::Command::new("y")).is_empty());
    }
}
