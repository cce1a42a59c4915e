//! Reading a crashed kernel's memory: ELF vmcores, VMCOREINFO, address translation and the printk ring buffer.
