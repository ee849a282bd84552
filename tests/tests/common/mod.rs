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

/// The sorted names of every file in the receiver's results folder of a stack
/// started under `base`.
pub fn result_files(base: &std::path::Path) -> Vec<String> {
    let files = files_under(&base.join("receiver").join("results"));
    let mut names: Vec<String> = files.iter().filter_map(|p| p.file_name()?.to_str().map(String::from)).collect();
    names.sort();
    names
}

/// The files a stored semantic result consists of, sorted.
pub fn semantic_files(id: &str) -> Vec<String> {
    let mut v: Vec<String> =
        [".json", ".mask.png", ".png", ".prompt.json", ".prompt.txt"].iter().map(|s| format!("{id}{s}")).collect();
    v.sort();
    v
}

/// Per-pixel key flags of a key-mask PNG (255 key, 0 non-key).
pub fn mask_bits(png: &[u8]) -> (u32, u32, Vec<bool>) {
    let m = image::load_from_memory(png).expect("mask PNG").to_luma8();
    assert!(m.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255), "mask is not binary");
    (m.width(), m.height(), m.pixels().map(|p| p.0[0] == 255).collect())
}
