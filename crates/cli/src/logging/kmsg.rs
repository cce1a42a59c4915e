//! Log records for /dev/kmsg: each line of a formatted event becomes one kernel log record
//! `<priority>lastgasp: text`, so that in an initramfs without a journal the logs survive in the
//! kernel's ring buffer, where journald picks them up after the switch to the real root.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Longest record written, prefix and newline included. Kernels reject longer writes to
/// /dev/kmsg with EINVAL (older ones above 992 bytes).
pub const MAX_RECORD: usize = 976;
/// Lines of one event that are written: a runaway multi-line message must not flood the log.
pub const MAX_LINES: usize = 16;
/// Bytes of one formatted event that are kept; more could never be written anyway.
const MAX_EVENT: usize = MAX_RECORD * MAX_LINES;
const PREFIX: &str = "lastgasp: ";
const ELLIPSIS: &str = "...";

/// Syslog priority of a tracing level, as tracing-journald maps them for the journal.
pub fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 5,
        Level::DEBUG => 6,
        Level::TRACE => 7,
    }
}

/// The kernel log records for one formatted event: one per non-empty line, at most
/// [`MAX_LINES`], each at most [`MAX_RECORD`] bytes.
pub fn records(level: Level, text: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(text);
    let head = format!("<{}>{PREFIX}", priority(level));
    let room = MAX_RECORD.saturating_sub(head.len() + 1);
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .take(MAX_LINES)
        .map(|line| {
            let mut record = head.clone().into_bytes();
            record.extend_from_slice(bounded(line, room).as_bytes());
            record.push(b'\n');
            record
        })
        .collect()
}

/// `line` cut to `room` bytes on a character boundary, marked as cut.
fn bounded(line: &str, room: usize) -> Cow<'_, str> {
    if line.len() <= room {
        return Cow::Borrowed(line);
    }
    let mut end = room.saturating_sub(ELLIPSIS.len());
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{ELLIPSIS}", line.get(..end).unwrap_or_default()))
}

/// A tracing writer factory over an open /dev/kmsg.
pub struct Kmsg {
    file: File,
}

impl Kmsg {
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Self { file })
    }
}

/// Collects one formatted event and writes its records when dropped.
pub struct EventWriter<'a> {
    file: &'a File,
    level: Level,
    text: Vec<u8>,
}

impl Write for EventWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = MAX_EVENT.saturating_sub(self.text.len());
        self.text
            .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        // Reporting the excess as written drops it instead of making the formatter fail.
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter<'_> {
    fn drop(&mut self) {
        for record in records(self.level, &self.text) {
            // One write per record: /dev/kmsg takes each write as one message. A log line
            // that cannot be written is not worth failing the program for.
            let _ = (&*self.file).write(&record);
        }
    }
}

impl<'a> MakeWriter<'a> for Kmsg {
    type Writer = EventWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        self.writer(Level::INFO)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        self.writer(*meta.level())
    }
}

impl Kmsg {
    fn writer(&self, level: Level) -> EventWriter<'_> {
        EventWriter {
            file: &self.file,
            level,
            text: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(records: &[Vec<u8>]) -> Vec<String> {
        records
            .iter()
            .map(|r| String::from_utf8(r.clone()).unwrap())
            .collect()
    }

    #[test]
    fn levels_become_kernel_priorities() {
        for (level, line) in [
            (Level::ERROR, "<3>lastgasp: m\n"),
            (Level::WARN, "<4>lastgasp: m\n"),
            (Level::INFO, "<5>lastgasp: m\n"),
            (Level::DEBUG, "<6>lastgasp: m\n"),
            (Level::TRACE, "<7>lastgasp: m\n"),
        ] {
            assert_eq!(lines(&records(level, b"m\n")), [line]);
        }
    }

    #[test]
    fn each_line_is_a_record_and_blank_lines_are_dropped() {
        let text = b"first line\n\n  second line  \r\n\n";
        assert_eq!(
            lines(&records(Level::WARN, text)),
            ["<4>lastgasp: first line\n", "<4>lastgasp:   second line\n"]
        );
        assert!(records(Level::WARN, b"\n \n").is_empty());
    }

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        let line = "é".repeat(2000);
        let cut = records(Level::ERROR, line.as_bytes());
        assert_eq!(cut.len(), 1);
        let record = String::from_utf8(cut[0].clone()).unwrap();
        assert!(record.len() <= MAX_RECORD, "{}", record.len());
        assert!(record.len() > MAX_RECORD - 8, "{}", record.len());
        assert!(record.starts_with("<3>lastgasp: éé"));
        assert!(record.ends_with("é...\n"), "{record}");
        let fits = "x".repeat(MAX_RECORD - "<3>lastgasp: \n".len());
        assert_eq!(
            records(Level::ERROR, fits.as_bytes())[0].len(),
            MAX_RECORD,
            "a line that fits is kept whole"
        );
    }

    #[test]
    fn a_flood_of_lines_is_capped() {
        let text = "line\n".repeat(1000);
        assert_eq!(records(Level::INFO, text.as_bytes()).len(), MAX_LINES);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        let replaced = records(Level::WARN, b"bad \xff byte\n");
        assert_eq!(lines(&replaced), ["<4>lastgasp: bad \u{fffd} byte\n"]);
    }

    #[test]
    fn the_writer_emits_one_write_per_record_when_the_event_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kmsg");
        std::fs::write(&path, "").unwrap();
        let kmsg = Kmsg::open(&path).unwrap();
        {
            let mut writer = kmsg.writer(Level::WARN);
            writer.write_all(b"half of a ").unwrap();
            writer.write_all(b"line\nand another\n").unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "<4>lastgasp: half of a line\n<4>lastgasp: and another\n"
        );
    }

    #[test]
    fn the_writer_keeps_a_bounded_amount() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kmsg");
        std::fs::write(&path, "").unwrap();
        let kmsg = Kmsg::open(&path).unwrap();
        let mut writer = kmsg.writer(Level::INFO);
        let chunk = vec![b'a'; 4096];
        for _ in 0..100 {
            assert_eq!(writer.write(&chunk).unwrap(), chunk.len());
        }
        assert!(writer.text.len() <= MAX_EVENT);
    }
}
