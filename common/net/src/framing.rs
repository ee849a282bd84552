//! Wire framing of one transmission stream (docs/architecture.md §5): a length-delimited
//! protobuf header, then symbol frames of little-endian I/Q samples.
//!
//! Everything works over any `tokio::io::AsyncRead`/`AsyncWrite`, so quinn
//! streams and in-memory pipes behave the same. Writers do not flush: quinn
//! streams need no flush, and a caller wrapping a stream in a buffer flushes it.

use num_complex::Complex32;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::NetError;

/// Bytes of the fixed symbol-frame header: kind, modulation, flags u16, seq u32, count u32.
pub const FRAME_HEADER_LEN: usize = 12;
/// Bytes per symbol on the wire (f32 I + f32 Q).
pub const SYMBOL_BYTES: usize = 8;
/// Recommended largest frame, in symbols (128 KiB of payload).
pub const MAX_FRAME_SYMBOLS: usize = 16384;

/// What the symbols of a frame carry. Coded as one byte on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// Known reference symbols for channel estimation.
    Pilot = 1,
    /// Digitally modulated side information (`modulation` says how).
    Meta = 2,
    /// Analog (SoftCast-like) symbols.
    Analog = 3,
    /// Optional explicit end marker (a frame with no symbols).
    End = 0xFF,
}

impl FrameKind {
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for FrameKind {
    type Error = NetError;

    fn try_from(value: u8) -> Result<Self, NetError> {
        match value {
            1 => Ok(FrameKind::Pilot),
            2 => Ok(FrameKind::Meta),
            3 => Ok(FrameKind::Analog),
            0xFF => Ok(FrameKind::End),
            other => Err(NetError::Frame(format!("unknown frame kind {other:#04x}"))),
        }
    }
}

/// One frame of channel symbols.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolFrame {
    pub kind: FrameKind,
    /// Modulation code, meaningful to the PHY layer only; carried opaquely.
    pub modulation: u8,
    /// Sequence number, so a receiver can spot missing frames (datagram mode).
    pub seq: u32,
    /// The frame was lost on the link (a PHY knows a slot was lost, not what it
    /// carried). An erased frame keeps its symbol count but carries no samples on
    /// the wire; after reading, its symbols are NaN so decoders see erasures.
    pub erased: bool,
    pub symbols: Vec<Complex32>,
}

/// Header flag: the frame was erased on the link; no payload follows.
pub const FLAG_ERASED: u16 = 0x0001;

impl SymbolFrame {
    /// Cuts `symbols` into frames of at most `max` symbols (a `max` of 0 counts
    /// as 1), numbered from `first_seq` upwards (wrapping). No symbols, no frames.
    pub fn split(
        kind: FrameKind,
        modulation: u8,
        first_seq: u32,
        symbols: &[Complex32],
        max: usize,
    ) -> Vec<SymbolFrame> {
        symbols
            .chunks(max.max(1))
            .enumerate()
            .map(|(i, chunk)| SymbolFrame {
                kind,
                modulation,
                seq: first_seq.wrapping_add(i as u32),
                erased: false,
                symbols: chunk.to_vec(),
            })
            .collect()
    }

    /// Wire bytes of this frame: header then samples. Refuses non-finite samples,
    /// which the reader would reject anyway.
    pub fn encode(&self) -> Result<Vec<u8>, NetError> {
        let count = u32::try_from(self.symbols.len())
            .map_err(|_| NetError::Frame(format!("{} symbols do not fit one frame", self.symbols.len())))?;
        let payload = if self.erased { 0 } else { self.symbols.len() * SYMBOL_BYTES };
        let mut buf = Vec::with_capacity(FRAME_HEADER_LEN + payload);
        buf.push(self.kind.as_u8());
        buf.push(self.modulation);
        let flags = if self.erased { FLAG_ERASED } else { 0 };
        buf.extend_from_slice(&flags.to_le_bytes());
        buf.extend_from_slice(&self.seq.to_le_bytes());
        buf.extend_from_slice(&count.to_le_bytes());
        if self.erased {
            return Ok(buf);
        }
        for (i, s) in self.symbols.iter().enumerate() {
            if !(s.re.is_finite() && s.im.is_finite()) {
                return Err(NetError::Frame(format!("symbol {i} of frame {} is not finite: {s}", self.seq)));
            }
            buf.extend_from_slice(&s.re.to_le_bytes());
            buf.extend_from_slice(&s.im.to_le_bytes());
        }
        Ok(buf)
    }

