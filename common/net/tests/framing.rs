//! Framing over in-memory pipes: the same code paths the QUIC streams use.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use semcom_net::{
    read_frame, read_message, write_frame, write_message, Complex32, FrameKind, NetError, SymbolFrame,
    FRAME_HEADER_LEN, MAX_FRAME_SYMBOLS,
};
use tokio::io::{duplex, AsyncWriteExt};

#[derive(Clone, PartialEq, prost::Message)]
struct Header {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(uint32, tag = "2")]
    symbols: u32,
}

fn header_bytes(kind: u8, reserved: u16, seq: u32, count: u32) -> Vec<u8> {
    let mut h = vec![kind, 4];
    h.extend_from_slice(&reserved.to_le_bytes());
    h.extend_from_slice(&seq.to_le_bytes());
    h.extend_from_slice(&count.to_le_bytes());
    assert_eq!(h.len(), FRAME_HEADER_LEN);
    h
}

fn sample(re: f32, im: f32) -> Vec<u8> {
    let mut b = re.to_le_bytes().to_vec();
    b.extend_from_slice(&im.to_le_bytes());
    b
}

/// Feeds `bytes` then ends the stream, and returns what `read_frame` makes of it.
async fn read_frame_from(bytes: &[u8], max_symbols: usize) -> Result<Option<SymbolFrame>, NetError> {
    let (mut w, mut r) = duplex(bytes.len().max(1));
    w.write_all(bytes).await.expect("in-memory write");
    drop(w);
    read_frame(&mut r, max_symbols).await
}

#[tokio::test]
async fn frames_round_trip_bit_exact_then_clean_eof() {
    let tricky = [
        Complex32::new(-0.0, 0.0),
        Complex32::new(f32::MIN_POSITIVE / 8.0, -f32::MAX), // subnormal and extreme
        Complex32::new(1.0e-30, 2.718_281_7e7),
        Complex32::new(-2.5, 0.1),
    ];
    let symbols: Vec<Complex32> = (0..10_000)
        .map(|i| match i % 997 {
            0 => tricky[(i / 997) % tricky.len()], // spread over all frames
            _ => Complex32::new(i as f32 * 0.37, -(i as f32).sqrt()),
        })
        .collect();
    let frames = SymbolFrame::split(FrameKind::Analog, 0, 41, &symbols, 3000);
    let sent = frames.clone();

    let (mut w, mut r) = duplex(4096); // smaller than a frame: exercises partial reads
    let writer = tokio::spawn(async move {
        write_message(&mut w, &Header { id: "tx-1".into(), symbols: 10_000 }).await?;
        for f in &sent {
            write_frame(&mut w, f).await?;
        }
        Ok::<_, NetError>(())
    });

    let header: Header = read_message(&mut r, 1024).await.expect("header");
    assert_eq!(header, Header { id: "tx-1".into(), symbols: 10_000 });
    let mut got = Vec::new();
    while let Some(f) = read_frame(&mut r, MAX_FRAME_SYMBOLS).await.expect("frame") {
        got.push(f);
    }
    writer.await.expect("writer task").expect("writer");

    assert_eq!(got.len(), 4);
    assert_eq!(got.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![41, 42, 43, 44]);
    let received: Vec<Complex32> = got.iter().flat_map(|f| f.symbols.iter().copied()).collect();
    assert_eq!(received.len(), symbols.len());
    for (a, b) in received.iter().zip(&symbols) {
        assert_eq!((a.re.to_bits(), a.im.to_bits()), (b.re.to_bits(), b.im.to_bits()));
    }
    assert!(got.iter().all(|f| f.kind == FrameKind::Analog && f.modulation == 0));
}

#[tokio::test]
async fn clean_eof_is_none() {
    assert_eq!(read_frame_from(&[], 16).await.expect("clean end"), None);
}

#[tokio::test]
async fn truncated_header_is_an_error() {
    let h = header_bytes(1, 0, 0, 1);
    let err = read_frame_from(&h[..5], 16).await.unwrap_err();
    assert!(matches!(err, NetError::Truncated { what: "symbol frame header" }), "{err}");
}

#[tokio::test]
async fn truncated_payload_is_an_error() {
    let mut bytes = header_bytes(1, 0, 0, 2);
    bytes.extend(sample(1.0, 2.0));
    bytes.extend(&sample(3.0, 4.0)[..7]);
    let err = read_frame_from(&bytes, 16).await.unwrap_err();
    assert!(matches!(err, NetError::Truncated { what: "symbol frame payload" }), "{err}");
}

#[tokio::test]
async fn unknown_kind_is_an_error() {
    let mut bytes = header_bytes(7, 0, 0, 1);
    bytes.extend(sample(1.0, 2.0));
    let err = read_frame_from(&bytes, 16).await.unwrap_err();
    assert!(matches!(&err, NetError::Frame(m) if m.contains("unknown frame kind 0x07")), "{err}");
}

#[tokio::test]
async fn nonzero_reserved_is_an_error() {
    // Bit 0 is FLAG_ERASED; every other flag bit is reserved.
    let mut bytes = header_bytes(1, 0x0100, 0, 1);
    bytes.extend(sample(1.0, 2.0));
    let err = read_frame_from(&bytes, 16).await.unwrap_err();
    assert!(matches!(&err, NetError::Frame(m) if m.contains("reserved")), "{err}");
}

