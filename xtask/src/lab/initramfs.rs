//! The lab's initramfs images, written with the project's one newc writer (crates/initramfs), so
//! the lab needs no cpio tool and can add device nodes without root. A thin wrapper: the lab's
//! files are far below cpio's 4 GiB limit, the one way writing a file can fail.

/// The name `insmod` and the lab's `/init` scripts know a module by: its file name without `.ko`
/// (`relative` as under the kernel's module tree).
pub fn module_name(relative: &str) -> &str {
    let file = relative.rsplit('/').next().unwrap_or(relative);
    file.strip_suffix(".ko").unwrap_or(file)
}

/// An initramfs archive being built in memory.
#[derive(Default)]
pub struct Initramfs(::initramfs::Archive);

impl Initramfs {
    /// What every lab guest's image starts from: the directories its `/init` expects, the
    /// console, that `/init` and busybox.
    pub fn guest(init: &[u8], busybox: &[u8]) -> Initramfs {
        let mut image = Initramfs::default();
        for dir in [
            "bin",
            "dev",
            "proc",
            "sys",
            "tmp",
            "var",
            "run",
            "etc",
            "lib",
            "lib/modules",
        ] {
            image.dir(dir);
        }
        image.char_device("dev/console", 5, 1);
        image.file("init", 0o755, init);
        image.file("bin/busybox", 0o755, busybox);
        image
    }

    /// A kernel module (`relative` as under the kernel's module tree) at
    /// `lib/modules/<name>.ko`, where the lab's `/init` scripts load it from.
    pub fn module(&mut self, relative: &str, bytes: &[u8]) {
        let path = format!("lib/modules/{}.ko", module_name(relative));
        self.file(&path, 0o644, bytes);
    }

    pub fn dir(&mut self, path: &str) {
        self.0.dir(path);
    }

    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        self.0
            .file(path, mode, data)
            .expect("a lab file larger than 4 GiB");
    }

    pub fn char_device(&mut self, path: &str, major: u32, minor: u32) {
        self.0.char_device(path, major, minor);
    }

    /// Ends the archive and returns its bytes.
    pub fn finish(self) -> Vec<u8> {
        self.0.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_image_reads_back_with_init_and_console() {
        let mut archive = Initramfs::default();
        archive.dir("bin");
        archive.file("init", 0o755, b"#!/bin/sh\n");
        archive.char_device("dev/console", 5, 1);
        let entries = ::initramfs::cpio::read(&archive.finish()).unwrap();
        let init = entries.iter().find(|e| e.path == "init").unwrap();
        assert_eq!(init.data, b"#!/bin/sh\n");
        assert_eq!(init.mode, 0o100_755);
        let console = entries.iter().find(|e| e.path == "dev/console").unwrap();
        assert_eq!(console.rdev, (5, 1));
    }
}
