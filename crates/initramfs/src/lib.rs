//! Capture initramfs images: the newc cpio writer and kernel module resolution.
