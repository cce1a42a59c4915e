//! What backend record ids tell about a record: efi-pstore packs the dump time, part and count
//! into the id; ERST ids are seeded from the wall clock and count up within a dump.

/// The fields efi-pstore packs into a record id: `(time * 100 + part) * 1000 + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EfiId {
    pub time: i64,
    pub part: u32,
    pub count: u32,
}

/// Splits an efi-pstore record id into time, part and count.
pub fn decode_efi_id(id: u64) -> EfiId {
    let count = id % 1000;
    let part = (id / 1000) % 100;
    let time = id / 100_000;
    EfiId {
        // id / 100_000 < 2^64 / 10^5 fits in i64.
        time: i64::try_from(time).unwrap_or(i64::MAX),
        part: u32::try_from(part).unwrap_or(0),
        count: u32::try_from(count).unwrap_or(0),
    }
}

/// Builds an efi-pstore record id (used by tests and fuzzing to make realistic names).
pub fn encode_efi_id(time: u64, part: u32, count: u32) -> u64 {
    time.saturating_mul(100)
        .saturating_add(u64::from(part % 100))
        .saturating_mul(1000)
        .saturating_add(u64::from(count % 1000))
}

/// Whether a backend name is efi-pstore (current `efi_pstore`, or `efi` before ~6.1).
pub fn is_efi_backend(backend: &str) -> bool {
    backend == "efi_pstore" || backend == "efi"
}

/// Whether a backend stores only Part1 of every dump, one dump per record.
pub fn is_single_part_backend(backend: &str) -> bool {
    matches!(backend, "ramoops" | "pstore_blk" | "pstore-blk")
}

/// Unix seconds between 2000-01-01 and 2200-01-01: anything else is not a plausible dump time.
const PLAUSIBLE_TIME: std::ops::Range<i64> = 946_684_800..7_258_118_400;

/// The wall-clock seconds an ERST record id was seeded from, when the id looks like one.
///
/// `cper_next_record_id` seeds ids with `seconds << 32`; newer kernels use
/// `0x8000000000000000 | seconds << 24` when the seconds no longer fit 31 bits.
pub fn erst_id_time(id: u64) -> Option<i64> {
    let seconds = if id >> 63 == 0 {
        id >> 32
    } else {
        (id & !(1 << 63)) >> 24
    };
    let seconds = i64::try_from(seconds).ok()?;
    PLAUSIBLE_TIME.contains(&seconds).then_some(seconds)
}

/// A record time from an efi-pstore id, when plausible.
pub fn efi_id_time(id: u64) -> Option<i64> {
    let time = decode_efi_id(id).time;
    PLAUSIBLE_TIME.contains(&time).then_some(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn efi_ids_split_and_join() {
        let id = encode_efi_id(1_700_000_000, 14, 2);
        assert_eq!(id, 170_000_000_014_002);
        assert_eq!(
            decode_efi_id(id),
            EfiId {
                time: 1_700_000_000,
                part: 14,
                count: 2
            }
        );
        assert_eq!(efi_id_time(id), Some(1_700_000_000));
        assert_eq!(efi_id_time(5), None);
        assert_eq!(decode_efi_id(u64::MAX).count, 615);
    }

    #[test]
    fn erst_ids_give_seed_time() {
        assert_eq!(
            erst_id_time(1_700_000_000u64 << 32 | 3),
            Some(1_700_000_000)
        );
        assert_eq!(
            erst_id_time(1 << 63 | 2_200_000_000u64 << 24 | 1),
            Some(2_200_000_000)
        );
        assert_eq!(erst_id_time(12), None);
    }
}
