//! Untrusted-input handling of `image_io::decode_image`.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use semcom_codec::image_io::{decode_image, encode_png, ImageInputError, ImageLimits};

fn sample_bytes(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A PNG consisting of signature, an IHDR with the given size (8-bit RGB), an empty IDAT
/// and IEND, all with correct CRCs.
pub fn png_with_header(width: u32, height: u32) -> Vec<u8> {
    let crc32 = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let chunk = |out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32.checksum(&body).to_be_bytes());
    };
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &[]);
    chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn decodes_samples() {
    let lim = ImageLimits::default();
    let a = decode_image(&sample_bytes("astronaut.png"), &lim).unwrap();
    assert_eq!(a.dimensions(), (512, 512));
    let r = decode_image(&sample_bytes("rocket.jpg"), &lim).unwrap();
    assert_eq!(r.dimensions(), (640, 427));
    // PNG round trip is lossless.
    let png = encode_png(&a).unwrap();
    assert_eq!(decode_image(&png, &lim).unwrap(), a);
}

#[test]
fn rejects_empty_oversized_and_unknown() {
    let lim = ImageLimits::default();
    assert!(matches!(decode_image(&[], &lim), Err(ImageInputError::Empty)));
    let small = ImageLimits { max_input_bytes: 100, ..lim };
    assert!(matches!(
        decode_image(&sample_bytes("astronaut.png"), &small),
        Err(ImageInputError::TooLarge { limit: 100, .. })
    ));
    for junk in [&b"hello, this is not an image at all"[..], b"GIF89a\x01\x00\x01\x00", b"\x00"] {
        assert!(matches!(decode_image(junk, &lim), Err(ImageInputError::UnknownFormat)), "{junk:?}");
    }
}

#[test]
fn truncated_files_are_reported_not_panicking() {
    let lim = ImageLimits::default();
    for name in ["astronaut.png", "rocket.jpg", "chelsea.png"] {
        let bytes = sample_bytes(name);
        for cut in [bytes.len() / 2, 40, bytes.len() - 10] {
            let e = decode_image(&bytes[..cut], &lim).map(|i| i.dimensions());
            println!("{name} cut at {cut}: {e:?}");
            assert!(
                matches!(e, Err(ImageInputError::Truncated(_)) | Err(ImageInputError::Corrupt(_))),
                "{name} cut at {cut}: {e:?}"
            );
        }
        // Half a file is the brief's reference case: it must be classed as truncated.
        let e = decode_image(&bytes[..bytes.len() / 2], &lim).map(|i| i.dimensions());
        assert!(matches!(e, Err(ImageInputError::Truncated(_))), "{name}: {e:?}");
    }
}

#[test]
fn dimension_limits_and_zero_size() {
    let lim = ImageLimits::default();
    match decode_image(&png_with_header(100_000, 100_000), &lim) {
        Err(ImageInputError::DimensionsTooLarge { width, height, .. }) => {
            assert_eq!((width, height), (100_000, 100_000))
        }
        other => panic!("expected DimensionsTooLarge, got {other:?}"),
    }
    // Within each side limit but over the pixel budget.
    let px = ImageLimits { max_pixels: 1000, ..lim };
    assert!(matches!(decode_image(&png_with_header(100, 100), &px), Err(ImageInputError::DimensionsTooLarge { .. })));
    let e = decode_image(&png_with_header(0, 10), &lim).map(|i| i.dimensions());
    assert!(matches!(e, Err(ImageInputError::ZeroSize { .. })), "{e:?}");
    // A valid header with missing pixel data is not a size problem.
    let e = decode_image(&png_with_header(10, 10), &lim).map(|i| i.dimensions());
    assert!(matches!(e, Err(ImageInputError::Truncated(_)) | Err(ImageInputError::Corrupt(_))), "{e:?}");
}
