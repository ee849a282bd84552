//! gRPC API: submit images and watch their jobs.

use std::pin::Pin;

use futures::Stream;
use semcom_codec::image_io::{decode_image, ImageLimits};
use semcom_codec::segment::{Roi, RoiMask};
use semcom_codec::semantic::SemanticReport;
use semcom_phy::link_channel::{LinkChannel, LinkChannelConfig};
use semcom_proto::v1::sender_server::Sender;
use semcom_proto::v1::{
    ChannelUseSplit, Codec, JobEvent, SubmitRequest, SubmitResponse, TransmitOptions, WatchJobRequest,
};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use crate::codec::{CodecKind, Codecs, EncodeRequest};
use crate::jobs::{is_terminal, Jobs};
use crate::link::{frames_of, Job};

pub(crate) struct SenderApi {
    pub jobs: Jobs,
    pub queue: mpsc::Sender<Job>,
    pub limits: ImageLimits,
    pub codecs: Codecs,
    pub default_codec: CodecKind,
    pub default_rho: f64,
    pub frame_symbols: usize,
}

/// Largest bandwidth ratio accepted: beyond a few channel uses per real sample
/// nothing improves and memory grows.
const MAX_RHO: f64 = 4.0;
/// Request-side bounds on the semantic options; the codec clips further (the
/// caption to the prompt's limit, ROIs to the image).
const MAX_CAPTION_BYTES: usize = 1024;
const MAX_ROIS: usize = 64;

/// The options a request gives, checked; gRPC's INVALID_ARGUMENT on anything absurd.
fn encode_request(options: &TransmitOptions, default_rho: f64, limits: &ImageLimits) -> Result<EncodeRequest, Status> {
    let rho = if options.rho == 0.0 { default_rho } else { options.rho };
    if !rho.is_finite() || rho <= 0.0 || rho > MAX_RHO {
        return Err(Status::invalid_argument(format!("rho must be in (0, {MAX_RHO}], got {rho}")));
    }
    // Without CSI feedback, a sender that simulates the channel itself knows its SNR.
    let snr_db = options.expected_snr_db.or(options.simulate_snr_db);
    if snr_db.is_some_and(|s| !s.is_finite()) {
        return Err(Status::invalid_argument("expected_snr_db must be finite"));
    }
    if options.caption.as_ref().is_some_and(|c| c.len() > MAX_CAPTION_BYTES) {
        return Err(Status::invalid_argument(format!("caption longer than {MAX_CAPTION_BYTES} bytes")));
    }
    if options.rois.len() > MAX_ROIS {
        return Err(Status::invalid_argument(format!("{} ROIs, at most {MAX_ROIS}", options.rois.len())));
    }
    let mut rois: Vec<Roi> =
        options.rois.iter().map(|r| Roi::Rect { x: r.x, y: r.y, width: r.width, height: r.height }).collect();
    if !options.roi_mask.is_empty() {
        rois.push(roi_mask(&options.roi_mask, limits)?);
    }
    Ok(EncodeRequest { rho, snr_db, rois, caption: options.caption.clone() })
}

/// A ROI mask image → per-pixel ROI flags (luma above mid-grey), decoded with the same
/// bounds as the image itself.
fn roi_mask(bytes: &[u8], limits: &ImageLimits) -> Result<Roi, Status> {
    let img = decode_image(bytes, limits).map_err(|e| Status::invalid_argument(format!("roi_mask: {e}")))?;
    let (w, h) = img.dimensions();
    let bits = image::DynamicImage::ImageRgb8(img).to_luma8().pixels().map(|p| p.0[0] > 127).collect();
    RoiMask::new(w, h, bits).map(Roi::PixelMask).map_err(|e| Status::invalid_argument(format!("roi_mask: {e}")))
}

fn semantic_report(r: &SemanticReport) -> semcom_proto::v1::SemanticReport {
    semcom_proto::v1::SemanticReport {
        mcs: u32::from(r.mcs),
        key_share: r.key_share,
        key_blocks: r.key_blocks as u32,
        blocks: r.blocks as u32,
        detail: r.detail.clone(),
        prompt_segments: r.prompt_segments as u32,
        prompt_bytes: r.prompt_bytes as u64,
        header_bytes: r.header_bytes as u64,
        mask_bytes: r.mask_bytes as u64,
        side_bytes: r.side_bytes as u64,
        key_coefficients: r.key_coefficients as u64,
        chunks_sent: r.chunks_sent as u64,
        chunks_total: r.chunks_total as u64,
    }
}

