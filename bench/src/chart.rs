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
/// Okabe and Ito's palette, distinguishable with any colour vision, with grey for their
/// yellow (too pale on white for a line or a legend swatch).
const COLOURS: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#999999",
];
/// Past eight curves the colours come round again, each time with another dash pattern,
/// so no two curves of a chart look alike.
const DASHES: [&str; 3] = ["", "8 4", "2 3"];
/// Average advance of a character at the charts' 12 px sans-serif: enough to size the
/// legend and the category names so that no text runs off the picture.
const CHARACTER: f64 = 7.0;

/// Series `index`'s stroke: its colour and its dash pattern (`""`: solid).
fn stroke(index: usize) -> (&'static str, &'static str) {
    (
        COLOURS[index % COLOURS.len()],
        DASHES[(index / COLOURS.len()) % DASHES.len()],
    )
}

/// The width `names` take in the legend: swatch, gap, the longest name.
fn legend_width(names: &[&str]) -> f64 {
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    16.0 + 18.0 + 28.0 + longest as f64 * CHARACTER
}

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

    /// A swatch and a name per series, right of the plot; `lines` draws each swatch as a
    /// short stroke in the series' dash pattern, otherwise as a filled square.
    fn legend(&mut self, names: &[&str], lines: bool) {
        for (index, name) in names.iter().enumerate() {
            let y = TOP + 8.0 + index as f64 * 18.0;
            let x = self.frame.right + 16.0;
            let (colour, dash) = stroke(index);
            let _ = if lines {
                writeln!(
                    self.svg,
                    r#"<line x1="{x}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2.5" stroke-dasharray="{dash}"/><text x="{}" y="{:.1}">{}</text>"#,
                    x + 24.0,
                    y - 4.0,
                    y - 4.0,
                    x + 30.0,
                    y,
                    escape(name)
                )
            } else {
                writeln!(
                    self.svg,
                    r#"<rect x="{x}" y="{:.1}" width="12" height="12" fill="{colour}"/><text x="{}" y="{:.1}">{}</text>"#,
                    y - 10.0,
                    x + 18.0,
                    y,
                    escape(name)
                )
            };
        }
    }

    fn finish(mut self) -> String {
        self.svg.push_str("</svg>\n");
        self.svg
    }
}

impl LineChart {
    pub fn svg(&self) -> String {
        let names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        let legend = legend_width(&names).max(RIGHT);
        let frame = Frame {
            width: Frame::LINES.right + legend,
            height: HEIGHT.max(TOP + BOTTOM + 18.0 * names.len() as f64),
            ..Frame::LINES
        };
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
            let (colour, dash) = stroke(index);
            let path: Vec<String> = series
                .points
                .iter()
                .filter(|(px, py)| (!self.log_x || *px > 0.0) && (!self.log_y || *py > 0.0))
                .map(|(px, py)| format!("{:.1},{:.1}", x.place(*px), y.place(*py)))
                .collect();
            let _ = writeln!(
                canvas.svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}" points="{}"/>"#,
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
        canvas.legend(&names, true);
        canvas.finish()
    }
}

/// Height of one bar, and the gap around a category's bars.
const BAR: f64 = 11.0;
const GAP: f64 = 10.0;
/// Room for the bars' value labels right of the longest bar.
const VALUE_LABELS: f64 = 50.0;

