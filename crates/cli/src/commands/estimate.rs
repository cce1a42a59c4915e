//! `lastgasp estimate`: the `crashkernel=` reservation this machine needs for a full kdump
//! capture, and how it was reached. The model adds what is in the reservation while the capture
//! kernel runs: the kernel as its image header says it spreads out in memory, the capture
//! initramfs twice (the packed copy kexec loads, and the files unpacked into the rootfs), the
//! peak memory of `lastgasp capture` measured in the lab plus the page bitmaps that grow with
//! the machine's memory, the kernel's own runtime allocations, the capture kernel's `struct
//! page` array, and a margin; then it never goes below the smallest reservation that worked in
//! the lab for that kernel (docs/kdump.md). `setup` calls [`estimate`] for the value it writes.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::load::image::{self, ImageKind};
use crate::cli::EstimateArgs;
use crate::config::Config;
use crate::output;
use crate::paths::under_root;

const MIB: u64 = 1 << 20;
/// `lastgasp capture`'s highest peak resident memory in the benchmarks (docs/benchmarks.md:
/// level-31 zstd and lzo dumps of an 811 MiB vmcore, 11.8 MiB).
pub const CAPTURE_PEAK: u64 = 118 * MIB / 10;
/// What the capture kernel allocates for itself beyond its image: page tables, slab, per-CPU
/// areas, the rootfs' own bookkeeping. The residual the lab's 6.1 floor leaves (96M worked,
/// 88M did not, with the parts above adding up to about 89 MiB then).
pub const KERNEL_RUNTIME: u64 = 8 * MIB;
/// One step of the lab's `--crashkernel-search` bisection above the model.
pub const MARGIN: u64 = 8 * MIB;
/// The result is rounded up to this, the bisection's step.
pub const STEP: u64 = 8 * MIB;
/// A `struct page` (64 bytes) for each 4 KiB page the capture kernel manages: 1/64 of the
/// reservation.
const STRUCT_PAGE_SHARE: u64 = 64;
/// Bits per page of the crashed machine's memory in the capture's page bitmaps (one for "in
/// the dump", one for "zero page"), as makedumpfile keeps them.
const BITMAP_BITS_PER_PAGE: u64 = 2;
/// What an image that does not state its size is assumed to grow to in memory: Debian 12's
/// bzImage is a 7.9 MiB file with a 63.6 MiB `init_size`.
const UNSTATED_KERNEL_GROWTH: u64 = 8;
/// How much a compressed initramfs other than gzip is assumed to unpack to (no decoder here).
const UNKNOWN_UNPACK_GROWTH: u64 = 3;
/// The modules assumed beside the lastgasp binary before `lastgasp initramfs` has run: the lab's
/// images held 2.7 MB of them (Debian 12, virtio disk, ext4).
const ASSUMED_MODULES: u64 = 4 * MIB;
/// An initramfs unpacking past this is not one a capture kernel could hold.
const MAX_UNPACKED: u64 = 4 << 30;

/// The smallest `crashkernel=` at which the lab's full capture passed (1 GiB guest, level-31
/// dump), per kernel series: docs/kdump.md, "The smallest crashkernel=".
pub const LAB_FLOORS: &[(&str, u64)] = &[("6.1", 96 * MIB), ("6.12", 80 * MIB)];

/// The answer: the reservation, its `crashkernel=` value, and each part with how it was found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Estimate {
    /// The reservation, rounded up to [`STEP`].
    pub bytes: u64,
    /// The `crashkernel=` value, e.g. `104M`.
    pub crashkernel: String,
    pub release: String,
    /// The model's sum before the floor and the rounding.
    pub model_bytes: u64,
    /// The lab floor that applied, if any.
    pub floor: Option<Floor>,
    pub parts: Vec<Part>,
    /// How the number was reached, one sentence a line.
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Part {
    pub name: &'static str,
    pub bytes: u64,
    pub how: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Floor {
    pub series: String,
    pub bytes: u64,
}

/// What the estimate is computed from; gathered by [`estimate`], or given by tests.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub release: String,
    pub kernel: Sized,
    pub initramfs_packed: Sized,
    pub initramfs_unpacked: Sized,
    /// The machine's memory (MemTotal).
    pub memory: u64,
}

/// A size and the sentence saying where it came from.
#[derive(Debug, Clone)]
pub struct Sized {
    pub bytes: u64,
    pub how: String,
}

