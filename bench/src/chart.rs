//! The figures as pictures: line charts (a curve per route over table sizes) and grouped
//! bar charts (a bar per build or percentile, per route), written as plain SVG by hand:
//! a few dozen elements each, no dependency, readable in a browser and on GitHub.
use std::fmt::Write;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 460.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 260.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
/// Okabe and Ito's palette: distinguishable with any colour vision.
const COLOURS: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
];

pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Curves over a shared x axis (a table size, a backlog, seconds into a run).
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub series: Vec<Series>,
}

/// Horizontal bars: a band per category (a route), a bar per series (a build, a
/// percentile); an optional dashed line across (the hello ceiling).
pub struct BarChart {
    pub title: String,
    /// What the bars measure (the axis under them).
    pub value_label: String,
    pub categories: Vec<String>,
    pub series: Vec<(String, Vec<f64>)>,
    pub reference: Option<(String, f64)>,
    /// Decades on the value axis: for values that span several (microseconds to seconds).
    pub log_scale: bool,
}

/// One axis: the data range mapped onto pixels, linear or logarithmic.
struct Axis {
    low: f64,
    high: f64,
    log: bool,
    from: f64,
    to: f64,
}

impl Axis {
    fn new(values: impl Iterator<Item = f64>, log: bool, from: f64, to: f64) -> Self {
        let values: Vec<f64> = values
            .filter(|v| v.is_finite() && (!log || *v > 0.0))
            .collect();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (low, high) = if values.is_empty() {
            (if log { 1.0 } else { 0.0 }, 1.0)
        } else if log {
            (
                10f64.powf(min.log10().floor()),
                10f64.powf(max.log10().ceil().max(min.log10().floor() + 1.0)),
            )
        } else {
            let step = nice_step(max.max(0.0) - min.min(0.0));
            (
                (min.min(0.0) / step).floor() * step,
                ((max / step).ceil() * step).max(step),
            )
        };
        Self {
            low,
            high,
            log,
            from,
            to,
        }
    }

    fn place(&self, value: f64) -> f64 {
        let share = if self.log {
            (value.max(self.low).log10() - self.low.log10())
                / (self.high.log10() - self.low.log10())
        } else {
            (value - self.low) / (self.high - self.low)
        };
        self.from + share * (self.to - self.from)
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let mut ticks = Vec::new();
            let mut tick = self.low;
            while tick <= self.high * 1.000_001 {
                ticks.push(tick);
                tick *= 10.0;
            }
            ticks
        } else {
            let step = nice_step(self.high - self.low);
            let count = ((self.high - self.low) / step).round() as usize;
            (0..=count).map(|i| self.low + step * i as f64).collect()
        }
    }
}

/// A round step (1, 2 or 5 times a power of ten) that cuts `span` into 4 to 10 parts.
fn nice_step(span: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| span / step <= 10.0)
        .unwrap_or(10.0 * power)
}

/// `1200` as `1.2k`, `0.25` as `0.25`: short tick labels.
pub fn short(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e6 {
        format!("{}M", trim(value / 1e6))
    } else if magnitude >= 1e3 {
        format!("{}k", trim(value / 1e3))
    } else {
        trim(value)
    }
}

fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The plot area inside a picture.
#[derive(Clone, Copy)]
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
}

impl Frame {
    const LINES: Frame = Frame {
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        right: WIDTH - RIGHT,
    };
    fn bottom(&self) -> f64 {
        self.height - BOTTOM
    }
}

/// The picture every chart shares: title, axis labels, legend.
struct Canvas {
    svg: String,
    frame: Frame,
}

impl Canvas {
    fn new(frame: Frame, title: &str, x_label: &str, y_label: &str) -> Self {
        let mut svg = String::new();
        let middle = (frame.left + frame.right) / 2.0;
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{middle}" y="24" font-size="15" font-weight="bold" text-anchor="middle">{}</text>
<text x="{middle}" y="{}" text-anchor="middle">{}</text>
<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">{}</text>
"#,
            escape(title),
            frame.height - 14.0,
            escape(x_label),
            (TOP + frame.bottom()) / 2.0,
            escape(y_label),
            w = frame.width,
            h = frame.height,
        );
        Self { svg, frame }
    }

    fn axes(&mut self) {
        let Frame { left, right, .. } = self.frame;
        let bottom = self.frame.bottom();
        let _ = writeln!(
            self.svg,
            r##"<line x1="{left}" x2="{left}" y1="{TOP}" y2="{bottom}" stroke="#444"/><line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#444"/>"##,
        );
    }

    /// Horizontal grid lines at `axis`'s ticks, labelled on the left.
    fn y_grid(&mut self, axis: &Axis) {
        for tick in axis.ticks() {
            let y = axis.place(tick);
            let _ = writeln!(
                self.svg,
                r##"<line x1="{}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                self.frame.left,
                self.frame.right,
                self.frame.left - 6.0,
                y + 4.0,
                short(tick)
            );
        }
        self.axes();
    }

    /// Vertical grid lines at `axis`'s ticks, labelled below.
    fn x_grid(&mut self, axis: &Axis) {
        for tick in axis.ticks() {
            let x = axis.place(tick);
            let _ = writeln!(
                self.svg,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
                self.frame.bottom(),
                self.frame.bottom() + 18.0,
                short(tick)
            );
        }
        self.axes();
    }

    fn legend(&mut self, names: &[&str]) {
        for (index, name) in names.iter().enumerate() {
            let y = TOP + 8.0 + index as f64 * 18.0;
            let x = self.frame.right + 16.0;
            let _ = writeln!(
                self.svg,
                r#"<rect x="{x}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{}" y="{:.1}">{}</text>"#,
                y - 10.0,
                COLOURS[index % COLOURS.len()],
                x + 18.0,
                y,
                escape(name)
            );
        }
    }

    fn finish(mut self) -> String {
        self.svg.push_str("</svg>\n");
        self.svg
    }
}

