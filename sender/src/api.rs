//! gRPC API: submit images and watch their jobs.

use std::pin::Pin;

use futures::Stream;
use semcom_codec::image_io::{decode_image, ImageLimits};
use semcom_codec::softcast::{self, SoftCastConfig};
use semcom_phy::link_channel::{LinkChannel, LinkChannelConfig};
use semcom_proto::v1::sender_server::Sender;
use semcom_proto::v1::{ChannelUseSplit, JobEvent, SubmitRequest, SubmitResponse, WatchJobRequest};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use crate::jobs::{is_terminal, Jobs};
use crate::link::{frames_of, Job};

pub(crate) struct SenderApi {
    pub jobs: Jobs,
    pub queue: mpsc::Sender<Job>,
    pub limits: ImageLimits,
    pub codec: SoftCastConfig,
    pub default_rho: f64,
    pub frame_symbols: usize,
}

/// Largest bandwidth ratio accepted: beyond a few channel uses per real sample
/// nothing improves and memory grows.
const MAX_RHO: f64 = 4.0;

#[tonic::async_trait]
impl Sender for SenderApi {
    async fn submit(&self, req: Request<SubmitRequest>) -> Result<Response<SubmitResponse>, Status> {
        let req = req.into_inner();
        let options = req.options.unwrap_or_default();
        let rho = if options.rho == 0.0 { self.default_rho } else { options.rho };
        if !rho.is_finite() || rho <= 0.0 || rho > MAX_RHO {
            return Err(Status::invalid_argument(format!("rho must be in (0, {MAX_RHO}], got {rho}")));
        }
        // The in-process channel is the very one channel-sim applies on the wire.
        let channel = match options.simulate_snr_db {
            Some(snr_db) => {
                let cfg = LinkChannelConfig { snr_db, seed: options.seed, ..LinkChannelConfig::default() };
                Some(LinkChannel::new(&cfg, 0).map_err(|e| Status::invalid_argument(format!("simulate_snr_db: {e}")))?)
            }
            None => None,
        };
        let limits = self.limits.clone();
        let frame_symbols = self.frame_symbols;
        let codec = self.codec.clone();
        // Decoding and encoding are CPU work: keep them off the async workers.
        let (transmission, frames, (height, width)) = tokio::task::spawn_blocking(move || -> Result<_, Status> {
            let img = decode_image(&req.image, &limits).map_err(|e| Status::invalid_argument(format!("image: {e}")))?;
            let t = softcast::encode(&img, rho, &codec).map_err(|e| Status::invalid_argument(format!("encoding: {e}")))?;
            let mut frames = frames_of(&t, codec.meta_mcs, frame_symbols);
            if let Some(mut channel) = channel {
                for f in &mut frames {
                    f.erased = channel.apply_frame(&mut f.symbols).erased;
                }
            }
            Ok((t, frames, (img.height(), img.width())))
        })
        .await
        .map_err(|e| Status::internal(format!("encoder task: {e}")))??;

        let id = uuid::Uuid::new_v4().to_string();
        let s = &transmission.split;
        let split = ChannelUseSplit {
            pilots: s.pilots as u64,
            meta: s.meta as u64,
            analog: s.analog as u64,
            total: s.total as u64,
            rho: s.rho(height, width),
            symbols_per_pixel: s.symbols_per_pixel(height, width),
        };
        self.jobs.create(&id, s.total as u64);
        tracing::info!(job_id = %id, name = %req.name, rho, channel_uses = s.total, "job queued");
        self.queue
            .send(Job { id: id.clone(), frames })
            .await
            .map_err(|_| Status::unavailable("the transmitter has stopped"))?;
        Ok(Response::new(SubmitResponse { job_id: id, split: Some(split) }))
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<JobEvent, Status>> + Send>>;

    async fn watch(&self, req: Request<WatchJobRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let id = req.into_inner().job_id;
        let mut rx = self.jobs.subscribe(&id).ok_or_else(|| Status::not_found(format!("no job with id {id:?}")))?;
        let stream = async_stream(move |yield_tx| async move {
            loop {
                let event = rx.borrow_and_update().clone();
                let done = is_terminal(event.state);
                if yield_tx.send(Ok(event)).await.is_err() || done {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(stream))
    }
}

/// A stream fed by a task through a small channel (keeps `Watch` free of an extra
/// stream-macro dependency).
fn async_stream<F, Fut>(f: F) -> Pin<Box<dyn Stream<Item = Result<JobEvent, Status>> + Send>>
where
    F: FnOnce(mpsc::Sender<Result<JobEvent, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(f(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