pub fn run(config: &Config, root: &Path, args: &EstimateArgs) -> Result<()> {
    let estimate = estimate(root, config)?;
    if args.json {
        return Ok(output::line(&serde_json::to_string_pretty(&estimate)?)?);
    }
    let mut text = format!("crashkernel={}\n", estimate.crashkernel);
    for line in &estimate.lines {
        text += &format!("  {line}\n");
    }
    Ok(output::emit(&text)?)
}

/// The reservation for the running kernel's capture kernel and capture initramfs (or those
/// `[kdump] kernel` and `initrd` name) on this machine, under `root`.
pub fn estimate(root: &Path, config: &Config) -> Result<Estimate> {
    let release = read_trimmed(&under_root(root, Path::new("/proc/sys/kernel/osrelease")))?;
    let kernel_path = image::resolve_kernel(&config.kdump, root, &release)?;
    let kernel = kernel_memory(&kernel_path)?;
    let initramfs = config
        .kdump
        .initrd
        .clone()
        .unwrap_or_else(|| under_root(root, &image::default_initramfs(&release)));
    let (initramfs_packed, initramfs_unpacked) = if initramfs.is_file() {
        initramfs_sizes(&initramfs)?
    } else {
        not_made_yet(&initramfs)?
    };
    let memory = mem_total(root)?;
    Ok(compute(&Inputs {
        release,
        kernel,
        initramfs_packed,
        initramfs_unpacked,
        memory,
    }))
}

/// The model, the floor and the rounding; pure.
pub fn compute(inputs: &Inputs) -> Estimate {
    let pages = inputs.memory.div_ceil(4096);
    let bitmaps = (pages * BITMAP_BITS_PER_PAGE).div_ceil(8);
    let mut parts = vec![
        Part {
            name: "capture kernel",
            bytes: inputs.kernel.bytes,
            how: inputs.kernel.how.clone(),
        },
        Part {
            name: "initramfs, packed",
            bytes: inputs.initramfs_packed.bytes,
            how: inputs.initramfs_packed.how.clone(),
        },
        Part {
            name: "initramfs, unpacked",
            bytes: inputs.initramfs_unpacked.bytes,
            how: inputs.initramfs_unpacked.how.clone(),
        },
        Part {
            name: "capture peak",
            bytes: CAPTURE_PEAK,
            how: "lastgasp capture's highest peak, measured on an 811 MiB vmcore \
                  (docs/benchmarks.md)"
                .to_string(),
        },
        Part {
            name: "page bitmaps",
            bytes: bitmaps,
            how: format!(
                "{BITMAP_BITS_PER_PAGE} bits for each of the {pages} pages of this machine's \
                 {} of memory",
                mib(inputs.memory)
            ),
        },
        Part {
            name: "kernel runtime",
            bytes: KERNEL_RUNTIME,
            how: "the capture kernel's page tables, slab and per-CPU areas: what the lab's 6.1 \
                  floor leaves over"
                .to_string(),
        },
    ];
    let before: u64 = parts.iter().map(|part| part.bytes).sum();
    // The struct pages cover the whole reservation, themselves included.
    let with_pages = (before * STRUCT_PAGE_SHARE).div_ceil(STRUCT_PAGE_SHARE - 1);
    parts.push(Part {
        name: "struct pages",
        bytes: with_pages - before,
        how: "64 bytes of struct page for each 4 KiB page of the reservation".to_string(),
    });
    parts.push(Part {
        name: "margin",
        bytes: MARGIN,
        how: "one step of the lab's crashkernel= search".to_string(),
    });
    let model = with_pages + MARGIN;
    let floor = floor_for(&inputs.release);
    let wanted = floor.as_ref().map_or(model, |floor| model.max(floor.bytes));
    let bytes = wanted.div_ceil(STEP) * STEP;
    let crashkernel = format!("{}M", bytes / MIB);
    let mut lines: Vec<String> = parts
        .iter()
        .map(|part| format!("{}: {} ({})", part.name, mib(part.bytes), part.how))
        .collect();
    lines.push(format!(
        "sum {}, rounded up to {} MiB steps: {}",
        mib(model),
        STEP / MIB,
        mib(model.div_ceil(STEP) * STEP)
    ));
    lines.push(match &floor {
        Some(floor) if floor.bytes > model => format!(
            "raised to the lab's floor for {}: {}M was the smallest that captured in a 1 GiB \
             guest",
            floor.series,
            floor.bytes / MIB
        ),
        Some(floor) => format!(
            "above the lab's floor for {} ({}M, the smallest that captured in a 1 GiB guest)",
            floor.series,
            floor.bytes / MIB
        ),
        None => "no lab floor for this kernel".to_string(),
    });
    Estimate {
        bytes,
        crashkernel,
        release: inputs.release.clone(),
        model_bytes: model,
        floor,
        parts,
        lines,
    }
}

