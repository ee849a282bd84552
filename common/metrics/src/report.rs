//! All metrics for one image pair in one serialisable struct.

use image::RgbImage;
use serde::Serialize;

use crate::{gmsd, ms_ssim, psnr, ssim, swd, vsi, MetricsError, SwdReport};

/// Seed used by [`report`] for SWD patch subsampling and directions.
pub const REPORT_SWD_SEED: u64 = 0;

/// Every metric of this crate for one (reference, distorted) pair. Full-reference metrics
/// are computed on the whole image; SWD on the mask when one is given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// dB, higher is better ([`crate::psnr`]).
    pub psnr: f64,
    /// Higher is better ([`crate::ssim`]).
    pub ssim: f64,
    /// Higher is better; `None` if a side is below 161 pixels ([`crate::ms_ssim`]).
    pub ms_ssim: Option<f64>,
    /// Higher is better ([`crate::vsi`]).
    pub vsi: f64,
    /// Lower is better ([`crate::gmsd`]).
    pub gmsd: f64,
    /// Lower is better; `None` if the image (short side < 16) or the mask is too small
    /// ([`crate::swd()`]).
    pub swd: Option<SwdReport>,
}

/// Computes a [`Report`]. Errors on dimension mismatch, empty images, images too small for
/// SSIM (11×11 after its downsampling) or a mask of the wrong length; MS-SSIM and SWD
/// become `None` when only they cannot be computed.
pub fn report(a: &RgbImage, b: &RgbImage, mask: Option<&[bool]>) -> Result<Report, MetricsError> {
    let ms_ssim = match ms_ssim(a, b) {
        Ok(v) => Some(v),
        Err(MetricsError::TooSmallForMsSsim { .. }) => None,
        Err(e) => return Err(e),
    };
    let swd = match swd(a, b, mask, REPORT_SWD_SEED) {
        Ok(r) => Some(r),
        Err(MetricsError::TooSmallForSwd { .. } | MetricsError::MaskTooSmall { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(Report { psnr: psnr(a, b)?, ssim: ssim(a, b)?, ms_ssim, vsi: vsi(a, b)?, gmsd: gmsd(a, b)?, swd })
}
