//! Codec dispatch: the transmission header names the codec, this module turns the
//! received stream into an image plus what gets stored next to it. Everything
//! codec-specific on the receiver ends here.

use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use image::{GrayImage, ImageEncoder, Luma};
use semcom_codec::generate::Generator;
use semcom_codec::prompt::{prompt_to_json, RepairSource};
use semcom_codec::segment::BlockMask;
use semcom_codec::semantic::{self, SemanticConfig, SemanticReconstruction};
use semcom_codec::settings::{semantic_settings, softcast_settings, CodecSettings};
use semcom_codec::softcast::{self, SoftCastConfig};
use semcom_codec::stream::{ChannelUseSplit, Received};

use crate::store::{ChannelUses, RepairMeta, SemanticMeta};

/// The receiver's codecs (configurations must match the sender's).
pub(crate) struct Decoders {
    pub softcast: SoftCastConfig,
    pub semantic: SemanticConfig,
    pub generator: Arc<dyn Generator>,
}

impl Decoders {
    /// The settings a sender of `codec` must share with this receiver, or None for a
    /// codec it does not decode.
    pub fn settings(&self, codec: &str) -> Option<CodecSettings> {
        if codec == softcast::CODEC_ID {
            Some(softcast_settings(&self.softcast))
        } else if codec == semantic::CODEC_ID {
            Some(semantic_settings(&self.semantic))
        } else {
            None
        }
    }
}

/// One reconstruction with everything the store needs.
pub(crate) struct Decoded {
    pub width: u32,
    pub height: u32,
    pub png: Vec<u8>,
    pub snr_est_db: f64,
    pub n0_est: f64,
    pub mean_gain_est: f64,
    pub erased_analog: usize,
    pub meta_iterations: usize,
    pub mcs: u8,
    pub channel_uses: ChannelUses,
    pub split: ChannelUseSplit,
    pub chunks_sent: Option<usize>,
    pub generator: Option<String>,
    pub semantic: Option<SemanticMeta>,
    /// Files stored next to `<id>.png`: (suffix after the id, bytes).
    pub extra_files: Vec<(&'static str, Vec<u8>)>,
}

/// File suffixes of a semantic result, after `<id>`.
pub const MASK_SUFFIX: &str = ".mask.png";
pub const PROMPT_JSON_SUFFIX: &str = ".prompt.json";
pub const PROMPT_TEXT_SUFFIX: &str = ".prompt.txt";

/// Decodes one transmission (blocking: call from a blocking context).
pub(crate) fn decode(codec: &str, rx: &Received, d: &Decoders, max_dimension: u32) -> Result<Decoded> {
    let decoded = if codec == softcast::CODEC_ID {
        let r = softcast::decode(rx, &d.softcast).context("reconstructing")?;
        check_size(r.image.width(), r.image.height(), max_dimension)?;
        Decoded {
            width: r.image.width(),
            height: r.image.height(),
            png: semcom_codec::image_io::encode_png(&r.image).context("encoding PNG")?,
            snr_est_db: r.snr_est_db,
            n0_est: r.n0_est,
            mean_gain_est: r.mean_gain_est,
            erased_analog: r.erased_analog,
            meta_iterations: r.meta_iterations,
            mcs: rx.meta_mcs,
            channel_uses: ChannelUses::from_split(&r.split),
            split: r.split,
            chunks_sent: Some(r.chunks_sent),
            generator: None,
            semantic: None,
            extra_files: Vec::new(),
        }
    } else if codec == semantic::CODEC_ID {
        let r = semantic::decode(rx, &d.semantic, d.generator.as_ref()).context("reconstructing")?;
        check_size(r.image.width(), r.image.height(), max_dimension)?;
        semantic_result(r)?
    } else {
        return Err(anyhow!("codec {codec:?} not supported"));
    };
    Ok(decoded)
}

fn check_size(w: u32, h: u32, max_dimension: u32) -> Result<()> {
    if w > max_dimension || h > max_dimension {
        return Err(anyhow!("reconstruction of {w}x{h} exceeds the limit of {max_dimension}"));
    }
    Ok(())
}

fn semantic_result(r: SemanticReconstruction) -> Result<Decoded> {
    let (w, h) = r.image.dimensions();
    let mut channel_uses = ChannelUses::from_split(&r.split);
    channel_uses.header = Some(r.header_symbols);
    channel_uses.prompt = Some(r.prompt_symbols);
    let prompt_json = serde_json::to_vec_pretty(&prompt_to_json(&r.prompt)).context("prompt JSON")?;
    let semantic = SemanticMeta {
        key_share: r.key_mask.key_share(),
        key_blocks: r.key_mask.count(),
        blocks: r.key_mask.bits().len(),
        prompt_segments: r.prompt.segments.len(),
        failed_records: r.failed_records.clone(),
        repairs: r
            .repairs
            .iter()
            .map(|rep| {
                let (source, neighbours) = match &rep.source {
                    RepairSource::Neighbours(n) => ("neighbours", n.clone()),
                    RepairSource::NeutralPrior => ("neutral_prior", Vec::new()),
                };
                RepairMeta {
                    segment: rep.segment,
                    geometry_replaced: rep.geometry_replaced,
                    source: source.to_owned(),
                    neighbours,
                }
            })
            .collect(),
        prompt_text: r.prompt_text.clone(),
    };
    let extra_files = vec![
        (MASK_SUFFIX, mask_png(&r.key_mask, w, h)?),
        (PROMPT_JSON_SUFFIX, prompt_json),
        (PROMPT_TEXT_SUFFIX, format!("{}\n", r.prompt_text).into_bytes()),
    ];
    Ok(Decoded {
        width: w,
        height: h,
        png: semcom_codec::image_io::encode_png(&r.image).context("encoding PNG")?,
        snr_est_db: r.snr_est_db,
        n0_est: r.n0_est,
        mean_gain_est: r.mean_gain_est,
        erased_analog: r.erased_analog,
        meta_iterations: 0,
        mcs: r.mcs,
        channel_uses,
        split: r.split,
        chunks_sent: None,
        generator: Some(r.generator.clone()),
        semantic: Some(semantic),
        extra_files,
    })
}

/// The key mask at image resolution: 255 on key pixels, 0 elsewhere.
pub(crate) fn mask_png(mask: &BlockMask, width: u32, height: u32) -> Result<Vec<u8>> {
    let img = GrayImage::from_fn(width, height, |x, y| Luma([if mask.is_key_pixel(x, y) { 255 } else { 0 }]));
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::L8)
        .context("encoding mask PNG")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use semcom_codec::semantic::{SemanticConfig, SemanticRequest};
    use semcom_models::{DiffusionSettings, GeneratorKind};