/// The lab floor of the release's series ("6.1.0-57-amd64" is 6.1); for a kernel the lab has
/// not run, the highest floor measured.
fn floor_for(release: &str) -> Option<Floor> {
    let series: String = release
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()
        .unwrap_or("")
        .splitn(3, '.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    if let Some((name, bytes)) = LAB_FLOORS.iter().find(|(name, _)| *name == series) {
        return Some(Floor {
            series: (*name).to_string(),
            bytes: *bytes,
        });
    }
    LAB_FLOORS
        .iter()
        .max_by_key(|(_, bytes)| *bytes)
        .map(|(name, bytes)| Floor {
            series: format!("{series} (none measured; the highest, {name}'s)"),
            bytes: *bytes,
        })
}

/// The kernel's size in memory: what its header states, else an assumption.
fn kernel_memory(path: &Path) -> Result<Sized> {
    let header = image::read_header(path)?;
    let file = file_size(path)?;
    let kind = ImageKind::detect(&header);
    Ok(match sys::kexec_image::image_memory_size(&header) {
        Some(bytes) => Sized {
            bytes,
            how: format!(
                "{} ({}, {}) states {} in memory ({})",
                path.display(),
                kind.name(),
                mib(file),
                mib(bytes),
                match kind {
                    ImageKind::BzImage => "setup header init_size",
                    _ => "image_size",
                }
            ),
        },
        None => Sized {
            bytes: file * UNSTATED_KERNEL_GROWTH,
            how: format!(
                "{} ({}, {}) states no size in memory: assumed {UNSTATED_KERNEL_GROWTH} times \
                 the file",
                path.display(),
                kind.name(),
                mib(file)
            ),
        },
    })
}

/// The packed and unpacked sizes of an existing initramfs.
fn initramfs_sizes(path: &Path) -> Result<(Sized, Sized)> {
    let packed = file_size(path)?;
    let format = image::check_initramfs(path)?;
    let packed_part = Sized {
        bytes: packed,
        how: format!(
            "{} ({format}) as kexec loads it, until the kernel has unpacked it",
            path.display()
        ),
    };
    let unpacked = match format {
        "cpio" => Sized {
            bytes: packed,
            how: "the files unpacked into the rootfs: the archive is not compressed".to_string(),
        },
        "gzip" => {
            let file =
                File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            let mut decoder = flate2::read::MultiGzDecoder::new(file).take(MAX_UNPACKED + 1);
            let bytes = io::copy(&mut decoder, &mut io::sink())
                .with_context(|| format!("cannot decompress {}", path.display()))?;
            anyhow::ensure!(
                bytes <= MAX_UNPACKED,
                "{} unpacks to more than {} MiB, which no capture kernel holds",
                path.display(),
                MAX_UNPACKED / MIB
            );
            Sized {
                bytes,
                how: "the files unpacked into the rootfs (gzip, decompressed here to count)"
                    .to_string(),
            }
        }
        other => Sized {
            bytes: packed * UNKNOWN_UNPACK_GROWTH,
            how: format!(
                "the files unpacked into the rootfs: assumed {UNKNOWN_UNPACK_GROWTH} times the \
                 {other} archive"
            ),
        },
    };
    Ok((packed_part, unpacked))
}

/// Before `lastgasp initramfs` has run: the image will hold this binary and a few modules.
fn not_made_yet(path: &Path) -> Result<(Sized, Sized)> {
    let exe = std::env::current_exe().context("cannot find this program's file")?;
    let bytes = file_size(&exe)? + ASSUMED_MODULES;
    let how = format!(
        "no capture initramfs at {} yet: assumed this lastgasp ({}) and {} of modules; run \
         `lastgasp initramfs` and estimate again",
        path.display(),
        exe.display(),
        mib(ASSUMED_MODULES)
    );
    Ok((
        Sized {
            bytes,
            how: how.clone(),
        },
        Sized { bytes, how },
    ))
}