    /// Parses one whole frame from `bytes` (e.g. a QUIC datagram); trailing or
    /// missing bytes are errors.
    pub fn decode(bytes: &[u8], max_symbols: usize) -> Result<SymbolFrame, NetError> {
        let header: &[u8; FRAME_HEADER_LEN] = bytes
            .get(..FRAME_HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(NetError::Truncated { what: "symbol frame header" })?;
        let (kind, modulation, seq, count, erased) = parse_header(header, max_symbols)?;
        let payload = &bytes[FRAME_HEADER_LEN..];
        let expected = if erased { 0 } else { count * SYMBOL_BYTES };
        if payload.len() < expected {
            return Err(NetError::Truncated { what: "symbol frame payload" });
        }
        if payload.len() > expected {
            return Err(NetError::Frame(format!(
                "{} bytes after a frame of {count} symbols",
                payload.len() - expected
            )));
        }
        Ok(SymbolFrame {
            kind,
            modulation,
            seq,
            erased,
            symbols: if erased { erased_symbols(count) } else { parse_symbols(payload, seq)? },
        })
    }
}

/// Validates a header; returns (kind, modulation, seq, count, erased).
fn parse_header(h: &[u8; FRAME_HEADER_LEN], max_symbols: usize) -> Result<(FrameKind, u8, u32, usize, bool), NetError> {
    let kind = FrameKind::try_from(h[0])?;
    let modulation = h[1];
    let flags = u16::from_le_bytes([h[2], h[3]]);
    if flags & !FLAG_ERASED != 0 {
        return Err(NetError::Frame(format!(
            "reserved header flags {flags:#06x} set, only {FLAG_ERASED:#06x} is defined"
        )));
    }
    let erased = flags & FLAG_ERASED != 0;
    let seq = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    let count = u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as usize;
    // Checked before anything is allocated: the count comes from the peer.
    if count > max_symbols {
        return Err(NetError::Frame(format!(
            "frame {seq} announces {count} symbols, more than the limit of {max_symbols}"
        )));
    }
    Ok((kind, modulation, seq, count, erased))
}

/// The symbols of an erased frame: NaN marks "nothing received" for decoders.
fn erased_symbols(count: usize) -> Vec<Complex32> {
    vec![Complex32::new(f32::NAN, f32::NAN); count]
}

fn parse_symbols(payload: &[u8], seq: u32) -> Result<Vec<Complex32>, NetError> {
    payload
        .chunks_exact(SYMBOL_BYTES)
        .enumerate()
        .map(|(i, b)| {
            let re = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let im = f32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            if re.is_finite() && im.is_finite() {
                Ok(Complex32::new(re, im))
            } else {
                Err(NetError::Frame(format!("symbol {i} of frame {seq} is not finite: {re}+{im}i")))
            }
        })
        .collect()
}

/// Writes one symbol frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(send: &mut W, frame: &SymbolFrame) -> Result<(), NetError> {
    let bytes = frame.encode()?;
    send.write_all(&bytes).await.map_err(|e| NetError::io(format!("writing symbol frame {}", frame.seq), e))
}

/// Reads the next symbol frame; `Ok(None)` when the stream ends cleanly between
/// frames. A frame with more than `max_symbols` symbols is refused unread.
pub async fn read_frame<R: AsyncRead + Unpin>(
    recv: &mut R,
    max_symbols: usize,
) -> Result<Option<SymbolFrame>, NetError> {
    let mut header = [0u8; FRAME_HEADER_LEN];
    let n = read_up_to(recv, &mut header, "reading symbol frame header").await?;
    if n == 0 {
        return Ok(None);
    }
    if n < FRAME_HEADER_LEN {
        return Err(NetError::Truncated { what: "symbol frame header" });
    }
    let (kind, modulation, seq, count, erased) = parse_header(&header, max_symbols)?;
    if erased {
        return Ok(Some(SymbolFrame { kind, modulation, seq, erased, symbols: erased_symbols(count) }));
    }
    let mut payload = vec![0u8; count * SYMBOL_BYTES];
    read_exact(recv, &mut payload, "symbol frame payload").await?;
    Ok(Some(SymbolFrame { kind, modulation, seq, erased, symbols: parse_symbols(&payload, seq)? }))
}

/// Writes `msg` as a u32 little-endian length prefix followed by its protobuf bytes.
pub async fn write_message<W: AsyncWrite + Unpin, M: prost::Message>(send: &mut W, msg: &M) -> Result<(), NetError> {
    let len = msg.encoded_len();
    let prefix = u32::try_from(len).map_err(|_| NetError::MessageTooLarge { len, max: u32::MAX as usize })?;
    let mut buf = Vec::with_capacity(4 + len);
    buf.extend_from_slice(&prefix.to_le_bytes());
    msg.encode(&mut buf)?;
    send.write_all(&buf).await.map_err(|e| NetError::io("writing length-prefixed message", e))
}

/// Reads one length-prefixed protobuf message of at most `max_len` bytes.
pub async fn read_message<R: AsyncRead + Unpin, M: prost::Message + Default>(
    recv: &mut R,
    max_len: usize,
) -> Result<M, NetError> {
    let mut prefix = [0u8; 4];
    read_exact(recv, &mut prefix, "message length prefix").await?;
    let len = u32::from_le_bytes(prefix) as usize;
    if len > max_len {
        return Err(NetError::MessageTooLarge { len, max: max_len });
    }
    let mut buf = vec![0u8; len];
    read_exact(recv, &mut buf, "message body").await?;
    Ok(M::decode(buf.as_slice())?)
}

/// Fills `buf` unless the stream ends first; returns how many bytes were read.
async fn read_up_to<R: AsyncRead + Unpin>(
    recv: &mut R,
    buf: &mut [u8],
    context: &'static str,
) -> Result<usize, NetError> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = recv.read(&mut buf[filled..]).await.map_err(|e| NetError::io(context, e))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

async fn read_exact<R: AsyncRead + Unpin>(recv: &mut R, buf: &mut [u8], what: &'static str) -> Result<(), NetError> {
    let n = read_up_to(recv, buf, what).await?;
    if n < buf.len() {
        return Err(NetError::Truncated { what });
    }
    Ok(())
}
