//! The QUIC side: accept transmissions, collect their symbol frames, reconstruct,
//! store, acknowledge.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use semcom_codec::settings::check as check_settings;
use semcom_codec::stream::Received;
use semcom_net::{peer_fingerprint, quinn, read_frame, read_message, write_message, FrameKind};
use semcom_proto::v1::wire::{Ack, TransmissionHeader};
use tracing::Instrument;

use crate::decode::{self, Decoders};
use crate::store::{valid_id, ResultMeta, Store};

/// Largest length-delimited header accepted on a stream.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest single frame accepted, in symbols.
const MAX_FRAME_SYMBOLS: usize = 1 << 20;

pub(crate) struct LinkContext {
    pub store: Store,
    pub decoders: Decoders,
    pub max_symbols: u64,
    pub max_dimension: u32,
    /// One permit per decode that may run at once (`max_concurrent_decodes`).
    pub decode_slots: Arc<tokio::sync::Semaphore>,
}

/// Accepts connections until the endpoint closes.
pub(crate) async fn serve(endpoint: quinn::Endpoint, ctx: Arc<LinkContext>) {
    while let Some(incoming) = endpoint.accept().await {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let remote = incoming.remote_address();
            match incoming.await {
                Ok(conn) => handle_connection(conn, ctx).await,
                // A peer with a certificate we do not trust ends here.
                Err(e) => tracing::warn!(%remote, error = %e, "refused QUIC connection"),
            }
        });
    }
}

async fn handle_connection(conn: quinn::Connection, ctx: Arc<LinkContext>) {
    let peer = peer_fingerprint(&conn).map(|f| f.to_string()).unwrap_or_default();
    tracing::info!(remote = %conn.remote_address(), %peer, "peer connected");
    loop {
        match conn.accept_bi().await {
            Ok((send, recv)) => {
                let ctx = ctx.clone();
                let peer = peer.clone();
                tokio::spawn(async move {
                    if let Err(e) = handle_transmission(send, recv, ctx, peer).await {
                        tracing::warn!(error = %format!("{e:#}"), "transmission failed");
                    }
                });
            }
            Err(e) => {
                tracing::info!(%peer, reason = %e, "peer disconnected");
                return;
            }
        }
    }
}

async fn handle_transmission(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    ctx: Arc<LinkContext>,
    peer: String,
) -> Result<()> {
    let header: TransmissionHeader =
        read_message(&mut recv, MAX_HEADER_BYTES).await.context("reading transmission header")?;
    let id = header.transmission_id.clone();
    let span = tracing::info_span!("transmission", job_id = %id);
    async move {
        let outcome = receive_and_store(&header, &mut recv, &ctx, &peer).await;
        let ack = match &outcome {
            Ok(meta) => Ack {
                transmission_id: id.clone(),
                stored: true,
                result_id: meta.id.clone(),
                error: String::new(),
                snr_est_db: meta.snr_est_db,
            },
            Err(e) => Ack {
                transmission_id: id.clone(),
                stored: false,
                result_id: String::new(),
                error: format!("{e:#}"),
                snr_est_db: f64::NAN,
            },
        };
        // The sender may already be gone; the result (if any) is stored either way.
        if write_message(&mut send, &ack).await.is_ok() {
            let _ = send.finish();
        }
        let meta = outcome?;
        tracing::info!(
            result = %meta.id,
            codec = %meta.codec,
            repaired_segments = meta.semantic.as_ref().map_or(0, |s| s.repairs.len()),
            snr_est_db = format_args!("{:.2}", meta.snr_est_db),
            channel_uses = meta.channel_uses.total,
            "stored result"
        );
        Ok(())
    }
    .instrument(span)
    .await
}

