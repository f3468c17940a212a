//! The report's charts, drawn by `plotters` into inline SVG strings.

use crate::servers::{Percentiles, TimelineReport};
use plotters::prelude::*;

/// The timeline series drawn, with their colours: attempts and completions,
/// the failed attempts by kind, RSTs, and SYN retransmissions.
const DRAWN: [(&str, RGBColor); 10] = [
    ("attempts", RGBColor(60, 60, 60)),
    ("completed", RGBColor(46, 139, 87)),
    ("refused", RGBColor(214, 39, 40)),
    ("unanswered", RGBColor(255, 127, 14)),
    ("no_final_ack", RGBColor(148, 103, 189)),
    ("aborted", RGBColor(140, 86, 75)),
    ("invalid", RGBColor(227, 119, 194)),
    ("rst_client", RGBColor(23, 190, 207)),
    ("rst_server", RGBColor(31, 119, 180)),
    ("syn_retransmissions", RGBColor(188, 189, 34)),
];

const W: u32 = 820;

/// Intervals drawn at most: a finer timeline (`--interval`) is summed into
/// wider intervals first, so a chart's size stays bounded.
pub const DRAWN_INTERVALS: usize = 512;

/// The timeline with every `k` intervals summed into one.
/// A series' mark in the legend: a short line in its colour.
fn legend_mark(x: i32, y: i32, color: RGBColor) -> PathElement<(i32, i32)> {
    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
}

/// The legend of every chart: top right, on a light box.
fn legend_box<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
}

