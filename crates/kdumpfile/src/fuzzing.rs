//! Entry points shared by the fuzz targets and the corpus replay test: arbitrary bytes as a
//! dump file must give a clean error or pages of exactly one page size, never a panic, and
//! never an allocation beyond what the file's own length allows.

use std::io::Cursor;

use crate::KdumpFile;

/// Opens `data` as a dump and reads every pfn the bitmaps name (bounded, for fuzzing speed).
pub fn check_read(data: &[u8]) {
    let Ok(mut dump) = KdumpFile::open(Cursor::new(data)) else {
        return;
    };
    let page_size = dump.page_size();
    assert!(dump.notes().len() <= data.len());
    assert!(dump.vmcoreinfo().is_none_or(|v| v.len() <= data.len()));
    let limit = dump.max_mapnr().min(1 << 16);
    for pfn in 0..limit {
        if let Ok(Some(page)) = dump.read_page(pfn) {
            assert_eq!(page.len(), page_size);
        }
        let _ = dump.is_present(pfn);
    }
}