impl BarChart {
    /// Horizontal bars: a band per category (its name on the left), a bar per series,
    /// each labelled with its value (a zero on a log axis has no bar, only its label).
    pub fn svg(&self) -> String {
        let longest = self
            .categories
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0);
        let left = 20.0 + longest as f64 * CHARACTER;
        let names: Vec<&str> = self.series.iter().map(|(name, _)| name.as_str()).collect();
        let band = BAR * self.series.len().max(1) as f64 + GAP;
        let plot = 560.0;
        let frame = Frame {
            width: left + plot + VALUE_LABELS + legend_width(&names),
            height: (TOP + BOTTOM + band * self.categories.len().max(1) as f64)
                .max(TOP + BOTTOM + 18.0 * names.len() as f64),
            left,
            right: left + plot,
        };
        let values: Vec<f64> = self
            .series
            .iter()
            .flat_map(|(_, values)| values.iter().copied())
            .chain(self.reference.iter().map(|(_, value)| *value))
            .collect();
        // On a log axis the smallest value would sit on the axis itself (1 on an axis
        // from 1): half of it starts the axis a decade lower, so every bar shows.
        let smallest = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        let below = (self.log_scale && smallest.is_finite()).then_some(smallest / 2.0);
        let x = Axis::new(
            values.iter().copied().chain(below),
            self.log_scale,
            frame.left,
            frame.right,
        );
        let mut canvas = Canvas::new(frame, &self.title, &self.value_label, "");
        canvas.x_grid(&x);
        for (row, category) in self.categories.iter().enumerate() {
            let top = TOP + band * row as f64 + GAP / 2.0;
            let _ = writeln!(
                canvas.svg,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                frame.left - 8.0,
                top + (band - GAP) / 2.0 + 4.0,
                escape(category)
            );
            for (index, (_, values)) in self.series.iter().enumerate() {
                let Some(value) = values.get(row).copied().filter(|v| v.is_finite()) else {
                    continue;
                };
                let y = top + BAR * index as f64;
                let end = if self.log_scale && value <= 0.0 {
                    frame.left
                } else {
                    let end = x.place(value).max(frame.left + 0.5);
                    let _ = writeln!(
                        canvas.svg,
                        r#"<rect x="{}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}</title></rect>"#,
                        frame.left,
                        end - frame.left,
                        BAR - 1.5,
                        stroke(index).0,
                        short(value)
                    );
                    end
                };
                let _ = writeln!(
                    canvas.svg,
                    r#"<text x="{:.1}" y="{:.1}" font-size="10">{}</text>"#,
                    end + 4.0,
                    y + BAR - 3.0,
                    short(value)
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
        canvas.frame.right += VALUE_LABELS;
        canvas.legend(&names, false);
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

    /// The `x` of every `<text>` in `svg` with its text, as drawn.
    fn texts(svg: &str) -> Vec<(f64, String)> {
        svg.split("<text ")
            .skip(1)
            .filter_map(|element| {
                let x = element
                    .split("x=\"")
                    .nth(1)?
                    .split('"')
                    .next()?
                    .parse()
                    .ok()?;
                let text = element.split('>').nth(1)?.split('<').next()?;
                let text = text
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&");
                Some((x, text))
            })
            .collect()
    }

    fn width(svg: &str) -> f64 {
        svg.split("width=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn fifteen_curves_look_alike_in_no_pair_and_their_legend_fits_the_picture() {
        let names: Vec<String> = (0..15)
            .map(|i| format!("integration GET /providers/list_providers?name=Dr&page={i}"))
            .collect();
        let chart = LineChart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_x: false,
            log_y: false,
            series: names
                .iter()
                .map(|name| Series {
                    name: name.clone(),
                    points: vec![(1.0, 1.0), (2.0, 2.0)],
                })
                .collect(),
        };
        let strokes: std::collections::HashSet<_> = (0..15).map(stroke).collect();
        assert_eq!(strokes.len(), 15, "two curves share colour and dash");
        let svg = chart.svg();
        let width = width(&svg);
        for (x, text) in texts(&svg) {
            let end = x + text.chars().count() as f64 * CHARACTER;
            assert!(
                end <= width,
                "`{text}` ends at {end}, past the width {width}"
            );
        }
    }

    #[test]
    fn every_bar_is_labelled_with_its_value_and_a_zero_on_a_log_axis_with_its_label_alone() {
        let chart = BarChart {
            title: "t".into(),
            value_label: "items".into(),
            categories: vec![
                "sales GET /api/v1/sales/orders?sms_status=pending".into(),
                "b".into(),
            ],
            series: vec![
                ("1k items per table".into(), vec![20.0, 0.0]),
                ("100k items per table".into(), vec![20.0, 1000.0]),
            ],
            reference: None,
            log_scale: true,
        };
        let svg = chart.svg();
        assert_eq!(
            svg.matches("<rect x").count(),
            3 + 2,
            "3 bars and 2 legend swatches"
        );
        let labels: Vec<String> = texts(&svg).into_iter().map(|(_, text)| text).collect();
        for value in ["20", "0", "1k"] {
            assert!(
                labels.iter().any(|l| l == value),
                "no label {value} in {labels:?}"
            );
        }
        let width = width(&svg);
        let (x, name) = texts(&svg)
            .into_iter()
            .find(|(_, text)| text.starts_with("sales GET"))
            .unwrap();
        assert!(
            x - name.chars().count() as f64 * CHARACTER >= 0.0,
            "the route's name starts left of the picture"
        );
        assert!(texts(&svg)
            .iter()
            .all(|(x, t)| x + t.chars().count() as f64 * CHARACTER <= width));
    }
}
