//! The QUIC relay: every stream from the sender is re-opened towards the receiver;
//! the header passes unchanged, every symbol frame goes through the channel model,
//! and the receiver's reply flows back untouched.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use semcom_net::{quinn, read_frame, read_message, write_frame, write_message, SymbolFrame};
use semcom_phy::link_channel::{FrameEffect, LinkChannel};
use semcom_proto::v1::wire::TransmissionHeader;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
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
        // Reading and forwarding run apart, so that frames are in flight together as
        // on a real link: each frame's hold starts when it arrives, not when the one
        // before it has left.
        let (queue, scheduled) = mpsc::unbounded_channel();
        let forwarder = tokio::spawn(forward(scheduled, up_send, shared));
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT_SYMBOLS));
        let read = async {
            while let Some(mut frame) =
                read_frame(&mut down_recv, MAX_FRAME_SYMBOLS).await.context("reading frame from sender")?
            {
                let arrival = Instant::now();
                let symbols = frame.symbols.len();
                let permit = Arc::clone(&in_flight)
                    .acquire_many_owned(u32::try_from(symbols).context("frame size")?)
                    .await
                    .context("in-flight limit")?;
                let effect = if frame.erased {
                    // Already lost upstream (e.g. a chain of proxies): stays lost.
                    FrameEffect { erased: true, ..FrameEffect::default() }
                } else {
                    channel.apply_frame(&mut frame.symbols)
                };
                frame.erased = effect.erased;
                let release = timing.schedule(arrival, symbols);
                let record = FrameRecord {
                    symbols,
                    erased: effect.erased,
                    signal_energy: effect.signal_energy,
                    noise_energy: effect.noise_energy,
                    gain_energy: effect.gain_energy,
                    delay_ms: release.saturating_duration_since(arrival).as_secs_f64() * 1e3,
                };
                if queue.send(Scheduled { frame, record, release, _permit: permit }).is_err() {
                    // The forwarder has stopped; its error says why.
                    break;
                }
            }
            anyhow::Ok(())
        };
        if let Err(e) = read.await {
            forwarder.abort();
            return Err(e);
        }
        drop(queue);
        forwarder.await.context("forwarder task")??;
        back.await.context("reply relay task")?.context("relaying the receiver's reply")?;
        Ok(())
    }
    .instrument(span)
    .await
}

/// Beyond this many symbols read but not yet forwarded the relay stops reading (the
/// sender's stream is held back): a bound on memory far above any image's
/// transmission. Larger than the largest frame, so a frame always fits.
const MAX_IN_FLIGHT_SYMBOLS: usize = 1 << 22;
const _: () = assert!(MAX_FRAME_SYMBOLS <= MAX_IN_FLIGHT_SYMBOLS);

/// A frame on its way through the link: what the channel did to it and when it
/// leaves.
struct Scheduled {
    frame: SymbolFrame,
    record: FrameRecord,
    release: Instant,
    /// Its share of [`MAX_IN_FLIGHT_SYMBOLS`], returned once it has left.
    _permit: OwnedSemaphorePermit,
}

/// Forwards each frame at its release time, in order, then finishes the stream.
async fn forward(
    mut scheduled: mpsc::UnboundedReceiver<Scheduled>,
    mut up_send: quinn::SendStream,
    shared: Shared,
) -> Result<()> {
    while let Some(s) = scheduled.recv().await {
        tokio::time::sleep_until(s.release).await;
        shared.record_frame(&s.record);
        write_frame(&mut up_send, &s.frame).await.context("forwarding frame")?;
    }
    up_send.finish().context("finishing upstream stream")?;
    Ok(())
}

/// Longest a frame is ever held: bounds the arithmetic (a rate limit of almost
/// nothing would otherwise overflow a `Duration`); validation keeps real settings far
/// below it.
const MAX_HOLD: Duration = Duration::from_secs(365 * 24 * 3600);

/// `secs` as a duration, 0 for anything not positive, at most [`MAX_HOLD`].
fn hold_duration(secs: f64) -> Duration {
    if secs > 0.0 {
        Duration::try_from_secs_f64(secs).map_or(MAX_HOLD, |d| d.min(MAX_HOLD))
    } else {
        Duration::ZERO
    }
}

/// Delay, jitter and rate limit of the link for one transmission. A rate limit
/// serialises the frames onto the link one after another; each then travels for the
/// delay (± jitter). Frames leave in the order they came (one QUIC stream), so a
/// frame also waits until the one before it has left. Frames travel together: the
/// delay delays each frame, it does not limit the rate.
struct LinkTiming {
    cfg: NetworkConfig,
    rng: ChaCha8Rng,
    /// When the link has finished serialising the frames so far (rate limit only).
    link_free: Option<Instant>,
    /// When the previous frame leaves.
    last_release: Option<Instant>,
}

