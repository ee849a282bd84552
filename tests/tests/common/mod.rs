//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::PathBuf;

use image::RgbImage;

pub fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("samples").join(name)
}

pub fn sample_bytes(name: &str) -> Vec<u8> {
    std::fs::read(sample(name)).expect("sample image present")
}

pub fn decode(bytes: &[u8]) -> RgbImage {
    semcom_codec::image_io::decode_image(bytes, &semcom_codec::image_io::ImageLimits::default())
        .expect("decodable image")
}

/// A PNG whose IHDR claims `width`×`height` (with a valid CRC), built from a real
/// sample, so that only the dimensions are wrong.
pub fn png_with_dimensions(width: u32, height: u32) -> Vec<u8> {
    let mut png = sample_bytes("astronaut.png");
    // Signature (8), IHDR length (4), "IHDR" (4), then width and height.
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// Files in a directory tree (recursively).
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
