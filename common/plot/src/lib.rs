//! Line charts for semcom's curves (BER/BLER vs SNR, quality vs SNR), written as
//! both SVG and PNG from the same description. The PNG text uses the bundled
//! DejaVu Sans font (assets/, Bitstream Vera licence), so no system fonts are needed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("chart {title:?}: {reason}")]
    Invalid { title: String, reason: String },
    #[error("drawing {path}: {reason}")]
    Draw { path: String, reason: String },
}

/// One curve.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    /// (x, y) points; non-finite points (and y ≤ 0 on a log axis) are skipped.
    pub points: Vec<(f64, f64)>,
    /// Draw the line dashed (reference curves: theory, bounds).
    pub dashed: bool,
}

/// One chart: axes, scales and curves.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_y: bool,
    pub series: Vec<Series>,
    /// Put the legend in the lower-left corner (for falling curves that crowd the
    /// upper right, like BLER waterfalls); upper right otherwise.
    pub legend_lower_left: bool,
}

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The font is compiled in; registration fails only on a corrupt file, and
        // then text falls back to nothing rather than aborting the chart.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// An axis range, `(min, max)`.
type AxisRange = (f64, f64);

impl Chart {
    fn usable(&self, p: &(f64, f64)) -> bool {
        p.0.is_finite() && p.1.is_finite() && (!self.log_y || p.1 > 0.0)
    }

    /// The (x, y) axis ranges, each `(min, max)`.
    fn ranges(&self) -> Result<(AxisRange, AxisRange), PlotError> {
        let pts: Vec<(f64, f64)> =
            self.series.iter().flat_map(|s| s.points.iter().copied()).filter(|p| self.usable(p)).collect();
        if pts.is_empty() {
            return Err(PlotError::Invalid { title: self.title.clone(), reason: "no plottable points".into() });
        }
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in pts {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        if self.log_y {
            // Whole decades look like the textbook BER plots.
            y0 = 10f64.powf(y0.log10().floor());
            y1 = 10f64.powf(y1.log10().ceil().max(y0.log10() + 1.0));
        } else {
            let pad = ((y1 - y0) * 0.05).max(1e-9);
            y0 -= pad;
            y1 += pad;
        }
        Ok(((x0, x1), (y0, y1)))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let ((x0, x1), (y0, y1)) = self.ranges().map_err(|e| e.to_string())?;
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut builder = ChartBuilder::on(root);
        builder.caption(&self.title, ("sans-serif", 22)).margin(12).x_label_area_size(42).y_label_area_size(64);
        let series = &self.series;
        macro_rules! body {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(self.x_label.as_str())
                    .y_desc(self.y_label.as_str())
                    .label_style(("sans-serif", 14))
                    .draw()
                    .map_err(|e| e.to_string())?;
                for (i, s) in series.iter().enumerate() {
                    let color = PALETTE[i % PALETTE.len()];
                    let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(|p| self.usable(p)).collect();
                    let style = ShapeStyle::from(&color).stroke_width(2);
                    let anno = if s.dashed {
                        chart.draw_series(DashedLineSeries::new(pts.clone(), 8, 5, style)).map_err(|e| e.to_string())?
                    } else {
                        chart.draw_series(LineSeries::new(pts.clone(), style)).map_err(|e| e.to_string())?
                    };
                    anno.label(s.label.as_str())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
                    if !s.dashed {
                        chart
                            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                            .map_err(|e| e.to_string())?;
                    }
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .label_font(("sans-serif", 13))
                    .position(if self.legend_lower_left {
                        SeriesLabelPosition::LowerLeft
                    } else {
                        SeriesLabelPosition::UpperRight
                    })
                    .draw()
                    .map_err(|e| e.to_string())?;
            }};
        }
        if self.log_y {
            body!(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale()).map_err(|e| e.to_string())?);
        } else {
            body!(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(|e| e.to_string())?);
        }
        root.present().map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Writes `<stem>.svg` and `<stem>.png` (800×560).
    pub fn save(&self, stem: &Path) -> Result<(), PlotError> {
        register_font();
        let svg = stem.with_extension("svg");
        let png = stem.with_extension("png");
        let err = |path: &Path, reason: String| PlotError::Draw { path: path.display().to_string(), reason };
        {
            let root = SVGBackend::new(&svg, (800, 560)).into_drawing_area();
            self.draw(&root).map_err(|e| err(&svg, e))?;
        }
        {
            let root = BitMapBackend::new(&png, (800, 560)).into_drawing_area();
            self.draw(&root).map_err(|e| err(&png, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_svg_and_png_with_a_log_axis() {
        let dir = tempfile::tempdir().expect("tempdir");
        let chart = Chart {
            title: "BER".into(),
            x_label: "Es/N0 (dB)".into(),
            y_label: "BER".into(),
            log_y: true,
            series: vec![
                Series {
                    label: "sim".into(),
                    points: vec![(0.0, 0.08), (4.0, 0.012), (8.0, 0.0002), (9.0, 0.0)],
                    dashed: false,
                },
                Series { label: "theory".into(), points: vec![(0.0, 0.079), (8.0, 0.00019)], dashed: true },
            ],
            legend_lower_left: false,
        };
        let stem = dir.path().join("ber");
        chart.save(&stem).expect("save");
        let svg = std::fs::read_to_string(stem.with_extension("svg")).expect("svg");
        assert!(svg.contains("<svg") && svg.contains("theory") && svg.contains("Es/N0"));
        let png = std::fs::read(stem.with_extension("png")).expect("png");
        assert_eq!(&png[1..4], b"PNG");
        assert!(png.len() > 5_000, "PNG suspiciously small: {} bytes", png.len());
    }

    #[test]
    fn an_empty_chart_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let chart = Chart {
            title: "x".into(),
            x_label: "".into(),
            y_label: "".into(),
            log_y: true,
            series: vec![],
            legend_lower_left: false,
        };
        assert!(chart.save(&dir.path().join("x")).is_err());
    }
}