    use super::*;

    fn sample() -> image::RgbImage {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/chelsea.png");
        image::open(path).expect("sample").to_rgb8()
    }

    /// A noiseless semantic transmission decodes into a stored result whose files
    /// agree with each other and with the sender: mask at image size and key share,
    /// one JSON segment per prompt segment, header + prompt = the digital part.
    #[test]
    fn semantic_result_files_are_consistent() {
        let img = sample();
        let cfg = SemanticConfig::default();
        let req = SemanticRequest {
            rho: 1.0 / 32.0,
            snr_db: Some(20.0),
            caption: Some("a cat".into()),
            ..Default::default()
        };
        let tx = semantic::encode(&img, &req, &cfg).expect("encode");
        let d = Decoders { softcast: SoftCastConfig::default(), semantic: cfg, generator: classical() };
        let out = decode(semantic::CODEC_ID, &semantic::noiseless(&tx), &d, 8192).expect("decode");
        assert_eq!((out.width, out.height), img.dimensions());
        assert_eq!(out.generator.as_deref(), Some("classical"));
        assert_eq!(out.mcs, tx.report.mcs);
        let cu = &out.channel_uses;
        assert_eq!(cu.pilots + cu.meta + cu.analog, cu.total);
        assert_eq!((cu.header, cu.prompt), (Some(tx.report.header_symbols), Some(tx.report.prompt_symbols)));
        let sem = out.semantic.as_ref().expect("semantic meta");
        assert!(sem.failed_records.is_empty() && sem.repairs.is_empty());
        assert!((sem.key_share - tx.report.key_share).abs() < 1e-12);

        let file = |suffix: &str| &out.extra_files.iter().find(|(s, _)| *s == suffix).expect(suffix).1;
        let mask = image::load_from_memory(file(MASK_SUFFIX)).expect("mask PNG").to_luma8();
        assert_eq!(mask.dimensions(), img.dimensions());
        assert!(mask.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
        let key_px = mask.pixels().filter(|p| p.0[0] == 255).count();
        let expected_px = (0..img.height())
            .flat_map(|y| (0..img.width()).map(move |x| (x, y)))
            .filter(|&(x, y)| tx.key_mask.is_key_pixel(x, y))
            .count();
        assert_eq!(key_px, expected_px);

        let v: serde_json::Value = serde_json::from_slice(file(PROMPT_JSON_SUFFIX)).expect("prompt JSON");
        let segs = v["segments"].as_array().expect("segments");
        assert_eq!(segs.len(), tx.prompt.segments.len());
        // Segments cover exactly the non-key blocks, each once.
        let mut covered: Vec<usize> = segs
            .iter()
            .flat_map(|s| s["blocks"].as_array().expect("blocks").iter().map(|b| b.as_u64().expect("index") as usize))
            .collect();
        covered.sort_unstable();
        let non_key: Vec<usize> = tx.key_mask.bits().iter().enumerate().filter(|(_, k)| !**k).map(|(i, _)| i).collect();
        assert_eq!(covered, non_key);
        assert!(segs.iter().any(|s| s["caption"] == "a cat"));
        let text = String::from_utf8(file(PROMPT_TEXT_SUFFIX).clone()).expect("UTF-8");
        assert_eq!(text.trim_end(), sem.prompt_text);
        assert!(text.contains("a cat"));
    }

    fn classical() -> Arc<dyn Generator> {
        GeneratorKind::Classical.build(&DiffusionSettings::default()).expect("classical")
    }

    /// `generator = "diffusion"` with default settings is the embedded int8 model, and it
    /// is the default generator. On the same transmission it keeps
    /// the key pixels exactly as the classical fill does (both show the analog estimate
    /// there) and regenerates the rest differently.
    #[test]
    fn the_embedded_diffusion_generator_keeps_key_pixels_and_fills_the_rest() {
        assert_eq!(GeneratorKind::default(), GeneratorKind::Diffusion);
        let diffusion = GeneratorKind::Diffusion.build(&DiffusionSettings::default()).expect("embedded model");
        assert_eq!(diffusion.name(), "diffusion-int8");
        let img = image::imageops::crop_imm(&sample(), 100, 50, 128, 128).to_image();
        let cfg = SemanticConfig::default();
        let req = SemanticRequest { rho: 1.0 / 32.0, snr_db: Some(20.0), ..Default::default() };
        let tx = semantic::encode(&img, &req, &cfg).expect("encode");
        let rx = semantic::noiseless(&tx);
        let run = |generator: Arc<dyn Generator>| {
            let d = Decoders { softcast: SoftCastConfig::default(), semantic: cfg.clone(), generator };
            let out = decode(semantic::CODEC_ID, &rx, &d, 8192).expect("decode");
            (out.generator.clone(), image::load_from_memory(&out.png).expect("PNG").to_rgb8())
        };
        let (name_d, with_diffusion) = run(diffusion);
        let (name_c, with_classical) = run(classical());
        assert_eq!((name_d.as_deref(), name_c.as_deref()), (Some("diffusion-int8"), Some("classical")));
        assert_eq!(with_diffusion.dimensions(), img.dimensions());
        let (mut key, mut differing) = (0, 0);
        for (x, y, p) in with_diffusion.enumerate_pixels() {
            if tx.key_mask.is_key_pixel(x, y) {
                key += 1;
                assert_eq!(p, with_classical.get_pixel(x, y), "key pixel ({x}, {y})");
            } else if p != with_classical.get_pixel(x, y) {
                differing += 1;
            }
        }
        let non_key = (128 * 128) - key;
        assert!(key > 0 && non_key > 0, "{key} key pixels");
        assert!(differing * 2 > non_key, "only {differing} of {non_key} non-key pixels regenerated differently");
    }

    #[test]
    fn unknown_codecs_are_refused() {
        let d = Decoders {
            softcast: SoftCastConfig::default(),
            semantic: SemanticConfig::default(),
            generator: classical(),
        };
        assert!(d.settings("semantic-v1").is_some() && d.settings("softcast-v1").is_some());
        assert!(d.settings("jpeg").is_none());
        assert!(decode("jpeg", &Received::default(), &d, 8192).is_err());
    }
}
