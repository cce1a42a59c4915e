//! An LZO1X block compressor, fast and greedy like liblzo2's `lzo1x_1` that makedumpfile uses:
//! one hash table of 4-byte sequences, the nearest earlier occurrence taken as the match. The
//! output is a raw LZO1X block (no header) that `lzo1x_decompress_safe` decodes.
//!
//! The format, as the decoder reads it: a first byte of 18..=255 is a literal run of
//! `byte - 17` bytes. Then instructions; the low two bits of each match's distance field say
//! how many (0-3) literals follow it directly. After a match with none, a byte 0..=15 is a
//! literal run of `3 + L` bytes (L = 0: 18 plus a length extension). Matches: `1LLDDDSS H`
//! (length 5-8) and `01LDDDSS H` (length 3-4) within 2 KiB, `001LLLLL` + LE16 within 16 KiB,
//! `0001HLLL` + LE16 from 16 KiB to 48 KiB. A length field of 0 is extended by bytes that
//! each add 255 while zero and end with a nonzero one. `0x11 0 0` ends the block.

/// Furthest back an LZO1X match can reach (M4: 16 KiB + 32 KiB - 1).
const MAX_DISTANCE: usize = 0xbfff;
const M2_MAX_DISTANCE: usize = 0x800;
const M3_MAX_DISTANCE: usize = 0x4000;
const MIN_MATCH: usize = 4;
const HASH_BITS: u32 = 13;

/// Reusable state, so a page costs no allocation.
pub struct LzoCompressor {
    /// Input positions plus `base`; entries below `base` belong to earlier inputs, so the
    /// table never needs clearing between pages.
    table: Vec<u32>,
    base: u32,
}

impl Default for LzoCompressor {
    fn default() -> Self {
        LzoCompressor {
            table: vec![0; 1 << HASH_BITS],
            base: 1,
        }
    }
}

fn read4(data: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&data[at..at + 4]);
    u32::from_le_bytes(b)
}

fn hash(v: u32) -> usize {
    (v.wrapping_mul(0x9e37_79b1) >> (32 - HASH_BITS)) as usize
}

