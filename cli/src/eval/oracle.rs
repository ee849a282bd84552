//! The analog reference line: idealised SoftCast (`semcom_codec::baseline::softcast_oracle`)
//! through the cell's channel draw, with the true h of every symbol (perfect CSI), exact
//! side information for free and every channel use analog. Not a system: it shows how
//! far the analog layer is from what its idea allows.

use anyhow::Result;
use semcom_codec::baseline::softcast_oracle;
use semcom_codec::stream::{ChannelUseSplit, Section, SectionKind};
use semcom_phy::channel::Awgn;

use super::channel::transmit_with_gains;
use super::method::{budget, timed, Cell, Method, Outcome};

/// Method name of the reference line.
pub const SOFTCAST_ORACLE: &str = "softcast-oracle";

pub struct SoftCastOracle;

impl Method for SoftCastOracle {
    fn name(&self) -> String {
        SOFTCAST_ORACLE.into()
    }

    fn run(&self, cell: &Cell) -> Result<Outcome> {
        let k = budget(cell.image, cell.rho);
        let (tx, encode_ms) = timed(|| softcast_oracle::encode(cell.image, k));
        let tx = tx?;
        // One analog section, framed and drawn exactly as every other method's stream.
        let sections = [Section { kind: SectionKind::Analog, symbols: tx.symbols }];
        let (out, gains) = transmit_with_gains(&sections, &cell.channel)?;
        // The N0 the channel adds (LinkChannel derives it the same way).
        let n0 = Awgn::from_snr_db(cell.channel.snr_db)?.n0();
        let (image, decode_ms) = timed(|| softcast_oracle::decode(&tx.side, &out.stream, &gains, n0));
        Ok(Outcome {
            image: image?,
            split: ChannelUseSplit { pilots: 0, meta: 0, analog: k, total: k, budget: k },
            mcs: None,
            payload_bytes: None,
            jpeg: None,
            blocks: None,
            blocks_failed: None,
            undecodable: false,
            erased_frames: out.erased_frames,
            encode_ms,
            decode_ms,
        })
    }
}