/// MemTotal from `/proc/meminfo`, in bytes.
fn mem_total(root: &Path) -> Result<u64> {
    let path = under_root(root, Path::new("/proc/meminfo"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    parse_mem_total(&text).with_context(|| format!("{}: no MemTotal line in kB", path.display()))
}

fn parse_mem_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
    let mut words = line["MemTotal:".len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(kib * 1024)
}

/// Bytes as MiB with one decimal: "63.6 MiB".
fn mib(bytes: u64) -> String {
    let tenths = (bytes * 10).div_ceil(MIB);
    format!("{}.{} MiB", tenths / 10, tenths % 10)
}

fn read_trimmed(path: &Path) -> Result<String> {
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .trim()
        .to_string())
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Debian 12's 6.1.0-57-amd64 bzImage header: protocol 2.15, init_size 63.6 MiB.
    const DEBIAN_6_1_INIT_SIZE: u32 = 0x03f9_8000;

    fn bzimage(init_size: u32, file_len: usize) -> Vec<u8> {
        let mut image = vec![0u8; file_len];
        image[0..2].copy_from_slice(b"MZ");
        image[0x1fe..0x200].copy_from_slice(&[0x55, 0xaa]);
        image[0x202..0x206].copy_from_slice(b"HdrS");
        image[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        image[0x260..0x264].copy_from_slice(&init_size.to_le_bytes());
        image
    }

    /// A gzip'd cpio-like archive of `unpacked` bytes of varied content (so it compresses to
    /// about half, like a real binary).
    fn gzip_initramfs(unpacked: usize) -> Vec<u8> {
        let mut data = b"070701".to_vec();
        let mut state = 0x2545_f491_u32;
        while data.len() < unpacked {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            data.push(if state.is_multiple_of(3) {
                (state >> 8) as u8
            } else {
                0
            });
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        gz.finish().unwrap()
    }

    /// A fake root like the lab's guest: a 1 GiB machine (MemTotal as Debian 12 shows it),
    /// Debian's 6.1 kernel header, and an initramfs of the lab's size (3.2 MB, 6.5 MB unpacked).
    fn lab_root(release: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let put = |path: &str, bytes: &[u8]| {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        };
        put(
            "proc/sys/kernel/osrelease",
            format!("{release}\n").as_bytes(),
        );
        put(
            "proc/meminfo",
            b"MemTotal:        1004064 kB\nMemFree:          800000 kB\n",
        );
        put(
            &format!("boot/vmlinuz-{release}"),
            &bzimage(DEBIAN_6_1_INIT_SIZE, 64 << 10),
        );
        put(
            &format!("var/lib/lastgasp/initramfs-{release}.img"),
            &gzip_initramfs(6_500_000),
        );
        root
    }

    fn config(root: &Path) -> Config {
        Config::load(root, None).unwrap()
    }

    #[test]
    fn the_lab_guest_lands_at_or_above_the_measured_floors() {
        for (release, floor) in [("6.1.0-57-amd64", 96), ("6.12.48+deb13-amd64", 80)] {
            let root = lab_root(release);
            let estimate = estimate(root.path(), &config(root.path())).unwrap();
            assert!(estimate.bytes >= floor * MIB, "{release}: {estimate:#?}");
            // CI's kdump scenario runs at 104M; the estimate must not ask for far more.
            assert!(estimate.bytes <= 128 * MIB, "{release}: {estimate:#?}");
            assert_eq!(estimate.bytes % STEP, 0);
            assert_eq!(estimate.crashkernel, format!("{}M", estimate.bytes / MIB));
            let kernel = &estimate.parts[0];
            assert_eq!(kernel.bytes, u64::from(DEBIAN_6_1_INIT_SIZE));
            assert!(kernel.how.contains("init_size"), "{}", kernel.how);
            let unpacked = &estimate.parts[2];
            assert_eq!(unpacked.bytes, 6_500_000);
        }
    }

    #[test]
    fn it_says_how_it_got_the_number() {
        let root = lab_root("6.1.0-57-amd64");
        let estimate = estimate(root.path(), &config(root.path())).unwrap();
        assert_eq!(estimate.lines.len(), estimate.parts.len() + 2);
        assert!(estimate.lines[0].starts_with("capture kernel: 63.6 MiB ("));
        assert!(
            estimate
                .lines
                .iter()
                .any(|l| l.contains("capture peak: 11.8 MiB")),
            "{:#?}",
            estimate.lines
        );
        assert!(
            estimate.lines.last().unwrap().contains("floor for 6.1"),
            "{:#?}",
            estimate.lines
        );
        let sum: u64 = estimate.parts.iter().map(|p| p.bytes).sum();
        assert_eq!(sum, estimate.model_bytes);
    }

    #[test]
    fn more_memory_and_a_bigger_initramfs_ask_for_more() {
        let small = compute(&inputs(1 << 30, 3 << 20, 7 << 20));
        let big_memory = compute(&inputs(1 << 40, 3 << 20, 7 << 20));
        // 2 bits per 4 KiB page: 64 MiB of bitmaps for 1 TiB.
        assert!(
            big_memory.model_bytes >= small.model_bytes + (64 << 20),
            "{big_memory:#?}"
        );
        let dracut = compute(&inputs(1 << 30, 40 << 20, 120 << 20));
        assert!(dracut.bytes >= small.bytes + (150 << 20), "{dracut:#?}");
    }

    #[test]
    fn a_small_model_is_raised_to_the_floor() {
        let mut tiny = inputs(256 << 20, 1 << 20, 1 << 20);
        tiny.kernel.bytes = 16 << 20;
        let estimate = compute(&tiny);
        assert!(estimate.model_bytes < 96 * MIB);
        assert_eq!(estimate.crashkernel, "96M");
        assert!(
            estimate
                .lines
                .last()
                .unwrap()
                .starts_with("raised to the lab's floor")
        );
        let mut other = tiny.clone();
        other.release = "5.10.0-30-amd64".to_string();
        let estimate = compute(&other);
        assert_eq!(estimate.crashkernel, "96M");
        assert!(
            estimate
                .lines
                .last()
                .unwrap()
                .contains("5.10 (none measured"),
            "{:#?}",
            estimate.lines
        );
    }

    fn inputs(memory: u64, packed: u64, unpacked: u64) -> Inputs {
        let sized = |bytes| Sized {
            bytes,
            how: String::new(),
        };
        Inputs {
            release: "6.1.0-57-amd64".to_string(),
            kernel: sized(u64::from(DEBIAN_6_1_INIT_SIZE)),
            initramfs_packed: sized(packed),
            initramfs_unpacked: sized(unpacked),
            memory,
        }
    }

    #[test]
    fn an_image_without_a_stated_size_is_assumed_to_grow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vmlinuz");
        let mut image = bzimage(0, 1 << 20);
        image[0x206..0x208].copy_from_slice(&0x0209u16.to_le_bytes());
        std::fs::write(&path, image).unwrap();
        let sized = kernel_memory(&path).unwrap();
        assert_eq!(sized.bytes, 8 << 20);
        assert!(sized.how.contains("states no size"), "{}", sized.how);
    }

    #[test]
    fn a_missing_initramfs_is_assumed_from_this_binary() {
        let root = lab_root("6.1.0-57-amd64");
        std::fs::remove_file(
            root.path()
                .join("var/lib/lastgasp/initramfs-6.1.0-57-amd64.img"),
        )
        .unwrap();
        let estimate = estimate(root.path(), &config(root.path())).unwrap();
        assert!(
            estimate.parts[1].how.contains("run `lastgasp initramfs`"),
            "{}",
            estimate.parts[1].how
        );
        assert!(estimate.parts[1].bytes > ASSUMED_MODULES);
    }

    #[test]
    fn meminfo_must_have_mem_total() {
        assert_eq!(parse_mem_total("MemTotal:  1024 kB\n"), Some(1 << 20));
        assert_eq!(parse_mem_total("MemFree:  1024 kB\n"), None);
        assert_eq!(parse_mem_total("MemTotal:  lots\n"), None);
        let root = lab_root("6.1.0-57-amd64");
        std::fs::write(root.path().join("proc/meminfo"), "nothing\n").unwrap();
        let error = estimate(root.path(), &config(root.path())).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("proc/meminfo: no MemTotal line in kB"),
            "{error}"
        );
    }

    #[test]
    fn floors_follow_the_kernel_series() {
        assert_eq!(floor_for("6.1.0-57-amd64").unwrap().bytes, 96 * MIB);
        assert_eq!(floor_for("6.12.48+deb13-amd64").unwrap().bytes, 80 * MIB);
        assert_eq!(floor_for("6.12").unwrap().series, "6.12");
        assert_eq!(floor_for("6.10.3-arch1").unwrap().bytes, 96 * MIB);
    }
}
