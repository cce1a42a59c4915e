//! Turning one dmesg record's bytes into its header and log text: ECC notice off, `.enc.z`
//! decompressed, header lines off. Never fails; what went wrong is described in `notes`.

use crate::crash::Decoding;
use crate::decompress::decompress;
use crate::header::{
    EccNotice, HeaderSource, PartHeader, split_header, split_ramoops_header, strip_ecc_notice,
};

/// One dmesg record, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedDmesg {
    /// Reason, count and part; `None` when the record has no header line (or was undecodable).
    pub header: Option<PartHeader>,
    pub header_source: HeaderSource,
    /// The log text without header lines or ECC notice; empty when undecodable.
    pub text: Vec<u8>,
    pub decoding: Decoding,
    pub ecc: Option<EccNotice>,
    /// Dump time from a ramoops zone header line, when the record still had one.
    pub ramoops_time: Option<i64>,
    /// Problems, as phrases to prefix with the file name: "has no pstore header line", ...
    pub notes: Vec<String>,
    /// The text is incomplete (truncated compressed stream, unrecoverable ECC blocks, ...).
    pub damaged: bool,
}

/// Decodes a dmesg record; `encoded` is true for `.enc.z` files.
pub fn decode_dmesg(data: &[u8], encoded: bool) -> DecodedDmesg {
    let (payload, ecc) = strip_ecc_notice(data);
    let (payload, encoded, ramoops_time) = match split_ramoops_header(payload) {
        Some((h, rest)) => (rest, encoded || h.compressed, Some(h.time)),
        None => (payload, encoded, None),
    };
    let mut notes = Vec::new();
    let mut damaged = false;
    if let Some(n) = ecc.filter(|n| n.unrecoverable_blocks > 0) {
        notes.push(format!(
            "ECC reports {} unrecoverable blocks",
            n.unrecoverable_blocks
        ));
        damaged = true;
    }
    let (plain, decoding) = if encoded {
        match decompress(payload) {
            Ok(d) => {
                if d.truncated {
                    notes.push(format!(
                        "{} stream is cut short; decoded text ends early",
                        d.algorithm
                    ));
                    damaged = true;
                }
                let decoding = Decoding::Decompressed {
                    algorithm: d.algorithm.to_owned(),
                };
                (d.data, decoding)
            }
            Err(reason) => {
                notes.push(format!("could not be decompressed ({reason}); kept raw"));
                return DecodedDmesg {
                    header: None,
                    header_source: HeaderSource::Missing,
                    text: Vec::new(),
                    decoding: Decoding::Raw { reason },
                    ecc,
                    ramoops_time,
                    notes,
                    damaged: true,
                };
            }
        }
    } else {
        (payload.to_vec(), Decoding::Plain)
    };
    let framed = split_header(&plain);
    if framed.header.is_none() {
        notes.push("has no pstore header line".to_owned());
    }
    DecodedDmesg {
        header: framed.header.clone(),
        header_source: framed.source,
        text: framed.text.to_vec(),
        decoding,
        ecc,
        ramoops_time,
        notes,
        damaged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_record_with_ecc() {
        let d = decode_dmesg(b"Oops#1 Part1\n<4>[ 1.0] a\n\nNo errors detected\n", false);
        assert_eq!(
            d.header.map(|h| (h.reason, h.count, h.part)),
            Some(("Oops".into(), 1, 1))
        );
        assert_eq!(d.text, b"<4>[ 1.0] a\n");
        assert_eq!(d.decoding, Decoding::Plain);
        assert!(d.notes.is_empty() && !d.damaged);
    }

    #[test]
    fn unrecoverable_ecc_is_noted() {
        let d = decode_dmesg(
            b"Panic#1 Part1\nx\n\n0 Corrected bytes, 2 unrecoverable blocks\n",
            false,
        );
        assert_eq!(d.text, b"x\n");
        assert!(d.damaged);
        assert_eq!(d.notes, ["ECC reports 2 unrecoverable blocks"]);
    }

    #[test]
    fn raw_ramoops_zone_text() {
        let d = decode_dmesg(b"====1700000000.000001-D\nPanic#1 Part1\nx\n", false);
        assert_eq!(d.ramoops_time, Some(1_700_000_000));
        assert_eq!(d.header.map(|h| h.part), Some(1));
        assert_eq!(d.text, b"x\n");
    }

    #[test]
    fn garbage_enc_z_is_raw() {
        let d = decode_dmesg(b"\xff\xfe not compressed at all", true);
        assert!(matches!(d.decoding, Decoding::Raw { .. }));
        assert!(d.text.is_empty() && d.damaged && d.header.is_none());
    }
}
