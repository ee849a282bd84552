//! The QUIC side: one connection to the peer (re-established when it drops), one
//! bidirectional stream per transmission: header, symbol frames, then the
//! receiver's acknowledgement on the way back.

use std::net::SocketAddr;

use anyhow::{anyhow, Context, Result};
use semcom_codec::settings::CodecSettings;
use semcom_codec::stream::{Section, SectionKind};
use semcom_net::{quinn, read_message, write_frame, write_message, FrameKind, SymbolFrame, MAX_FRAME_SYMBOLS};
use semcom_proto::v1::wire::{Ack, TransmissionHeader};
use semcom_proto::v1::JobState;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::jobs::Jobs;

/// Modulation ids carried in frame headers (PHY-level information only).
pub mod modulation {
    /// Known unit-modulus pilot symbols.
    pub const PILOT: u8 = 0x00;
    // Meta frames (SoftCast's metadata, the semantic codec's header and prompt
    // records) carry their digital-link MCS index (0..=12,
    // `semcom_phy::digital::MCS_TABLE`) as the modulation id.

    /// Analog symbols (SoftCast, or the semantic codec's key symbols).
    pub const ANALOG: u8 = 0x80;
}

const MAX_ACK_BYTES: usize = 64 * 1024;

pub(crate) struct Job {
    pub id: String,
    /// Wire id of the codec that produced the frames.
    pub codec: &'static str,
    /// The codec settings the receiver must share.
    pub settings: CodecSettings,
    /// The transmission as wire frames (after the in-process channel, if any).
    pub frames: Vec<SymbolFrame>,
}

pub(crate) struct Link {
    pub endpoint: quinn::Endpoint,
    pub peer: SocketAddr,
    pub peer_name: String,
    pub jobs: Jobs,
}

impl Link {
    /// Transmits queued jobs one after another until the queue closes.
    pub async fn run(self, mut queue: mpsc::Receiver<Job>) {
        let mut conn: Option<quinn::Connection> = None;
        while let Some(job) = queue.recv().await {
            let span = tracing::info_span!("transmission", job_id = %job.id);
            let id = job.id.clone();
            let result = self.transmit(&mut conn, job).instrument(span.clone()).await;
            let _enter = span.enter();
            match result {
                Ok(ack) if ack.stored => {
                    tracing::info!(result = %ack.result_id, snr_est_db = ack.snr_est_db, "delivered");
                    self.jobs.update(&id, |e| {
                        e.state = JobState::Delivered as i32;
                        e.result_id = ack.result_id.clone();
                        e.detail = format!("stored by the receiver (estimated SNR {:.2} dB)", ack.snr_est_db);
                    });
                }
                Ok(ack) => {
                    tracing::warn!(error = %ack.error, "receiver could not reconstruct");
                    self.jobs.update(&id, |e| {
                        e.state = JobState::Failed as i32;
                        e.detail = format!("receiver: {}", ack.error);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "transmission failed");
                    // The connection may be the cause: start afresh next time.
                    conn = None;
                    self.jobs.update(&id, |ev| {
                        ev.state = JobState::Failed as i32;
                        ev.detail = format!("{e:#}");
                    });
                }
            }
        }
    }

    async fn connection(&self, conn: &mut Option<quinn::Connection>) -> Result<quinn::Connection> {
        if let Some(c) = conn {
            if c.close_reason().is_none() {
                return Ok(c.clone());
            }
        }
        let c = self
            .endpoint
            .connect(self.peer, &self.peer_name)
            .context("starting connection")?
            .await
            .with_context(|| format!("connecting to {}", self.peer))?;
        tracing::info!(peer = %self.peer, "connected");
        *conn = Some(c.clone());
        Ok(c)
    }

    async fn transmit(&self, conn: &mut Option<quinn::Connection>, job: Job) -> Result<Ack> {
        let c = self.connection(conn).await?;
        let (mut send, mut recv) = c.open_bi().await.context("opening stream")?;
        let frames = &job.frames;
        let total_symbols: u64 = frames.iter().map(|f| f.symbols.len() as u64).sum();
        let header = TransmissionHeader {
            protocol_version: semcom_proto::WIRE_PROTOCOL_VERSION,
            transmission_id: job.id.clone(),
            codec: job.codec.to_owned(),
            total_symbols,
            total_frames: u32::try_from(frames.len()).map_err(|_| anyhow!("too many frames"))?,
            settings: Some(job.settings),
        };
        self.jobs.update(&job.id, |e| e.state = JobState::Transmitting as i32);
        let sending = async {
            write_message(&mut send, &header).await.context("sending header")?;
            let mut sent = 0u64;
            for frame in frames {
                write_frame(&mut send, frame).await.context("sending frame")?;
                sent += frame.symbols.len() as u64;
                self.jobs.update(&job.id, |e| e.symbols_sent = sent);
            }
            send.finish().context("finishing stream")
        };
        if let Err(e) = sending.await {
            // A receiver that refuses a transmission (say, from its header) replies at
            // once and stops reading: its reply says why, the broken stream does not.
            return match read_message::<_, Ack>(&mut recv, MAX_ACK_BYTES).await {
                Ok(ack) if !ack.stored && ack.transmission_id == job.id => Ok(ack),
                _ => Err(e),
            };
        }
        let ack: Ack =
            read_message(&mut recv, MAX_ACK_BYTES).await.context("waiting for the receiver's acknowledgement")?;
        if ack.transmission_id != job.id {
            return Err(anyhow!("acknowledgement for {:?}, expected {:?}", ack.transmission_id, job.id));
        }
        Ok(ack)
    }
}

/// A transmission's sections as wire frames, numbered in order; Meta frames carry
/// the digital part's MCS index.
pub(crate) fn frames_of(sections: &[Section], meta_mcs: u8, frame_symbols: usize) -> Vec<SymbolFrame> {
    let mut frames = Vec::new();
    let mut seq = 0u32;
    for section in sections {
        let (kind, modulation) = match section.kind {
            SectionKind::Pilot => (FrameKind::Pilot, modulation::PILOT),
            SectionKind::Meta => (FrameKind::Meta, meta_mcs),
            SectionKind::Analog => (FrameKind::Analog, modulation::ANALOG),
        };
        let part =
            SymbolFrame::split(kind, modulation, seq, &section.symbols, frame_symbols.clamp(1, MAX_FRAME_SYMBOLS));
        seq = seq.wrapping_add(part.len() as u32);
        frames.extend(part);
    }
    frames
}
