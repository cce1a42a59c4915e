//! Chromium's screenshots, decoded with the `png` crate, so a test can check they are real
//! images of the window with the page drawn in them, not an empty or blank file.

use std::collections::HashSet;
use std::path::Path;

pub struct Shot {
    pub width: u32,
    pub height: u32,
    /// RGB, row by row.
    pixels: Vec<[u8; 3]>,
}

impl Shot {
    pub fn decode(path: &Path) -> Self {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder
            .read_info()
            .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader
            .next_frame(&mut buf)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("{}: unexpected colour type {other:?}", path.display()),
        };
        let pixels = buf[..info.line_size * info.height as usize]
            .chunks(info.line_size)
            .flat_map(|line| {
                line[..info.width as usize * channels]
                    .chunks(channels)
                    .map(|p| [p[0], p[1], p[2]])
            })
            .collect();
        Self {
            width: info.width,
            height: info.height,
            pixels,
        }
    }

    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        self.pixels[(y * self.width + x) as usize]
    }

    /// How many pixels are exactly `rgb`.
    pub fn count(&self, rgb: [u8; 3]) -> usize {
        self.pixels.iter().filter(|p| **p == rgb).count()
    }

    /// How many different colours the image has: a blank page has one, text antialiased
    /// against a background has dozens.
    pub fn colours(&self) -> usize {
        self.pixels.iter().collect::<HashSet<_>>().len()
    }
}