fn coarsen(t: &TimelineReport, k: usize) -> TimelineReport {
    TimelineReport {
        interval: t.interval * k as f64,
        start: t.start.iter().step_by(k).copied().collect(),
        series: t
            .series
            .iter()
            .map(|(name, v)| (*name, v.chunks(k).map(|c| c.iter().sum()).collect()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fine_timeline_is_summed_into_at_most_the_drawn_intervals() {
        let n = 4096;
        let t = TimelineReport {
            interval: 0.001,
            start: (0..n).map(|i| i as f64 * 0.001).collect(),
            series: [("attempts", vec![1u32; n])].into_iter().collect(),
        };
        let c = coarsen(&t, n.div_ceil(DRAWN_INTERVALS));
        assert_eq!(c.start.len(), DRAWN_INTERVALS);
        assert_eq!(c.series["attempts"].iter().sum::<u32>(), n as u32);
        assert!((c.interval - 0.008).abs() < 1e-12);
        let (svg, drawn) = timeline(&t);
        assert_eq!(drawn, ["attempts"]);
        assert!(svg.len() < 200_000, "{}", svg.len());
    }
}
const H: u32 = 280;

/// Counts per interval as lines, one per series that is not all zero.
/// Returns the SVG and the names of the series drawn.
pub fn timeline(t: &TimelineReport) -> (String, Vec<&'static str>) {
    let merged;
    let t = match t.start.len().div_ceil(DRAWN_INTERVALS) {
        0 | 1 => t,
        k => {
            merged = coarsen(t, k);
            &merged
        }
    };
    let mut svg = String::new();
    let mut drawn = Vec::new();
    let n = t.start.len();
    if n == 0 {
        return (svg, drawn);
    }
    let x_end = (t.start[n - 1] - t.start[0]) + t.interval;
    let y_max = t
        .series
        .values()
        .flat_map(|v| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let result: Result<(), Box<dyn std::error::Error + '_>> = (|| {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(52)
            .build_cartesian_2d(0f64..x_end, 0u32..y_max + y_max / 10 + 1)?;
        chart
            .configure_mesh()
            .x_desc(format!(
                "seconds since the first connection (interval {})",
                secs(t.interval)
            ))
            .y_desc("per interval")
            .light_line_style(RGBColor(238, 238, 238))
            .draw()?;
        for (name, color) in DRAWN {
            let Some(values) = t.series.get(name) else {
                continue;
            };
            if values.iter().all(|&v| v == 0) {
                continue;
            }
            let t0 = t.start[0];
            // A step line: each interval's count held across its width.
            let points = t.start.iter().zip(values).flat_map(|(s, &v)| {
                let x = s - t0;
                [(x, v), (x + t.interval, v)]
            });
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| legend_mark(x, y, color));
            drawn.push(name);
        }
        legend_box(&mut chart)?;
        root.present()?;
        Ok(())
    })();
    if result.is_err() {
        svg.clear();
        drawn.clear();
    }
    (svg, drawn)
}

/// Upper bounds of the time-to-establish histogram's buckets, in seconds:
/// three a decade from 10 µs to 100 s, then one for everything slower.
pub const BUCKET_BOUNDS: [f64; 22] = [
    1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0,
    2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
];

/// Counts of time-to-establish values per bucket of [`BUCKET_BOUNDS`]
/// (the last slot: slower than 100 s).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram(pub [u64; BUCKET_BOUNDS.len() + 1]);

impl Histogram {
    pub fn add(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        let i = BUCKET_BOUNDS.partition_point(|&b| b < v);
        self.0[i] += 1;
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The bucket holding `v`.
    fn bucket(v: f64) -> usize {
        BUCKET_BOUNDS.partition_point(|&b| b < v)
    }
}

/// A duration in words that fit a chart label.
pub fn secs(v: f64) -> String {
    match v {
        v if v >= 1.0 => format!("{}s", trim(v)),
        v if v >= 1e-3 => format!("{}ms", trim(v * 1e3)),
        v => format!("{}µs", trim(v * 1e6)),
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// The time-to-establish histogram, on log buckets, with p50/p90/p99 marked
/// as vertical lines in the buckets that hold them.
pub fn establish_histogram(h: &Histogram, p: &Percentiles) -> String {
    let mut svg = String::new();
    if h.total() == 0 {
        return svg;
    }
    let first = h.0.iter().position(|&c| c > 0).unwrap_or(0);
    let last = h.0.iter().rposition(|&c| c > 0).unwrap_or(0);
    // Keep the marked percentiles inside the drawn range.
    let marks: Vec<(&str, f64, RGBColor)> = [
        ("p50", p.p50, RGBColor(46, 139, 87)),
        ("p90", p.p90, RGBColor(255, 127, 14)),
        ("p99", p.p99, RGBColor(214, 39, 40)),
    ]
    .into_iter()
    .filter_map(|(n, v, c)| v.map(|v| (n, v, c)))
    .collect();
    let lo = marks
        .iter()
        .map(|m| Histogram::bucket(m.1))
        .chain([first])
        .min()
        .unwrap_or(first);
    let hi = marks
        .iter()
        .map(|m| Histogram::bucket(m.1))
        .chain([last])
        .max()
        .unwrap_or(last);
    let y_max = h.0.iter().copied().max().unwrap_or(1).max(1);
    let label = |i: usize| match BUCKET_BOUNDS.get(i) {
        Some(&b) => format!("≤{}", secs(b)),
        None => ">100s".to_string(),
    };
    let result: Result<(), Box<dyn std::error::Error + '_>> = (|| {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (lo as u32..hi as u32 + 1).into_segmented(),
                0u64..y_max + y_max / 8 + 1,
            )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(hi - lo + 2)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => label(*i as usize),
                _ => String::new(),
            })
            .x_desc("time to establish (SYN to final ACK)")
            .y_desc("connections")
            .light_line_style(RGBColor(238, 238, 238))
            .draw()?;
        chart.draw_series(
            Histogram_::vertical(&chart)
                .style(RGBColor(31, 119, 180).mix(0.7).filled())
                .margin(2)
                .data((lo..=hi).map(|i| (i as u32, h.0[i]))),
        )?;
        for (name, v, color) in &marks {
            let i = Histogram::bucket(*v) as u32;
            let x = SegmentValue::CenterOf(i);
            chart
                .draw_series(LineSeries::new(
                    [(x.clone(), 0), (x, y_max + y_max / 16)],
                    color.stroke_width(2),
                ))?
                .label(format!("{name} {}", secs(*v)))
                .legend(move |(x, y)| legend_mark(x, y, *color));
        }
        legend_box(&mut chart)?;
        root.present()?;
        Ok(())
    })();
    if result.is_err() {
        svg.clear();
    }
    svg
}

use plotters::series::Histogram as Histogram_;
