//! A window of a pfn bitmap: pfn `p` is bit `p & 7` of byte `p >> 3`, least significant first,
//! as in both bitmaps of the file. The writer fills one window at a time so a dump of any size
//! needs only a window's worth of memory.

use std::ops::Range;

/// Bits for the pfns `start..start + 8 * bytes.len()`; `start` is a multiple of 8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PfnBits {
    start: u64,
    bytes: Vec<u8>,
}

impl PfnBits {
    /// An all-clear window of `len_bytes` bytes starting at pfn `start` (rounded down to 8).
    pub fn new(start: u64, len_bytes: usize) -> Self {
        PfnBits {
            start: start & !7,
            bytes: vec![0; len_bytes],
        }
    }

    /// Reuses the buffer for another window of the same or smaller size, all clear.
    pub(crate) fn reset(&mut self, start: u64, len_bytes: usize) {
        self.start = start & !7;
        self.bytes.clear();
        self.bytes.resize(len_bytes, 0);
    }

    pub fn pfns(&self) -> Range<u64> {
        self.start..self.start + 8 * self.bytes.len() as u64
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    fn locate(&self, pfn: u64) -> Option<(usize, u8)> {
        let rel = pfn.checked_sub(self.start)?;
        let byte = usize::try_from(rel / 8).ok()?;
        (byte < self.bytes.len()).then_some((byte, 1 << (rel % 8)))
    }

    /// Whether `pfn` is set; pfns outside the window are not.
    pub fn get(&self, pfn: u64) -> bool {
        self.locate(pfn)
            .is_some_and(|(byte, mask)| self.bytes[byte] & mask != 0)
    }

    /// Sets or clears `pfn`; pfns outside the window are ignored.
    pub fn set(&mut self, pfn: u64, value: bool) {
        if let Some((byte, mask)) = self.locate(pfn) {
            if value {
                self.bytes[byte] |= mask;
            } else {
                self.bytes[byte] &= !mask;
            }
        }
    }

    /// Sets or clears every pfn of `range` that lies in the window.
    pub fn set_range(&mut self, range: Range<u64>, value: bool) {
        let window = self.pfns();
        let lo = range.start.max(window.start);
        let hi = range.end.min(window.end);
        let mut pfn = lo;
        while pfn < hi {
            let rel = pfn - self.start;
            if rel.is_multiple_of(8) && hi - pfn >= 8 {
                // Whole bytes at a time for the aligned middle part.
                let first = (rel / 8) as usize;
                let count = ((hi - pfn) / 8) as usize;
                self.bytes[first..first + count].fill(if value { 0xff } else { 0 });
                pfn += 8 * count as u64;
            } else {
                self.set(pfn, value);
                pfn += 1;
            }
        }
    }

    /// Clears every bit that is not also set in `other` (same window).
    pub(crate) fn and_with(&mut self, other: &PfnBits) {
        for (a, b) in self.bytes.iter_mut().zip(&other.bytes) {
            *a &= b;
        }
    }

    pub fn count_ones(&self) -> u64 {
        self.bytes.iter().map(|b| u64::from(b.count_ones())).sum()
    }

    /// The set pfns, in increasing order.
    pub fn iter_ones(&self) -> impl Iterator<Item = u64> + '_ {
        self.bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != 0)
            .flat_map(move |(i, &b)| {
                let base = self.start + 8 * i as u64;
                (0..8u64)
                    .filter(move |bit| b & (1 << bit) != 0)
                    .map(move |bit| base + bit)
            })
    }
}

/// Number of set bits in `bytes` before bit `bit` (bit 0 = LSB of byte 0).
pub(crate) fn ones_before(bytes: &[u8], bit: usize) -> u64 {
    let whole = (bit / 8).min(bytes.len());
    let mut n: u64 = bytes[..whole]
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum();
    if let Some(b) = bytes.get(whole) {
        let partial = bit % 8;
        n += u64::from((b & ((1u16 << partial) - 1) as u8).count_ones());
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_set_exactly_their_pfns() {
        let mut w = PfnBits::new(64, 8);
        w.set_range(60..67, true);
        w.set_range(70..100, true);
        w.set_range(90..92, false);
        let ones: Vec<u64> = w.iter_ones().collect();
        let expect: Vec<u64> = (64..67).chain(70..90).chain(92..100).collect();
        assert_eq!(ones, expect);
        assert_eq!(w.count_ones(), expect.len() as u64);
        assert!(!w.get(63) && w.get(64) && !w.get(67) && !w.get(1000));
        assert_eq!(w.as_bytes()[0], 0b1100_0111);
    }

    #[test]
    fn ones_before_counts_partial_bytes() {
        let bytes = [0xff, 0b0101_0101, 0x01];
        assert_eq!(ones_before(&bytes, 0), 0);
        assert_eq!(ones_before(&bytes, 8), 8);
        assert_eq!(ones_before(&bytes, 11), 10);
        assert_eq!(ones_before(&bytes, 17), 13);
        assert_eq!(ones_before(&bytes, 1000), 13);
    }
}