/// How many bytes `a` and `b` have in common from their starts, eight at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let mut n = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let diff = u64::from_le_bytes(x.try_into().unwrap_or_default())
            ^ u64::from_le_bytes(y.try_into().unwrap_or_default());
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + a[n..]
        .iter()
        .zip(&b[n..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Appends a length extension: `value` (>= 1) as zero bytes of 255 each and a last nonzero byte.
fn push_extension(out: &mut Vec<u8>, mut value: usize) {
    while value > 255 {
        out.push(0);
        value -= 255;
    }
    out.push(value as u8);
}

impl LzoCompressor {
    /// Compresses `input` into `out` (cleared first).
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let span = u32::try_from(input.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        if self.base.checked_add(span).is_none() {
            self.table.fill(0);
            self.base = 1;
        }
        let base = self.base;
        self.base += span;
        let mut literal_start = 0usize;
        let mut ip = 0usize;
        while input.len() >= MIN_MATCH && ip <= input.len() - MIN_MATCH {
            let v = read4(input, ip);
            let slot = &mut self.table[hash(v)];
            let candidate = slot.checked_sub(base).map(|m| m as usize);
            *slot = base + ip as u32;
            let Some(m) = candidate.filter(|&m| ip - m <= MAX_DISTANCE && read4(input, m) == v)
            else {
                // Step faster through data that does not compress, as lzo1x_1 does.
                ip += 1 + ((ip - literal_start) >> 5);
                continue;
            };
            let len = MIN_MATCH + common_prefix(&input[m + MIN_MATCH..], &input[ip + MIN_MATCH..]);
            push_literals(out, &input[literal_start..ip]);
            push_match(out, ip - m, len);
            ip += len;
            literal_start = ip;
        }
        push_literals(out, &input[literal_start..]);
        out.extend_from_slice(&[0x11, 0, 0]);
    }
}

/// Literals before the next match (or the end). Up to 3 after a match ride in its low bits.
fn push_literals(out: &mut Vec<u8>, literals: &[u8]) {
    let n = literals.len();
    if n == 0 {
        return;
    }
    if out.is_empty() {
        if n <= 238 {
            out.push(17 + n as u8);
        } else {
            out.push(0);
            push_extension(out, n - 18);
        }
    } else if n <= 3 {
        // The previous match's distance field is always the second-to-last byte.
        let at = out.len() - 2;
        out[at] |= n as u8;
    } else if n <= 18 {
        out.push((n - 3) as u8);
    } else {
        out.push(0);
        push_extension(out, n - 18);
    }
    out.extend_from_slice(literals);
}

fn push_match(out: &mut Vec<u8>, distance: usize, len: usize) {
    if len <= 8 && distance <= M2_MAX_DISTANCE {
        let d = distance - 1;
        out.push((((len - 1) << 5) | ((d & 7) << 2)) as u8);
        out.push((d >> 3) as u8);
    } else if distance <= M3_MAX_DISTANCE {
        let d = distance - 1;
        if len <= 33 {
            out.push(32 | (len - 2) as u8);
        } else {
            out.push(32);
            push_extension(out, len - 33);
        }
        out.push(((d & 63) << 2) as u8);
        out.push((d >> 6) as u8);
    } else {
        let d = distance - 0x4000;
        let high = ((d >> 11) & 8) as u8;
        if len <= 9 {
            out.push(16 | high | (len - 2) as u8);
        } else {
            out.push(16 | high);
            push_extension(out, len - 9);
        }
        out.push(((d & 63) << 2) as u8);
        out.push(((d >> 6) & 0xff) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::Noise;

    fn round_trip(input: &[u8]) -> usize {
        let mut c = LzoCompressor::default();
        let mut packed = Vec::new();
        c.compress(input, &mut packed);
        let mut back = vec![0u8; input.len()];
        let n = lzo::decompress_into(&packed, &mut back)
            .unwrap_or_else(|e| panic!("{} bytes: {e:?}", input.len()));
        assert_eq!(&back[..n], input);
        packed.len()
    }

    #[test]
    fn pages_of_every_kind() {
        assert!(round_trip(&[0u8; 4096]) < 40);
        assert!(round_trip(&[7u8; 65536]) < 400);
        let text: Vec<u8> = b"kernel text, slab objects and page tables "
            .iter()
            .copied()
            .cycle()
            .take(4096)
            .collect();
        assert!(round_trip(&text) < 200);
        let noise = Noise::new(1).bytes(4096);
        assert!(round_trip(&noise) > 4096);
        for n in [0, 1, 2, 3, 4, 5, 17, 18, 19, 238, 239, 300] {
            round_trip(&noise[..n]);
        }
    }

    #[test]
    fn every_length_and_distance_encoding() {
        // Matches of every length up to 300 at distances in all three ranges, with literal
        // runs of 0 to 20 bytes between them.
        let mut noise = Noise::new(7);
        let mut data = noise.bytes(50_000);
        let mut at = 0;
        for (i, len) in (3..300).enumerate() {
            let distance = [5, 2048, 2049, 16384, 16385, 40_000, 49_151][i % 7];
            at += distance + i % 21 + len;
            if at + len > data.len() {
                data.resize(at + len, 0);
                for b in &mut data[at - distance..] {
                    *b = noise.byte();
                }
            }
            let (src, dst) = (at - distance, at);
            for k in 0..len {
                data[dst + k] = data[src + k];
            }
        }
        round_trip(&data);
    }

    proptest::proptest! {
        #[test]
        fn random_data_round_trips(
            runs in proptest::collection::vec((0u8..4, 1usize..400, proptest::num::u8::ANY), 0..40),
        ) {
            // Runs of repeated bytes, copies of earlier data and noise, mixed.
            let mut data: Vec<u8> = Vec::new();
            let mut noise = Noise::new(0x2545_f491);
            for (kind, len, byte) in runs {
                match kind {
                    0 => data.extend(std::iter::repeat_n(byte, len)),
                    1 if !data.is_empty() => {
                        let from = (byte as usize * 97) % data.len();
                        for k in 0..len {
                            data.push(data[from + k % (data.len() - from)]);
                        }
                    }
                    _ => data.extend(noise.bytes(len)),
                }
            }
            round_trip(&data);
        }
    }
}