impl LineChart {
    pub fn svg(&self) -> String {
        let frame = Frame::LINES;
        let points = || self.series.iter().flat_map(|s| s.points.iter());
        let x = Axis::new(points().map(|p| p.0), self.log_x, frame.left, frame.right);
        let y = Axis::new(points().map(|p| p.1), self.log_y, frame.bottom(), TOP);
        let mut canvas = Canvas::new(frame, &self.title, &self.x_label, &self.y_label);
        canvas.y_grid(&y);
        for tick in x.ticks() {
            let _ = writeln!(
                canvas.svg,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x.place(tick),
                frame.bottom() + 18.0,
                short(tick)
            );
        }
        for (index, series) in self.series.iter().enumerate() {
            let colour = COLOURS[index % COLOURS.len()];
            let path: Vec<String> = series
                .points
                .iter()
                .filter(|(px, py)| (!self.log_x || *px > 0.0) && (!self.log_y || *py > 0.0))
                .map(|(px, py)| format!("{:.1},{:.1}", x.place(*px), y.place(*py)))
                .collect();
            let _ = writeln!(
                canvas.svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                path.join(" ")
            );
            // Dots mark measurements; a long series (a timeline) is a line alone.
            for point in path.iter().filter(|_| path.len() <= 40) {
                let (cx, cy) = point.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(
                    canvas.svg,
                    r#"<circle cx="{cx}" cy="{cy}" r="3.5" fill="{colour}"/>"#
                );
            }
        }
        let names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        canvas.legend(&names);
        canvas.finish()
    }
}

/// Height of one category's band of bars.
const BAND: f64 = 34.0;
/// Room for the categories' names left of the bars.
const NAMES: f64 = 330.0;

impl BarChart {
    /// Horizontal bars: a band per category (its name on the left), a bar per series.
    pub fn svg(&self) -> String {
        let frame = Frame {
            width: WIDTH + 120.0,
            height: TOP + BOTTOM + BAND * self.categories.len().max(1) as f64,
            left: NAMES,
            right: WIDTH + 120.0 - RIGHT + 40.0,
        };
        let values = self
            .series
            .iter()
            .flat_map(|(_, values)| values.iter().copied())
            .chain(self.reference.iter().map(|(_, value)| *value));
        let x = Axis::new(values, self.log_scale, frame.left, frame.right);
        let mut canvas = Canvas::new(frame, &self.title, &self.value_label, "");
        canvas.x_grid(&x);
        let bar = BAND * 0.8 / self.series.len().max(1) as f64;
        for (row, category) in self.categories.iter().enumerate() {
            let top = TOP + BAND * row as f64 + BAND * 0.1;
            let _ = writeln!(
                canvas.svg,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                frame.left - 8.0,
                top + BAND * 0.4 + 4.0,
                escape(category)
            );
            for (index, (_, values)) in self.series.iter().enumerate() {
                let Some(value) = values
                    .get(row)
                    .filter(|v| v.is_finite() && (!self.log_scale || **v > 0.0))
                else {
                    continue;
                };
                let _ = writeln!(
                    canvas.svg,
                    r#"<rect x="{}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}</title></rect>"#,
                    frame.left,
                    top + bar * index as f64,
                    (x.place(*value) - frame.left).max(0.5),
                    bar * 0.9,
                    COLOURS[index % COLOURS.len()],
                    short(*value)
                );
            }
        }
        if let Some((name, value)) = &self.reference {
            let line = x.place(*value);
            let _ = writeln!(
                canvas.svg,
                r##"<line x1="{line:.1}" x2="{line:.1}" y1="{TOP}" y2="{}" stroke="#000" stroke-dasharray="6 4"/><text x="{:.1}" y="{}" font-size="11" text-anchor="middle">{}</text>"##,
                frame.bottom(),
                line,
                TOP - 6.0,
                escape(name)
            );
        }
        let names: Vec<&str> = self.series.iter().map(|(name, _)| name.as_str()).collect();
        canvas.legend(&names);
        canvas.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_axis_spans_whole_decades_and_places_them_evenly() {
        let axis = Axis::new([1000.0, 100_000.0].into_iter(), true, 0.0, 200.0);
        assert_eq!(axis.ticks(), vec![1000.0, 10_000.0, 100_000.0]);
        assert_eq!(axis.place(10_000.0), 100.0);
    }

    #[test]
    fn a_linear_axis_starts_at_zero_and_ends_on_a_round_tick() {
        let axis = Axis::new([3.0, 47.0].into_iter(), false, 0.0, 100.0);
        assert_eq!(axis.low, 0.0);
        assert_eq!(axis.high, 50.0);
        assert_eq!(axis.ticks().last(), Some(&50.0));
    }

    #[test]
    fn labels_and_names_are_escaped() {
        let chart = LineChart {
            title: "GET /users?limit=<20> & more".into(),
            x_label: "rows".into(),
            y_label: "items".into(),
            log_x: true,
            log_y: false,
            series: vec![Series {
                name: "a<b".into(),
                points: vec![(1000.0, 20.0), (100_000.0, 20.0)],
            }],
        };
        let svg = chart.svg();
        assert!(svg.contains("GET /users?limit=&lt;20&gt; &amp; more"));
        assert!(svg.contains("a&lt;b"));
        assert_eq!(svg.matches("<circle").count(), 2);
    }
}
