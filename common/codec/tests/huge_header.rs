//! A PNG whose IHDR claims 100000×100000 (30 GB as RGB) must be rejected from the header
//! alone. A counting global allocator records the largest single allocation made while
//! decoding; it must stay tiny. (Own test binary: the allocator is process-wide.)
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use semcom_codec::image_io::{decode_image, ImageInputError, ImageLimits};

struct Peak;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Peak = Peak;

fn png_with_header(width: u32, height: u32) -> Vec<u8> {
    let crc32 = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (*b"IHDR", [&width.to_be_bytes()[..], &height.to_be_bytes()[..], &[8, 2, 0, 0, 0][..]].concat()),
        (*b"IDAT", Vec::new()),
        (*b"IEND", Vec::new()),
    ] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let body = [&kind[..], &data[..]].concat();
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32.checksum(&body).to_be_bytes());
    }
    png
}

#[test]
fn huge_ihdr_is_rejected_without_allocating() {
    let png = png_with_header(100_000, 100_000);
    // Generous limits on everything except what the header claims.
    let limits = ImageLimits { max_width: 200_000, max_height: 200_000, ..ImageLimits::default() };
    LARGEST.store(0, Ordering::Relaxed);
    let r = decode_image(&png, &limits);
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        matches!(r, Err(ImageInputError::DimensionsTooLarge { width: 100_000, height: 100_000, .. })),
        "{:?}",
        r.map(|i| i.dimensions())
    );
    // The png reader's internal buffers are tens of KiB; the image would be 30 GB.
    assert!(largest < 1 << 20, "largest allocation during decode: {largest} bytes");
    println!("largest allocation: {largest} bytes");
}
