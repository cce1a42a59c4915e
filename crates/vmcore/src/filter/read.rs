//! Reading long runs of kernel virtual memory (the `struct page` arrays) straight into the
//! caller's buffer: translated page by page, physically contiguous pages read at once, and not
//! through `KernelMemory`'s small page cache, which would only copy everything twice.

use crate::Result;
use crate::kernel::KernelMemory;
use crate::phys::PhysMemory;

pub fn read_virtual<M: PhysMemory>(
    memory: &KernelMemory<M>,
    vaddr: u64,
    buf: &mut [u8],
) -> Result<()> {
    let page = memory.phys().page_size().max(1);
    let mut done = 0usize;
    while done < buf.len() {
        let va = vaddr.wrapping_add(done as u64);
        let pa = memory.translate(va)?;
        // Extend the run while the next virtual page maps to the next physical page.
        let mut len = (page - (va % page)).min((buf.len() - done) as u64) as usize;
        while done + len < buf.len() {
            let next_va = va.wrapping_add(len as u64);
            if memory.translate(next_va)? != pa.wrapping_add(len as u64) {
                break;
            }
            len += (page as usize).min(buf.len() - done - len);
        }
        memory.phys().read_phys(pa, &mut buf[done..done + len])?;
        done += len;
    }
    Ok(())
}
