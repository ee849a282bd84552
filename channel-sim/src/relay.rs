//! The QUIC relay: every stream from the sender is re-opened towards the receiver;
//! the header passes unchanged, every symbol frame goes through the channel model,
//! and the receiver's reply flows back untouched.

use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use semcom_net::{quinn, read_frame, read_message, write_frame, write_message};
use semcom_phy::link_channel::{FrameEffect, LinkChannel};
use semcom_proto::v1::wire::TransmissionHeader;
use tokio::time::Instant;
use tracing::Instrument;

use crate::config::NetworkConfig;
use crate::state::{FrameRecord, Shared};

const MAX_HEADER_BYTES: usize = 64 * 1024;
const MAX_FRAME_SYMBOLS: usize = 1 << 20;

pub(crate) struct Upstream {
    pub endpoint: quinn::Endpoint,
    pub addr: SocketAddr,
    pub server_name: String,
}

pub(crate) async fn serve(endpoint: quinn::Endpoint, upstream: Arc<Upstream>, shared: Shared) {
    while let Some(incoming) = endpoint.accept().await {
        let upstream = upstream.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let remote = incoming.remote_address();
            match incoming.await {
                Ok(conn) => {
                    if let Err(e) = relay_connection(conn, upstream, shared).await {
                        tracing::warn!(%remote, error = %format!("{e:#}"), "relay connection ended with an error");
                    }
                }
                Err(e) => tracing::warn!(%remote, error = %e, "refused QUIC connection"),
            }
        });
    }
}

async fn relay_connection(down: quinn::Connection, upstream: Arc<Upstream>, shared: Shared) -> Result<()> {
    let peer = semcom_net::peer_fingerprint(&down).map(|f| f.to_string()).unwrap_or_default();
    tracing::info!(remote = %down.remote_address(), %peer, "sender connected");
    let up = upstream
        .endpoint
        .connect(upstream.addr, &upstream.server_name)
        .context("connecting upstream")?
        .await
        .with_context(|| format!("connecting to the receiver at {}", upstream.addr))?;
    loop {
        let (down_send, down_recv) = match down.accept_bi().await {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(reason = %e, "sender disconnected");
                up.close(0u32.into(), b"downstream closed");
                return Ok(());
            }
        };
        let up = up.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            if let Err(e) = relay_stream(down_send, down_recv, up, shared).await {
                tracing::warn!(error = %format!("{e:#}"), "relayed transmission failed");
            }
        });
    }
}

async fn relay_stream(
    mut down_send: quinn::SendStream,
    mut down_recv: quinn::RecvStream,
    up: quinn::Connection,
    shared: Shared,
) -> Result<()> {
    let header: TransmissionHeader = read_message(&mut down_recv, MAX_HEADER_BYTES).await.context("reading header")?;
    let (model, network, index) = shared.begin_transmission();
    let span = tracing::info_span!("transmission", job_id = %header.transmission_id);
    async move {
        tracing::info!(
            snr_db = model.snr_db,
            enabled = model.enabled,
            fading = ?model.fading,
            delay_ms = network.delay_ms,
            "relaying"
        );
        let mut channel = LinkChannel::new(&model, index).context("channel model")?;
        let mut timing = LinkTiming::new(&network, model.seed.wrapping_add(index));
        let (mut up_send, mut up_recv) = up.open_bi().await.context("opening upstream stream")?;
        write_message(&mut up_send, &header).await.context("forwarding header")?;

        let back = tokio::spawn(async move {
            // The receiver's acknowledgement, relayed back verbatim.
            let copied = tokio::io::copy(&mut up_recv, &mut down_send).await;
            let _ = down_send.finish();
            copied
        });
        while let Some(mut frame) =
            read_frame(&mut down_recv, MAX_FRAME_SYMBOLS).await.context("reading frame from sender")?
        {
            let effect = if frame.erased {
                // Already lost upstream (e.g. a chain of proxies): stays lost.
                FrameEffect { erased: true, ..FrameEffect::default() }
            } else {
                channel.apply_frame(&mut frame.symbols)
            };
            frame.erased = effect.erased;
            let delay = timing.hold(frame.symbols.len()).await;
            shared.record_frame(&FrameRecord {
                symbols: frame.symbols.len(),
                erased: effect.erased,
                signal_energy: effect.signal_energy,
                noise_energy: effect.noise_energy,
                gain_energy: effect.gain_energy,
                delay_ms: delay.as_secs_f64() * 1e3,
            });
            write_frame(&mut up_send, &frame).await.context("forwarding frame")?;
        }
        up_send.finish().context("finishing upstream stream")?;
        back.await.context("reply relay task")?.context("relaying the receiver's reply")?;
        Ok(())
    }
    .instrument(span)
    .await
}

/// Delay, jitter and rate limit of the link for one transmission. Frames leave in
/// the order they came (one QUIC stream), so a frame waits at least until the one
/// before it has left and, with a rate limit, until the link has finished
/// serialising it.
struct LinkTiming {
    cfg: NetworkConfig,
    rng: ChaCha8Rng,
    /// When the previous frame left.
    last_release: Option<Instant>,
}

impl LinkTiming {
    fn new(cfg: &NetworkConfig, seed: u64) -> Self {
        // Its own stream of random numbers: changing the jitter does not change the
        // channel noise of the same seed.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1);
        Self { cfg: cfg.clone(), rng, last_release: None }
    }

    /// Waits until the frame may leave; returns how long it was held.
    async fn hold(&mut self, symbols: usize) -> Duration {
        let arrival = Instant::now();
        let jitter =
            if self.cfg.jitter_ms > 0.0 { (self.rng.random::<f64>() * 2.0 - 1.0) * self.cfg.jitter_ms } else { 0.0 };
        let mut release = arrival + Duration::from_secs_f64(((self.cfg.delay_ms + jitter) / 1e3).max(0.0));
        if self.cfg.rate_symbols_per_s > 0.0 {
            let link_free = self.last_release.map_or(arrival, |t| t.max(arrival));
            let done = link_free + Duration::from_secs_f64(symbols as f64 / self.cfg.rate_symbols_per_s);
            release = release.max(done);
        }
        if let Some(last) = self.last_release {
            release = release.max(last);
        }
        if release > arrival {
            tokio::time::sleep_until(release).await;
        }
        self.last_release = Some(release);
        release.saturating_duration_since(arrival)
    }
}
