//! Incompressible bytes for the compression tests: Marsaglia's xorshift32, so a seed gives the
//! same bytes at every run and a failure reproduces.

/// A stream of pseudo-random bytes (the low byte of each xorshift32 step).
pub(crate) struct Noise(u32);

impl Noise {
    /// `seed` must not be 0 (xorshift would stay at 0).
    pub(crate) fn new(seed: u32) -> Self {
        assert_ne!(seed, 0, "xorshift32 needs a seed other than 0");
        Self(seed)
    }

    pub(crate) fn byte(&mut self) -> u8 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x as u8
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_xorshift32_and_repeats_per_seed() {
        // 1 -> 270369 -> 67634689 (Marsaglia's xorshift32 with shifts 13, 17, 5).
        let mut noise = Noise::new(1);
        assert_eq!(noise.byte(), 270_369u32 as u8);
        assert_eq!(noise.byte(), 67_634_689u32 as u8);
        assert_eq!(Noise::new(7).bytes(64), Noise::new(7).bytes(64));
        assert_ne!(Noise::new(7).bytes(64), Noise::new(8).bytes(64));
    }
}
