//! The outcome of every compatibility check, kept so one failure does not hide the others, and
//! the table printed at the end.

use std::fmt::Write as _;

/// One check on one subject (the vmcore, lastgasp's log, or one dump) of one lab vmcore.
pub struct Outcome {
    pub vmcore: String,
    pub subject: String,
    pub check: String,
    /// What was seen when it passed, why it failed otherwise.
    pub result: Result<String, String>,
    /// Not checked, for the reason in `result`: no reference to check against.
    pub skipped: bool,
}

impl Outcome {
    pub fn new(vmcore: &str, subject: &str, check: &str, result: anyhow::Result<String>) -> Self {
        Outcome {
            vmcore: vmcore.to_owned(),
            subject: subject.to_owned(),
            check: check.to_owned(),
            result: result.map_err(|err| format!("{err:#}")),
            skipped: false,
        }
    }

    /// A check that could not be made, and why.
    pub fn skipped(vmcore: &str, subject: &str, check: &str, why: String) -> Self {
        Outcome {
            skipped: true,
            ..Outcome::new(vmcore, subject, check, Ok(why))
        }
    }

    fn mark(&self) -> (&'static str, &str) {
        match &self.result {
            Ok(seen) if self.skipped => ("skip", seen.as_str()),
            Ok(seen) => ("ok  ", seen.as_str()),
            Err(why) => ("FAIL", why.as_str()),
        }
    }
}

#[derive(Default)]
pub struct Report {
    outcomes: Vec<Outcome>,
}

impl Report {
    pub fn push(&mut self, outcome: Outcome) {
        let (mark, text) = outcome.mark();
        eprintln!(
            "compat: {} {} {}: {} {text}",
            outcome.vmcore,
            outcome.subject,
            outcome.check,
            mark.trim_end()
        );
        self.outcomes.push(outcome);
    }

    pub fn failures(&self) -> usize {
        self.outcomes.iter().filter(|o| o.result.is_err()).count()
    }

    /// One line per check: vmcore, subject, check, ok/FAIL and what was seen.
    pub fn render(&self) -> String {
        let width =
            |f: fn(&Outcome) -> &str| self.outcomes.iter().map(|o| f(o).len()).max().unwrap_or(0);
        let (w1, w2, w3) = (
            width(|o| &o.vmcore),
            width(|o| &o.subject),
            width(|o| &o.check),
        );
        let mut out = String::new();
        for o in &self.outcomes {
            let (mark, text) = o.mark();
            let _ = writeln!(
                out,
                "{:<w1$}  {:<w2$}  {:<w3$}  {mark}  {text}",
                o.vmcore, o.subject, o.check
            );
        }
        let skipped = self.outcomes.iter().filter(|o| o.skipped).count();
        let _ = writeln!(
            out,
            "{} checks, {} failed, {skipped} skipped",
            self.outcomes.len(),
            self.failures()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_and_shown_with_their_cause() {
        let mut report = Report::default();
        report.push(Outcome::new(
            "v",
            "lastgasp-zstd",
            "crash",
            Ok("panic".into()),
        ));
        report.push(Outcome::new(
            "v",
            "lastgasp-lzo",
            "drgn",
            Err(anyhow::anyhow!("no release")),
        ));
        assert_eq!(report.failures(), 1);
        let text = report.render();
        assert!(
            text.contains("lastgasp-lzo   drgn   FAIL  no release"),
            "{text}"
        );
        assert!(text.ends_with("2 checks, 1 failed, 0 skipped\n"), "{text}");
        report.push(Outcome::skipped("v", "q", "c", "no reference".into()));
        assert_eq!(report.failures(), 1);
        assert!(report.render().contains("skip  no reference"));
    }
}
