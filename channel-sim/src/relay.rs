//! The QUIC relay: every stream from the sender is re-opened towards the receiver;
//! the header passes unchanged, every symbol frame goes through the channel model,
//! and the receiver's reply flows back untouched.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use semcom_net::{quinn, read_frame, read_message, write_frame, write_message, Complex32};
use semcom_phy::channel::Awgn;
use semcom_proto::v1::wire::TransmissionHeader;
use tracing::Instrument;

use crate::state::Shared;

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
    let header: TransmissionHeader =
        read_message(&mut down_recv, MAX_HEADER_BYTES).await.context("reading header")?;
    let (model, index) = shared.begin_transmission();
    let span = tracing::info_span!("transmission", job_id = %header.transmission_id);
    async move {
        tracing::info!(snr_db = model.snr_db, enabled = model.enabled, "relaying");
        let (mut up_send, mut up_recv) = up.open_bi().await.context("opening upstream stream")?;
        write_message(&mut up_send, &header).await.context("forwarding header")?;

        let awgn = if model.enabled { Some(Awgn::from_snr_db(model.snr_db).context("channel model")?) } else { None };
        let mut rng = ChaCha8Rng::seed_from_u64(model.seed.wrapping_add(index));
        let back = tokio::spawn(async move {
            // The receiver's acknowledgement, relayed back verbatim.
            let copied = tokio::io::copy(&mut up_recv, &mut down_send).await;
            let _ = down_send.finish();
            copied
        });
        while let Some(mut frame) =
            read_frame(&mut down_recv, MAX_FRAME_SYMBOLS).await.context("reading frame from sender")?
        {
            let signal = energy(&frame.symbols);
            let mut noise = 0.0;
            if let Some(awgn) = &awgn {
                let clean = frame.symbols.clone();
                awgn.apply(&mut frame.symbols, &mut rng);
                noise = frame.symbols.iter().zip(&clean).map(|(y, x)| f64::from((y - x).norm_sqr())).sum();
            }
            shared.record_frame(frame.symbols.len(), signal, noise);
            write_frame(&mut up_send, &frame).await.context("forwarding frame")?;
        }
        up_send.finish().context("finishing upstream stream")?;
        back.await.context("reply relay task")?.context("relaying the receiver's reply")?;
        Ok(())
    }
    .instrument(span)
    .await
}

fn energy(symbols: &[Complex32]) -> f64 {
    symbols.iter().map(|s| f64::from(s.norm_sqr())).sum()
}