impl LinkTiming {
    fn new(cfg: &NetworkConfig, seed: u64) -> Self {
        // Its own stream of random numbers: changing the jitter does not change the
        // channel noise of the same seed.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1);
        Self { cfg: cfg.clone(), rng, last_release: None, link_free: None }
    }

    /// When a frame of `symbols` that arrived at `arrival` leaves.
    fn schedule(&mut self, arrival: Instant, symbols: usize) -> Instant {
        let jitter =
            if self.cfg.jitter_ms > 0.0 { (self.rng.random::<f64>() * 2.0 - 1.0) * self.cfg.jitter_ms } else { 0.0 };
        let mut sent = arrival;
        if self.cfg.rate_symbols_per_s > 0.0 {
            let start = self.link_free.map_or(arrival, |t| t.max(arrival));
            sent = later(start, hold_duration(symbols as f64 / self.cfg.rate_symbols_per_s));
            self.link_free = Some(sent);
        }
        let mut release = later(sent, hold_duration((self.cfg.delay_ms + jitter) / 1e3));
        if let Some(last) = self.last_release {
            release = release.max(last);
        }
        self.last_release = Some(release);
        release
    }
}

/// `t + d`, or [`MAX_HOLD`] after `t` where that would not fit.
fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or_else(|| t + MAX_HOLD)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(delay_ms: f64, jitter_ms: f64, rate_symbols_per_s: f64) -> LinkTiming {
        LinkTiming::new(&NetworkConfig { delay_ms, jitter_ms, rate_symbols_per_s }, 1)
    }

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1e3
    }

    /// Frames arriving together all leave one delay later: the delay is paid once
    /// per transmission, not once per frame.
    #[test]
    fn a_delay_delays_every_frame_once() {
        let mut t = timing(20.0, 0.0, 0.0);
        let t0 = Instant::now();
        for i in 0..24 {
            let arrival = t0 + Duration::from_micros(100 * i);
            assert_eq!(t.schedule(arrival, 1024), arrival + Duration::from_millis(20), "frame {i}");
        }
    }

    /// A rate limit serialises frames back to back; the delay comes on top of the
    /// serialisation, once.
    #[test]
    fn a_rate_limit_serialises_and_the_delay_adds_once() {
        let mut t = timing(20.0, 0.0, 1e6);
        let t0 = Instant::now();
        let releases: Vec<Instant> = (0..10).map(|_| t.schedule(t0, 1000)).collect();
        for (k, r) in releases.iter().enumerate() {
            // Frame k has left the link after (k + 1) ms of serialisation.
            assert!((ms(*r - t0) - (20.0 + (k + 1) as f64)).abs() < 1e-6, "frame {k}: {} ms", ms(*r - t0));
        }
        // A frame arriving after the link went idle is not held for the earlier ones.
        let late = t0 + Duration::from_millis(100);
        assert!((ms(t.schedule(late, 1000) - late) - 21.0).abs() < 1e-6);
    }

    /// Jitter spreads the holds over ± jitter around the delay, and never reorders
    /// frames: one that drew a shorter hold waits for the one before it.
    #[test]
    fn jitter_spreads_without_reordering() {
        let mut t = timing(20.0, 10.0, 0.0);
        let t0 = Instant::now();
        // Frames far apart: each hold is the delay plus its own jitter.
        let holds: Vec<f64> = (0..200)
            .map(|i| {
                let arrival = t0 + Duration::from_millis(100 * i);
                ms(t.schedule(arrival, 100) - arrival)
            })
            .collect();
        assert!(holds.iter().all(|h| (10.0..=30.0).contains(h)), "{holds:?}");
        let (lo, hi) = holds.iter().fold((f64::MAX, f64::MIN), |(lo, hi), h| (lo.min(*h), hi.max(*h)));
        assert!(lo < 12.0 && hi > 28.0, "holds within [{lo}, {hi}] ms");
        // Frames together: in order, each at least the delay minus the jitter.
        let t1 = t0 + Duration::from_secs(60);
        let releases: Vec<Instant> = (0..200).map(|_| t.schedule(t1, 100)).collect();
        assert!(releases.windows(2).all(|w| w[0] <= w[1]), "frames reordered");
        assert!(ms(releases[0] - t1) >= 10.0);
    }

    /// A rate of almost nothing holds frames for a bounded time instead of
    /// overflowing.
    #[test]
    fn a_tiny_rate_saturates_instead_of_panicking() {
        let mut t = timing(0.0, 0.0, 1e-20);
        let t0 = Instant::now();
        let first = t.schedule(t0, 1024);
        assert_eq!(first, t0 + MAX_HOLD);
        assert!(t.schedule(t0, 1024) >= first);
        assert_eq!(hold_duration(f64::NAN), Duration::ZERO);
        assert_eq!(hold_duration(f64::INFINITY), MAX_HOLD);
    }
}