#[tonic::async_trait]
impl Sender for SenderApi {
    async fn submit(&self, req: Request<SubmitRequest>) -> Result<Response<SubmitResponse>, Status> {
        let req = req.into_inner();
        let options = req.options.unwrap_or_default();
        let request = encode_request(&options, self.default_rho, &self.limits)?;
        let kind = match Codec::try_from(options.codec) {
            Ok(Codec::Unspecified) => self.default_codec,
            Ok(Codec::Semantic) => CodecKind::Semantic,
            Ok(Codec::Softcast) => CodecKind::Softcast,
            Err(_) => return Err(Status::invalid_argument(format!("unknown codec {}", options.codec))),
        };
        // The in-process channel is the very one channel-sim applies on the wire.
        let channel = match options.simulate_snr_db {
            Some(snr_db) => {
                let cfg = LinkChannelConfig { snr_db, seed: options.seed, ..LinkChannelConfig::default() };
                Some(LinkChannel::new(&cfg, 0).map_err(|e| Status::invalid_argument(format!("simulate_snr_db: {e}")))?)
            }
            None => None,
        };
        let limits = self.limits;
        let frame_symbols = self.frame_symbols;
        let codecs = self.codecs.clone();
        let rho = request.rho;
        // Decoding and encoding are CPU work: keep them off the async workers.
        let (encoded, frames, (height, width)) = tokio::task::spawn_blocking(move || -> Result<_, Status> {
            let img = decode_image(&req.image, &limits).map_err(|e| Status::invalid_argument(format!("image: {e}")))?;
            let e =
                codecs.encode(kind, &img, &request).map_err(|e| Status::invalid_argument(format!("encoding: {e}")))?;
            let mut frames = frames_of(&e.sections, e.meta_mcs, frame_symbols);
            if let Some(mut channel) = channel {
                for f in &mut frames {
                    f.erased = channel.apply_frame(&mut f.symbols).erased;
                }
            }
            Ok((e, frames, (img.height(), img.width())))
        })
        .await
        .map_err(|e| Status::internal(format!("encoder task: {e}")))??;

        let id = uuid::Uuid::new_v4().to_string();
        let s = &encoded.split;
        let report = encoded.semantic.as_ref();
        let (header_symbols, prompt_symbols) =
            report.map_or((0, 0), |r| (r.header_symbols as u64, r.prompt_symbols as u64));
        let split = ChannelUseSplit {
            pilots: s.pilots as u64,
            meta: s.meta as u64,
            analog: s.analog as u64,
            total: s.total as u64,
            rho: s.rho(height, width),
            symbols_per_pixel: s.symbols_per_pixel(height, width),
            header_symbols,
            prompt_symbols,
            budget: s.budget as u64,
        };
        self.jobs.create(&id, s.total as u64);
        tracing::info!(
            job_id = %id,
            name = %req.name,
            codec = encoded.codec_id,
            rho,
            channel_uses = s.total,
            mcs = encoded.meta_mcs,
            "job queued"
        );
        self.queue
            .send(Job { id: id.clone(), codec: encoded.codec_id, settings: encoded.settings, frames })
            .await
            .map_err(|_| Status::unavailable("the transmitter has stopped"))?;
        Ok(Response::new(SubmitResponse {
            job_id: id,
            split: Some(split),
            codec: encoded.codec_id.to_owned(),
            semantic: report.map(semantic_report),
        }))
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

#[cfg(test)]
mod tests {
    use semcom_proto::v1::Rect;

    use super::*;

    #[test]
    fn request_options_map_to_the_codec_request() {
        let lim = ImageLimits::default();
        let o = TransmitOptions {
            simulate_snr_db: Some(7.0),
            caption: Some("sky".into()),
            rois: vec![Rect { x: 1, y: 2, width: 3, height: 4 }],
            ..TransmitOptions::default()
        };
        let r = encode_request(&o, 0.25, &lim).expect("valid");
        // rho 0 = the default; no CSI, but the simulated channel's SNR is known.
        assert_eq!((r.rho, r.snr_db, r.caption.as_deref()), (0.25, Some(7.0), Some("sky")));
        assert_eq!(r.rois, vec![Roi::Rect { x: 1, y: 2, width: 3, height: 4 }]);
        let r = encode_request(&TransmitOptions { expected_snr_db: Some(-3.0), ..o }, 0.25, &lim).expect("valid");
        assert_eq!(r.snr_db, Some(-3.0), "CSI feedback wins over the simulation's SNR");
        assert_eq!(encode_request(&TransmitOptions::default(), 0.25, &lim).expect("valid").snr_db, None);
        for bad in [
            TransmitOptions { rho: -1.0, ..TransmitOptions::default() },
            TransmitOptions { expected_snr_db: Some(f64::NAN), ..TransmitOptions::default() },
            TransmitOptions { caption: Some("x".repeat(MAX_CAPTION_BYTES + 1)), ..TransmitOptions::default() },
            TransmitOptions { rois: vec![Rect::default(); MAX_ROIS + 1], ..TransmitOptions::default() },
            TransmitOptions { roi_mask: b"not an image".to_vec(), ..TransmitOptions::default() },
        ] {
            let err = encode_request(&bad, 0.25, &lim).expect_err("refused");
            assert_eq!(err.code(), tonic::Code::InvalidArgument);
        }
    }

    #[test]
    fn a_roi_mask_image_becomes_a_pixel_roi() {
        // 4×2 mask: the right half bright.
        let img =
            image::RgbImage::from_fn(
                4,
                2,
                |x, _| if x >= 2 { image::Rgb([255, 255, 255]) } else { image::Rgb([0, 0, 0]) },
            );
        let png = semcom_codec::image_io::encode_png(&img).expect("png");
        let o = TransmitOptions { roi_mask: png, ..TransmitOptions::default() };
        let r = encode_request(&o, 0.25, &ImageLimits::default()).expect("valid");
        let expected = RoiMask::new(4, 2, vec![false, false, true, true, false, false, true, true]).expect("mask");
        assert_eq!(r.rois, vec![Roi::PixelMask(expected)]);
    }
}
