//! Decompressing `.enc.z` records, whose algorithm nobody wrote down: pstore used raw deflate
//! (≥ 6.6, and the default before), but 4.19–6.5 could be set to lzo, lz4 or zstd, and pre-4.19
//! kernels wrote zlib streams. Every decoder is bounded; the output must look like a dmesg record.

use std::io::Read;

use crate::header::split_header;

/// Output never exceeds 64 MiB.
pub const MAX_OUTPUT: usize = 64 << 20;
/// Minimum cap, so tiny highly compressed records still decode.
const MIN_OUTPUT: usize = 1 << 20;
/// Log text compresses ~3-5x; 16x leaves room without letting a bomb through.
const MAX_RATIO: usize = 16;

/// The most output accepted for `input_len` compressed bytes.
pub(crate) fn output_cap(input_len: usize) -> usize {
    input_len
        .saturating_mul(MAX_RATIO)
        .clamp(MIN_OUTPUT, MAX_OUTPUT)
}

/// A successful decompression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decompressed {
    /// `deflate`, `zlib`, `zstd`, `lz4` or `lzo`.
    pub algorithm: &'static str,
    pub data: Vec<u8>,
    /// The stream stopped early (a truncated record): `data` is what came before the cut.
    pub truncated: bool,
}

/// Tries every algorithm pstore ever used. Returns why it failed otherwise.
pub fn decompress(input: &[u8]) -> Result<Decompressed, String> {
    if input.is_empty() {
        return Err("empty compressed record".into());
    }
    let cap = output_cap(input.len());
    // A stream that checks itself and was read to its very end is trusted even when the output
    // does not start with a pstore header; lz4 and lzo blocks have no such check.
    let mut self_checked: Option<Decompressed> = None;
    let mut cut_short: Option<Decompressed> = None;
    let attempts: [(&'static str, Attempt); 5] = [
        ("deflate", |i, c| inflate(i, false, c)),
        ("zlib", |i, c| inflate(i, true, c)),
        ("zstd", unzstd),
        ("lz4", unlz4),
        ("lzo", unlzo),
    ];
    for (algorithm, attempt) in attempts {
        let Some(outcome) = attempt(input, cap) else {
            continue;
        };
        let has_header = split_header(&outcome.data).header.is_some();
        let result = Decompressed {
            algorithm,
            data: outcome.data,
            truncated: !outcome.complete,
        };
        if outcome.complete && has_header {
            return Ok(result);
        }
        if outcome.complete && outcome.whole_stream && algorithm != "deflate" {
            self_checked = self_checked.or(Some(result));
        } else if !outcome.complete && has_header {
            cut_short = cut_short.or(Some(result));
        }
    }
    self_checked.or(cut_short).ok_or_else(|| {
        format!(
            "{} bytes are not deflate, zlib, zstd, lz4 or lzo data that decodes to a dmesg record",
            input.len()
        )
    })
}

/// One decoder: input and output cap to what it made of them.
type Attempt = fn(&[u8], usize) -> Option<Outcome>;

struct Outcome {
    data: Vec<u8>,
    /// The decoder reached the end of the stream (false: the input ended first).
    complete: bool,
    /// The stream ended properly and used all input (a strong sign it is the right algorithm).
    whole_stream: bool,
}

fn inflate(input: &[u8], zlib: bool, cap: usize) -> Option<Outcome> {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut inflater = Decompress::new(zlib);
    let mut out: Vec<u8> = Vec::with_capacity(input.len().saturating_mul(4).min(cap));
    loop {
        if out.len() == out.capacity() {
            let room = cap.saturating_sub(out.len());
            if room == 0 {
                return None;
            }
            out.reserve(room.min(out.len().max(64 << 10)));
        }
        let consumed = usize::try_from(inflater.total_in()).ok()?;
        let before = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress_vec(input.get(consumed..)?, &mut out, FlushDecompress::None)
            .ok()?;
        match status {
            Status::StreamEnd => {
                let whole_stream = usize::try_from(inflater.total_in()).ok()? == input.len();
                return Some(Outcome {
                    data: out,
                    complete: true,
                    whole_stream,
                });
            }
            Status::Ok | Status::BufError => {
                let stalled = before == (inflater.total_in(), inflater.total_out());
                if stalled && out.len() < out.capacity() {
                    // No progress with room to spare: the input ended mid-stream.
                    return (!out.is_empty()).then_some(Outcome {
                        data: out,
                        complete: false,
                        whole_stream: false,
                    });
                }
            }
        }
    }
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

fn unzstd(input: &[u8], cap: usize) -> Option<Outcome> {
    if !input.starts_with(&ZSTD_MAGIC) {
        return None;
    }
    let decoder = ruzstd::decoding::StreamingDecoder::new(input).ok()?;
    let mut out = Vec::new();
    let limit = u64::try_from(cap).ok()?.saturating_add(1);
    decoder.take(limit).read_to_end(&mut out).ok()?;
    (out.len() <= cap).then_some(Outcome {
        data: out,
        complete: true,
        whole_stream: true,
    })
}

fn unlz4(input: &[u8], cap: usize) -> Option<Outcome> {
    growing(input.len(), cap, |out| {
        lz4_flex::block::decompress_into(input, out)
            .map_err(|e| matches!(e, lz4_flex::block::DecompressError::OutputTooSmall { .. }))
    })
}

fn unlzo(input: &[u8], cap: usize) -> Option<Outcome> {
    growing(input.len(), cap, |out| {
        lzo::decompress_into(input, out).map_err(|e| matches!(e, lzo::Error::OutputOverrun))
    })
}

/// Runs a block decoder that needs its whole output buffer up front, starting small and growing
/// the buffer (up to `cap`) while the decoder says it is too small. `Err(true)` means too small.
fn growing(
    input_len: usize,
    cap: usize,
    decode: impl Fn(&mut [u8]) -> Result<usize, bool>,
) -> Option<Outcome> {
    let mut size = input_len.saturating_mul(4).clamp(4096, cap);
    loop {
        let mut out = vec![0u8; size];
        match decode(&mut out) {
            Ok(len) => {
                out.truncate(len);
                return Some(Outcome {
                    data: out,
                    complete: true,
                    whole_stream: false,
                });
            }
            Err(true) if size < cap => size = size.saturating_mul(4).min(cap),
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"Panic#1 Part1\n<0>[    1.000000] Kernel panic - not syncing: test\n";

    #[test]
    fn raw_deflate_and_zlib() {
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(TEXT).unwrap();
        let d = decompress(&raw.finish().unwrap()).unwrap();
        assert_eq!((d.algorithm, d.data.as_slice()), ("deflate", TEXT));

        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(TEXT).unwrap();
        let d = decompress(&z.finish().unwrap()).unwrap();
        assert_eq!((d.algorithm, d.data.as_slice()), ("zlib", TEXT));
    }

    #[test]
    fn lz4_block() {
        let packed = lz4_flex::block::compress(TEXT);
        let d = decompress(&packed).unwrap();
        assert_eq!((d.algorithm, d.data.as_slice()), ("lz4", TEXT));
    }

    #[test]
    fn lzo_block_that_needs_a_bigger_buffer() {
        // An LZO1X stream: one literal run of 4 bytes, then a run-length match repeating them
        // out to 40000 bytes, then the end marker.
        let mut stream = vec![17 + 4];
        stream.extend_from_slice(b"ab\ncd"[..4].as_ref());
        let length = 40_000 - 4;
        // M3 match with an extended length (33 + 255*k + rest), distance 4.
        stream.push(32);
        let mut rest = length - 33;
        while rest > 255 {
            stream.push(0);
            rest -= 255;
        }
        stream.push(u8::try_from(rest).unwrap());
        stream.extend_from_slice(&[(3 << 2) as u8, 0]);
        stream.extend_from_slice(&[0x11, 0, 0]);
        let out = unlzo(&stream, MIN_OUTPUT).expect("valid lzo");
        assert_eq!(out.data.len(), 40_000);
        assert!(out.data.starts_with(b"ab\nc"));
        assert!(unlzo(&stream, 10_000).is_none());
    }

    #[test]
    fn garbage_and_bombs_fail_cleanly() {
        assert!(decompress(b"").is_err());
        assert!(decompress(b"\x00\x01\x02garbage that is not compressed").is_err());
        // A deflate stream that would expand far beyond the cap.
        let mut bomb = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..40 {
            bomb.write_all(&zeros).unwrap();
        }
        let bomb = bomb.finish().unwrap();
        assert!(bomb.len() * MAX_RATIO < 40 << 20);
        assert!(decompress(&bomb).is_err());
    }

    #[test]
    fn truncated_stream_keeps_its_head() {
        let text: Vec<u8> = (0..2000)
            .flat_map(|i| format!("<6>[{i:5}.000000] line {}\n", i * 7919 % 1000).into_bytes())
            .collect();
        let mut record = b"Oops#1 Part1\n".to_vec();
        record.extend_from_slice(&text);
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&record).unwrap();
        let raw = raw.finish().unwrap();
        let d = decompress(raw.get(..raw.len() / 2).unwrap()).unwrap();
        assert!(d.truncated);
        assert_eq!(d.algorithm, "deflate");
        assert!(record.starts_with(&d.data));
        assert!(d.data.len() > 100);
    }
}