#[tokio::test]
async fn oversized_count_is_refused_before_allocating() {
    // u32::MAX symbols would be a 34 GB allocation: refusing must happen first.
    let err = read_frame_from(&header_bytes(3, 0, 9, u32::MAX), MAX_FRAME_SYMBOLS).await.unwrap_err();
    assert!(matches!(&err, NetError::Frame(m) if m.contains("more than the limit")), "{err}");
    // And the limit is exact: max_symbols itself is fine, one more is not.
    let mut ok = header_bytes(3, 0, 9, 2);
    ok.extend(sample(0.0, 0.0));
    ok.extend(sample(0.0, 0.0));
    assert!(read_frame_from(&ok, 2).await.expect("at the limit").is_some());
    assert!(read_frame_from(&ok, 1).await.is_err());
}

#[tokio::test]
async fn non_finite_samples_are_errors() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut bytes = header_bytes(3, 0, 0, 2);
        bytes.extend(sample(1.0, 2.0));
        bytes.extend(sample(0.5, bad));
        let err = read_frame_from(&bytes, 16).await.unwrap_err();
        assert!(matches!(&err, NetError::Frame(m) if m.contains("not finite")), "{err}");
    }
    // The writer refuses them too rather than sending what the reader rejects.
    let frame = SymbolFrame {
        kind: FrameKind::Analog,
        modulation: 0,
        seq: 0,
        erased: false,
        symbols: vec![Complex32::new(f32::NAN, 0.0)],
    };
    let (mut w, _r) = duplex(64);
    assert!(matches!(write_frame(&mut w, &frame).await, Err(NetError::Frame(_))));
}

#[tokio::test]
async fn messages_enforce_limit_and_detect_truncation() {
    let msg = Header { id: "x".repeat(100), symbols: 1 };

    let (mut w, mut r) = duplex(1024);
    write_message(&mut w, &msg).await.expect("write");
    drop(w);
    let err = read_message::<_, Header>(&mut r, 50).await.unwrap_err();
    assert!(matches!(err, NetError::MessageTooLarge { len: 104, max: 50 }), "{err}");

    let mut bytes = 104u32.to_le_bytes().to_vec();
    bytes.extend([0u8; 10]);
    let (mut w, mut r) = duplex(1024);
    w.write_all(&bytes).await.expect("write");
    drop(w);
    let err = read_message::<_, Header>(&mut r, 1024).await.unwrap_err();
    assert!(matches!(err, NetError::Truncated { what: "message body" }), "{err}");

    let (w, mut r) = duplex(16);
    drop(w);
    let err = read_message::<_, Header>(&mut r, 1024).await.unwrap_err();
    assert!(matches!(err, NetError::Truncated { what: "message length prefix" }), "{err}");

    // Bytes that are not the announced protobuf.
    let (mut w, mut r) = duplex(64);
    w.write_all(&[3, 0, 0, 0, 0xff, 0xff, 0xff]).await.expect("write");
    drop(w);
    let err = read_message::<_, Header>(&mut r, 1024).await.unwrap_err();
    assert!(matches!(err, NetError::Decode(_)), "{err}");
}

#[test]
fn split_numbers_and_bounds_frames() {
    let symbols: Vec<Complex32> = (0..10).map(|i| Complex32::new(i as f32, -(i as f32))).collect();
    let frames = SymbolFrame::split(FrameKind::Meta, 6, u32::MAX - 1, &symbols, 4);
    assert_eq!(frames.iter().map(|f| f.symbols.len()).collect::<Vec<_>>(), vec![4, 4, 2]);
    assert_eq!(frames.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![u32::MAX - 1, u32::MAX, 0]);
    assert!(frames.iter().all(|f| f.kind == FrameKind::Meta && f.modulation == 6));
    let joined: Vec<Complex32> = frames.iter().flat_map(|f| f.symbols.clone()).collect();
    assert_eq!(joined, symbols);
    assert!(SymbolFrame::split(FrameKind::Meta, 0, 0, &[], 4).is_empty());
}

#[test]
fn datagram_encode_decode() {
    let frame = SymbolFrame {
        kind: FrameKind::Pilot,
        modulation: 2,
        seq: 7,
        erased: false,
        symbols: vec![Complex32::new(1.0, -1.0); 3],
    };
    let bytes = frame.encode().expect("encode");
    assert_eq!(bytes.len(), FRAME_HEADER_LEN + 3 * 8);
    assert_eq!(SymbolFrame::decode(&bytes, 16).expect("decode"), frame);
    assert!(matches!(SymbolFrame::decode(&bytes[..bytes.len() - 1], 16), Err(NetError::Truncated { .. })));
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(SymbolFrame::decode(&longer, 16), Err(NetError::Frame(_))));
    assert!(SymbolFrame::decode(&bytes, 2).is_err());
}

/// An erased frame crosses the wire as its header alone and reads back as the
/// same number of NaN symbols (erasures), with the frames around it intact.
#[tokio::test]
async fn erased_frames_carry_their_count_but_no_samples() {
    let lost = SymbolFrame {
        kind: FrameKind::Analog,
        modulation: 0x80,
        seq: 5,
        erased: true,
        symbols: vec![Complex32::new(0.5, 0.5); 6],
    };
    let bytes = lost.encode().expect("encode");
    assert_eq!(bytes.len(), FRAME_HEADER_LEN, "no payload for an erased frame");
    let next = SymbolFrame { seq: 6, erased: false, ..lost.clone() };
    let (mut w, mut r) = duplex(4096);
    write_frame(&mut w, &lost).await.expect("write erased");
    write_frame(&mut w, &next).await.expect("write next");
    drop(w);
    let got = read_frame(&mut r, 16).await.expect("read").expect("frame");
    assert!(got.erased && got.seq == 5 && got.symbols.len() == 6);
    assert!(got.symbols.iter().all(|s| s.re.is_nan() && s.im.is_nan()));
    let got = read_frame(&mut r, 16).await.expect("read").expect("frame");
    assert_eq!(got, next);
    assert!(read_frame(&mut r, 16).await.expect("eof").is_none());
}