async fn receive_and_store(
    header: &TransmissionHeader,
    recv: &mut quinn::RecvStream,
    ctx: &Arc<LinkContext>,
    peer: &str,
) -> Result<ResultMeta> {
    if header.protocol_version != semcom_proto::WIRE_PROTOCOL_VERSION {
        return Err(anyhow!(
            "wire protocol version {} not supported (this receiver speaks {})",
            header.protocol_version,
            semcom_proto::WIRE_PROTOCOL_VERSION
        ));
    }
    let Some(settings) = ctx.decoders.settings(&header.codec) else {
        return Err(anyhow!(
            "codec {:?} not supported (this receiver decodes {:?} and {:?})",
            header.codec,
            semcom_codec::semantic::CODEC_ID,
            semcom_codec::softcast::CODEC_ID
        ));
    };
    // Before a single frame is read: with other settings the symbols would decode
    // into garbage.
    check_settings(header.settings.as_ref(), &settings)?;
    if !valid_id(&header.transmission_id) {
        return Err(anyhow!("invalid transmission id {:?}", header.transmission_id));
    }
    if header.total_symbols > ctx.max_symbols {
        return Err(anyhow!(
            "transmission announces {} symbols, more than the limit of {}",
            header.total_symbols,
            ctx.max_symbols
        ));
    }

    let started = Instant::now();
    let mut rx = Received::default();
    let mut total: u64 = 0;
    while let Some(frame) = read_frame(recv, MAX_FRAME_SYMBOLS).await.context("reading symbol frame")? {
        total += frame.symbols.len() as u64;
        if total > ctx.max_symbols {
            return Err(anyhow!("transmission exceeds the limit of {} symbols", ctx.max_symbols));
        }
        // The stream is positional (the pilot pattern says where pilots are); the
        // frame kinds say which data symbols are metadata and at which MCS.
        match frame.kind {
            FrameKind::End => break,
            FrameKind::Meta => {
                rx.meta_symbols += frame.symbols.len();
                rx.meta_mcs = frame.modulation;
            }
            FrameKind::Pilot | FrameKind::Analog => {}
        }
        rx.stream.extend_from_slice(&frame.symbols);
    }
    let receive_ms = started.elapsed().as_secs_f64() * 1e3;
    if total != header.total_symbols {
        // Missing symbols are erasures; the decoder treats absent analog symbols as
        // lost, so reconstruct anyway but say so.
        tracing::warn!(expected = header.total_symbols, got = total, "symbol count differs from header");
    }

    let task_ctx = Arc::clone(ctx);
    let codec = header.codec.clone();
    // The permit moves into the blocking task: a decode holds its slot for as long as it
    // runs, even if this connection goes away meanwhile.
    let slot = Arc::clone(&ctx.decode_slots).acquire_owned().await.context("decode slots closed")?;
    let decode_started = Instant::now();
    let d = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        decode::decode(&codec, &rx, &task_ctx.decoders, task_ctx.max_dimension)
    })
    .await
    .context("decoder task")??;
    let decode_ms = decode_started.elapsed().as_secs_f64() * 1e3;

    let meta = ResultMeta {
        id: header.transmission_id.clone(),
        codec: header.codec.clone(),
        generator: d.generator,
        width: d.width,
        height: d.height,
        snr_est_db: d.snr_est_db,
        n0_est: d.n0_est,
        mean_gain_est: d.mean_gain_est,
        erased_analog: d.erased_analog,
        meta_iterations: d.meta_iterations,
        mcs: d.mcs,
        channel_uses: d.channel_uses,
        rho: d.split.rho(d.height, d.width),
        symbols_per_pixel: d.split.symbols_per_pixel(d.height, d.width),
        chunks_sent: d.chunks_sent,
        semantic: d.semantic,
        receive_ms,
        decode_ms,
        stored_at_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|dur| dur.as_millis() as u64).unwrap_or(0),
        peer: peer.to_owned(),
    };
    let (png, extra) = (d.png, d.extra_files);
    let store = ctx.store.clone();
    let stored = meta.clone();
    tokio::task::spawn_blocking(move || {
        let extra: Vec<(&str, &[u8])> = extra.iter().map(|(s, b)| (*s, b.as_slice())).collect();
        store.put(&stored, &png, &extra)
    })
    .await
    .context("store task")??;
    Ok(meta)
}
