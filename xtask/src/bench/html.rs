//! `report.html`: one self-contained page (no scripts, nothing fetched) with the tables and
//! inline SVG charts drawn with plotters' SVG backend — throughput and speedup per reader per
//! tree, peak memory, and the scaling over `--jobs`.

use std::fmt::Write as _;

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Results;
use super::original;
use super::reader::Reader;
use super::report::{self, Meta};
use super::stats::{self, Cache, Table, Verdict};
use super::study::{self, Claim, Experiments};

const WIDTH: u32 = 900;
const HEIGHT: u32 = 420;
/// Room on the right for the legend, outside the plot so that it never hides a bar.
const LEGEND_WIDTH: u32 = 190;

type Root<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// The legend in the right margin: a bar swatch or a line segment, and the name, one a line.
fn legend<'n>(
    root: &Root<'_>,
    names: impl Iterator<Item = &'n str>,
    bars: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    legend_coloured(root, names, bars, |i, _| color(i))
}

/// [`legend`] with the colour of each entry chosen by `colour(index, name)`.
fn legend_coloured<'n>(
    root: &Root<'_>,
    names: impl Iterator<Item = &'n str>,
    bars: bool,
    colour: impl Fn(usize, &str) -> RGBColor,
) -> Result<(), Box<dyn std::error::Error>> {
    let x = (WIDTH - LEGEND_WIDTH + 16) as i32;
    for (i, name) in names.enumerate() {
        let y = 50 + 20 * i as i32;
        if bars {
            root.draw(&Rectangle::new(
                [(x, y - 5), (x + 10, y + 5)],
                colour(i, name).filled(),
            ))?;
        } else {
            root.draw(&PathElement::new(
                vec![(x, y), (x + 14, y)],
                colour(i, name).stroke_width(3),
            ))?;
        }
        root.draw(&label(
            name.to_string(),
            (x + 20, y),
            13,
            HPos::Left,
            VPos::Center,
        ))?;
    }
    Ok(())
}

const COLORS: &[RGBColor] = &[
    RGBColor(99, 110, 114),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(23, 190, 207),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(40, 40, 40),
    RGBColor(214, 39, 40),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(127, 127, 127),
    RGBColor(174, 199, 232),
    RGBColor(152, 223, 138),
    RGBColor(255, 187, 120),
    RGBColor(197, 176, 213),
    RGBColor(255, 152, 150),
    RGBColor(196, 156, 148),
    RGBColor(247, 182, 210),
    RGBColor(219, 219, 141),
    RGBColor(158, 218, 229),
    RGBColor(0, 0, 128),
];

/// Tall enough for the plot and for a legend of `series` lines.
/// The colour of the whiskers: near-black, apart from the axes.
pub const WHISKER: RGBColor = RGBColor(40, 40, 40);

/// Trees whose mean file is at most this size get a files-per-second chart.
const SMALL_FILES: u64 = 64 * 1024;

fn height(series: usize) -> u32 {
    HEIGHT.max(70 + 20 * series as u32)
}

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One bar: its height and, when it stands for several runs, the lowest and highest of them,
/// drawn as a whisker (as hyperfine's plots show the spread).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// The height (a median).
    pub value: f64,
    /// The fastest and slowest runs, on the same scale.
    pub spread: Option<(f64, f64)>,
}

impl Bar {
    /// A bar without a whisker.
    pub fn of(value: f64) -> Bar {
        Bar {
            value,
            spread: None,
        }
    }

    fn top(&self) -> f64 {
        self.spread
            .map_or(self.value, |(_, high)| high.max(self.value))
    }
}

/// How the value axis of a bar chart is scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// From 0, evenly.
    Linear,
    /// Logarithmic, so that values ten or a hundred times apart are all readable: bars start
    /// at the bottom of the axis (below the smallest value), not at 0.
    Log,
}

/// Bars grouped by tree: one group per entry of `groups`, one bar per series (`None`: no bar,
/// e.g. a wrong or missing reader), on the value axis `axis`. Returns the SVG text, or a note
/// if plotting failed.
pub fn grouped_bars(
    axis: Axis,
    title: &str,
    y_label: &str,
    groups: &[String],
    series: &[BarSeries],
) -> String {
    let mut svg = String::new();
    let drawn = draw_bars(&mut svg, axis, title, y_label, groups, series);
    svg_or_note(title, svg, drawn)
}

/// The range of a log axis that holds every bar and whisker of `series` with a margin, or
/// `None` when no value is above 0 (a log axis has no room for 0).
pub fn log_range(series: &[BarSeries]) -> Option<(f64, f64)> {
    let bars = series.iter().flat_map(|(_, v)| v.iter().flatten());
    let (low, high) = bars
        .flat_map(|b| {
            let (lo, hi) = b.spread.unwrap_or((b.value, b.value));
            [b.value, lo, hi]
        })
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    (high > 0.0).then(|| (low / 1.6, high * 1.6))
}

fn draw_bars(
    svg: &mut String,
    axis: Axis,
    title: &str,
    y_label: &str,
    groups: &[String],
    series: &[BarSeries],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (WIDTH, height(series.len()))).into_drawing_area();
    root.fill(&WHITE)?;
    let mut builder = framed(&root, title, 34);
    let x = 0f64..groups.len().max(1) as f64;
    match axis {
        Axis::Linear => {
            let max = series
                .iter()
                .flat_map(|(_, v)| v.iter().flatten())
                .map(Bar::top)
                .fold(0.0, f64::max);
            let chart = builder.build_cartesian_2d(x, 0f64..(max * 1.15).max(1e-9))?;
            let format = move |v: &f64| {
                if max < 10.0 {
                    format!("{v:.1}")
                } else {
                    format!("{v:.0}")
                }
            };
            let mesh = Mesh::Plotters(&format);
            draw_bars_on(&root, chart, 0.0, mesh, y_label, groups, series)?;
        }
        Axis::Log => {
            let (low, high) = log_range(series).ok_or("nothing above 0 to draw")?;
            let chart = builder.build_cartesian_2d(x, (low..high).log_scale())?;
            let mesh = Mesh::Ticks(log_ticks(low, high));
            draw_bars_on(&root, chart, low, mesh, y_label, groups, series)?;
        }
    }
    legend(&root, series.iter().map(|(name, _)| name.as_str()), true)?;
    root.present()?;
    Ok(())
}

/// The ticks of a log axis from `low` to `high`: 1, 2 and 5 times the powers of ten; every
/// digit times them when that gives fewer than three (a range within a decade); the powers of
/// ten alone when it gives more than ten (a range over many decades).
pub fn log_ticks(low: f64, high: f64) -> Vec<f64> {
    if !(low > 0.0 && high > low && high.is_finite()) {
        return Vec::new();
    }
    let decades = low.log10().floor() as i32..=high.log10().ceil() as i32;
    let within = |steps: &[f64]| -> Vec<f64> {
        decades
            .clone()
            .flat_map(|k| steps.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|v| (low..=high).contains(v))
            .collect()
    };
    let ticks = within(&[1.0, 2.0, 5.0]);
    if ticks.len() < 3 {
        within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    } else if ticks.len() > 10 {
        within(&[1.0])
    } else {
        ticks
    }
}

/// How the value axis gets its ticks: plotters' own, named by a formatter; or these values,
/// drawn here with their grid lines (plotters' log axis labels only powers of ten, and none
/// at all on a range within a decade).
enum Mesh<'f> {
    Plotters(&'f dyn Fn(&f64) -> String),
    Ticks(Vec<f64>),
}

/// A tick of a log axis: as many decimals as it needs, up to three (`0.05`, `2`, `80`).
pub fn log_tick(v: &f64) -> String {
    let text = if *v >= 10.0 {
        format!("{v:.0}")
    } else if *v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// The bars, whiskers, axis and group names on `chart`, whatever its value axis; bars rise
/// from `floor`.
fn draw_bars_on<Y>(
    root: &Root<'_>,
    mut chart: ChartContext<'_, SVGBackend<'_>, Cartesian2d<RangedCoordf64, Y>>,
    floor: f64,
    mesh: Mesh<'_>,
    y_label: &str,
    groups: &[String],
    series: &[BarSeries],
) -> Result<(), Box<dyn std::error::Error>>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    match &mesh {
        Mesh::Plotters(format) => {
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(0)
                .y_desc(y_label)
                .y_label_formatter(format)
                .draw()?;
        }
        Mesh::Ticks(ticks) => {
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(0)
                .y_labels(0)
                // A log axis still labels its powers of ten: blank, since the ticks are ours.
                .y_label_formatter(&|_| String::new())
                .y_desc(y_label)
                .draw()?;
            let right = groups.len().max(1) as f64;
            let grid = RGBColor(200, 200, 200);
            chart.draw_series(
                ticks
                    .iter()
                    .map(|&v| PathElement::new(vec![(0.0, v), (right, v)], grid.stroke_width(1))),
            )?;
            for &v in ticks {
                let (x, y) = chart.backend_coord(&(0.0, v));
                root.draw(&label(
                    log_tick(&v),
                    (x - 6, y),
                    12,
                    HPos::Right,
                    VPos::Center,
                ))?;
            }
        }
    }
    let n = series.len().max(1) as f64;
    let width = 0.8 / n;
    for (s, (_, values)) in series.iter().enumerate() {
        let c = color(s);
        let x0 = |g: usize| g as f64 + 0.1 + s as f64 * width;
        chart.draw_series(values.iter().enumerate().filter_map(|(g, bar)| {
            let bar = (*bar)?;
            Some(Rectangle::new(
                [(x0(g), floor), (x0(g) + width * 0.92, bar.value)],
                c.filled(),
            ))
        }))?;
        // Whiskers from the fastest run to the slowest, with caps.
        let whiskers = values.iter().enumerate().filter_map(|(g, bar)| {
            let (low, high) = (*bar)?.spread?;
            let (left, mid, right) = (
                x0(g) + width * 0.26,
                x0(g) + width * 0.46,
                x0(g) + width * 0.66,
            );
            Some([
                PathElement::new(vec![(mid, low), (mid, high)], WHISKER.stroke_width(1)),
                PathElement::new(vec![(left, low), (right, low)], WHISKER.stroke_width(1)),
                PathElement::new(vec![(left, high), (right, high)], WHISKER.stroke_width(1)),
            ])
        });
        chart.draw_series(whiskers.flatten())?;
    }
    for (g, name) in groups.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(g as f64 + 0.5, floor));
        root.draw(&label(
            name.clone(),
            (x, y + 8),
            15,
            HPos::Center,
            VPos::Top,
        ))?;
    }
    Ok(())
}

/// Lines of (x, y) points, one per series; x is `--jobs`.
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> String {
    let mut svg = String::new();
    let drawn = draw_lines(&mut svg, title, x_label, y_label, series);
    svg_or_note(title, svg, drawn)
}

/// The drawn SVG, or a note saying why the chart is missing.
fn svg_or_note<E: std::fmt::Display>(title: &str, svg: String, drawn: Result<(), E>) -> String {
    match drawn {
        Ok(()) => svg,
        Err(err) => format!(
            "<p>chart “{}” could not be drawn: {}</p>",
            escape(title),
            escape(&err.to_string())
        ),
    }
}

fn draw_lines(
    svg: &mut String,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<(), Box<dyn std::error::Error>> {
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let (x_max, y_max) = points.fold((1.0f64, 0.0f64), |(x, y), p| (x.max(p.0), y.max(p.1)));
    let root = SVGBackend::with_string(svg, (WIDTH, height(series.len()))).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = framed(&root, title, 40)
        .build_cartesian_2d(0f64..x_max * 1.05, 0f64..(y_max * 1.15).max(1e-9))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    for (s, (_, pts)) in series.iter().enumerate() {
        let c = color(s);
        chart.draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?;
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
    }
    legend(&root, series.iter().map(|(name, _)| name.as_str()), false)?;
    root.present()?;
    Ok(())
}

/// One bar series: its name and one value per group (`None`: no bar).
type BarSeries = (String, Vec<Option<Bar>>);

/// A bar chart's groups and series.
type Chart = (Vec<String>, Vec<BarSeries>);

/// Whether any series has a bar above 0 to draw.
fn has_bars(series: &[BarSeries]) -> bool {
    series
        .iter()
        .any(|(_, values)| values.iter().flatten().any(|b| b.value > 0.0))
}

/// Per-tree bar series of one figure of the OK rows, for the tables of one cache state.
fn per_tree(
    tables: &[&Table],
    labels: &[String],
    figure: impl Fn(&Table, &stats::Row) -> Option<Bar>,
) -> Chart {
    // With `--work` a tree has a table for each work: the group says which.
    let groups: Vec<String> = tables
        .iter()
        .map(|t| match t.work {
            Some(work) => format!("{} {work}", t.target),
            None => t.target.clone(),
        })
        .collect();
    let series = labels
        .iter()
        .map(|label| {
            let values = tables
                .iter()
                .map(|t| {
                    t.rows
                        .iter()
                        .find(|r| &r.label == label && r.verdict == Verdict::Ok)
                        .and_then(|r| figure(t, r))
                })
                .collect();
            (label.clone(), values)
        })
        .collect();
    (groups, series)
}

/// Every chart of the report, as inline SVG.
pub fn charts(results: &Results) -> Vec<String> {
    let mut out = Vec::new();
    // Series in the order the variants ran, so each keeps its colour in every chart.
    let mut labels: Vec<String> = Vec::new();
    for r in &results.records {
        if !labels.contains(&r.variant.label) {
            labels.push(r.variant.label.clone());
        }
    }
    for cache in [Cache::Warm, Cache::Cold] {
        let tables: Vec<&Table> = results.tables.iter().filter(|t| t.cache == cache).collect();
        if tables.is_empty() {
            continue;
        }
        let c = cache.as_str();
        let (groups, series) = per_tree(&tables, &labels, |t, r| {
            let reference = t.rows.iter().find(|r| r.is(Reader::ReadOnly))?;
            let over = |ms: f64| ms / reference.median_ms.max(1e-9);
            Some(Bar {
                value: over(r.median_ms),
                spread: Some((over(r.min_ms), over(r.max_ms))),
            })
        });
        // A chart with no bar (no reference ran, or no sequential reader) is left out.
        let mut push = |axis: Axis, title: String, unit: &str, (groups, series): Chart| {
            if has_bars(&series) {
                out.push(grouped_bars(axis, &title, unit, &groups, &series));
            }
        };
        // A log axis: wc and the Python readers take tens of times the reference, our readers a few.
        push(
            Axis::Log,
            format!("Wall time ÷ the reference, {c} cache (log scale; whiskers: min–max)"),
            "× reference (lower is better)",
            (groups, series),
        );
        push(
            Axis::Linear,
            format!("Throughput, {c} cache (higher is better)"),
            "MB/s",
            per_tree(&tables, &labels, |_, r| Some(Bar::of(r.mb_per_s))),
        );
        // Bytes per second hides trees of small files; files per second shows them.
        let small: Vec<&Table> = tables
            .iter()
            .copied()
            .filter(|t| t.files > 0 && t.bytes / t.files <= SMALL_FILES)
            .collect();
        if !small.is_empty() {
            push(
                Axis::Linear,
                format!(
                    "Files per second on the trees of small files, {c} cache (higher is better)"
                ),
                "files/s",
                per_tree(&small, &labels, |_, r| Some(Bar::of(r.files_per_s))),
            );
        }
        push(
            Axis::Linear,
            format!("Speedup over the sequential reader, {c} cache"),
            "× sequential",
            per_tree(&tables, &labels, |_, r| r.over_sequential.map(Bar::of)),
        );
        push(
            Axis::Linear,
            format!("Peak memory (RSS), {c} cache (lower is better)"),
            "MiB",
            per_tree(&tables, &labels, |_, r| {
                Some(Bar::of(r.peak_rss_kib as f64 / 1024.0))
            }),
        );
        for t in tables {
            let scaling = stats::scaling(t);
            if scaling.is_empty() {
                continue;
            }
            let series: Vec<(String, Vec<(f64, f64)>)> = scaling
                .iter()
                .map(|s| {
                    (
                        s.reader.clone(),
                        s.points.iter().map(|p| (p.0 as f64, p.2)).collect(),
                    )
                })
                .collect();
            out.push(lines(
                &format!("Scaling on {}, {c} cache", t.target),
                "--jobs",
                "MB/s",
                &series,
            ));
        }
    }
    out
}

/// The charts of `--original`: for each cache state, each of our models ÷ its Python
/// counterpart, a group a tree and work, on a log axis (1 is parity).
pub fn original_charts(ratios: &[original::Ratio]) -> Vec<String> {
    let mut out = Vec::new();
    for cache in [Cache::Warm, Cache::Cold] {
        let mine: Vec<&original::Ratio> = ratios.iter().filter(|r| r.cache == cache).collect();
        if mine.is_empty() {
            continue;
        }
        let mut groups: Vec<(String, Option<super::Work>)> = Vec::new();
        for r in &mine {
            if !groups.contains(&(r.target.clone(), r.work)) {
                groups.push((r.target.clone(), r.work));
            }
        }
        let series: Vec<BarSeries> = original::READERS
            .iter()
            .map(|&(python, _, ours)| {
                let values = groups
                    .iter()
                    .map(|(target, work)| {
                        mine.iter()
                            .find(|r| &r.target == target && r.work == *work && r.python == python)
                            .map(|r| Bar::of(r.ratio))
                    })
                    .collect();
                (format!("{ours} ÷ {python}"), values)
            })
            .collect();
        let names: Vec<String> = groups
            .iter()
            .map(|(target, work)| format!("{target} {}", work.unwrap_or_default()))
            .collect();
        out.push(grouped_bars(
            Axis::Log,
            &format!(
                "Ours ÷ the original's Python readers, {} cache (log scale)",
                cache.as_str()
            ),
            "× Python (below 1: ours is faster)",
            &names,
            &series,
        ));
    }
    out
}

/// The section of `--original`: what the ratios mean, their table and charts. Empty without
/// ratios.
fn original_section(results: &Results) -> String {
    let ratios = original::ratios(&results.tables);
    if ratios.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h2>Our models ÷ the original's Python readers</h2>\n");
    let explain = original::EXPLAIN;
    let _ = writeln!(
        out,
        "<p>{}.</p>\n<table class=\"ratios\">",
        escape(&original::capitalized(explain))
    );
    for (i, row) in original::rows(&ratios).iter().enumerate() {
        let tag = if i == 0 { "th" } else { "td" };
        let cells: String = row
            .iter()
            .map(|c| format!("<{tag}>{}</{tag}>", escape(c)))
            .collect();
        let _ = writeln!(out, "<tr>{cells}</tr>");
    }
    out.push_str("</table>\n");
    for svg in original_charts(&ratios) {
        let _ = writeln!(out, "<div class=\"chart\">{svg}</div>");
    }
    out
}

fn html_table(table: &Table, meta: &Meta) -> String {
    markdown_to_html(&report::markdown_table(table, meta))
}

/// A table of the report's Markdown (a `###` title, the table, lines of text) as HTML.
fn markdown_to_html(md: &str) -> String {
    let mut out = String::new();
    let mut in_table = false;
    for line in md.lines() {
        if let Some(title) = line.strip_prefix("### ") {
            let _ = writeln!(out, "<h3>{}</h3>", escape(title));
        } else if line.starts_with("|---") {
            continue;
        } else if let Some(inner) = line.strip_prefix("| ").and_then(|l| l.strip_suffix(" |")) {
            let tag = if in_table { "td" } else { "th" };
            if !in_table {
                out.push_str("<table>\n");
                in_table = true;
            }
            let cells: String = inner
                .split(" | ")
                .map(|c| format!("<{tag}>{}</{tag}>", escape(c)))
                .collect();
            let _ = writeln!(out, "<tr>{cells}</tr>");
        } else if !line.trim().is_empty() {
            if in_table {
                out.push_str("</table>\n");
                in_table = false;
            }
            let _ = writeln!(out, "<p>{}</p>", escape(line.trim()).replace("**", ""));
        }
    }
    if in_table {
        out.push_str("</table>\n");
    }
    out
}

/// The whole page.
pub fn page(meta: &Meta, results: &Results, markdown: &str) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Concurrent File Reader — benchmark</title>\n<style>\n\
         body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\n\
         table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}\n\
         th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}\n\
         th:nth-child(2),td:nth-child(2){text-align:left}\nth{background:#f3f3f3}\n\
         .ratios td:first-child{text-align:left}\n.ratios td:nth-child(2){text-align:right}\n\
         .meta{color:#555;font-size:.9em}\n.chart{margin:1em 0}\n.rec{background:#eef6ee;padding:.8em;border-left:4px solid #2ca02c}\n\
         </style></head><body>\n",
    );
    let _ = writeln!(
        out,
        "<h1>Concurrent File Reader — benchmark, {}</h1>",
        escape(&meta.started_at)
    );
    let intro: Vec<&str> = markdown
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("### "))
        .filter(|l| !l.trim().is_empty())
        .collect();
    for line in intro {
        let _ = writeln!(
            out,
            "<p class=\"meta\">{}</p>",
            escape(line.trim_end()).replace('`', "")
        );
    }
    for rec in &results.recommendations {
        let _ = writeln!(
            out,
            "<p class=\"rec\"><strong>Recommendation, {} cache.</strong> {}</p>",
            rec.cache.as_str(),
            escape(&rec.text).replace('`', "")
        );
    }
    out.push_str(&original_section(results));
    let charts = charts(results);
    if !charts.is_empty() {
        out.push_str("<h2>Charts</h2>\n");
    }
    for svg in charts {
        let _ = writeln!(out, "<div class=\"chart\">{svg}</div>");
    }
    out.push_str("<h2>Tables</h2>\n");
    if let Some(section) = &results.duplicates {
        out.push_str(&markdown_to_html(&section.markdown()));
    }
    for table in &results.tables {
        out.push_str(&html_table(table, meta));
        if table.target == "seed-mixed" {
            let python: Vec<String> = report::PYTHON_FIGURES
                .iter()
                .map(|(n, s)| format!("{n} {s:.2} s"))
                .collect();
            let _ = writeln!(
                out,
                "<p class=\"meta\">The original Python project's published figures for this workload (its machine): {}.</p>",
                python.join(", ")
            );
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// Lines on log–log axes, one per series, coloured by reader so that a reader keeps its colour
/// in every chart of the study; `x_names` labels the x ticks (file sizes, `--jobs`).
pub fn log_lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    x_names: fn(f64) -> String,
) -> String {
    let axes = LogAxes {
        x_label,
        y_label,
        x_names,
        y_names: |v| report::group(v.round() as u64),
        colour: |_, name| reader_color(name),
        own_ticks: false,
    };
    let mut svg = String::new();
    let drawn = draw_log_lines(&mut svg, title, &axes, series);
    svg_or_note(title, svg, drawn)
}

/// How a log–log line chart names its axes and colours its series.
struct LogAxes<'a> {
    x_label: &'a str,
    y_label: &'a str,
    x_names: fn(f64) -> String,
    y_names: fn(f64) -> String,
    /// The colour of the series at an index, with a name.
    colour: fn(usize, &str) -> RGBColor,
    /// Ticks at 1, 2, 5 a decade ([`log_ticks`]), named with [`log_tick`], drawn here
    /// instead of plotters' (which name only the powers of ten).
    own_ticks: bool,
}

/// A log axis's tick (a power of ten) as a count: `100`, `10,000`.
fn count_name(v: f64) -> String {
    report::group(v.round() as u64)
}

/// One figure of a `--jobs` sweep against `--jobs`, a line per reader.
fn per_jobs(sweep: &Table, figure: &str, unit: &str, pick: fn(&stats::Row) -> f64) -> String {
    let tables = [sweep];
    let series: Vec<(String, Vec<(f64, f64)>)> = study_readers(&tables)
        .into_iter()
        .map(|reader| {
            let points = sweep
                .rows
                .iter()
                .filter(|r| r.is(reader) && r.rank.is_some())
                .filter_map(|r| Some((r.jobs? as f64, pick(r))))
                .collect();
            (reader.to_string(), points)
        })
        .collect();
    log_lines(
        &format!(
            "{figure} against --jobs, {}, {} (lower is better)",
            sweep.target,
            sweep.cache.as_str()
        ),
        "--jobs",
        unit,
        &series,
        |v| format!("{v:.0}"),
    )
}

/// A log axis's tick (a power of ten) as a size: `1 kB`, `100 MB`.
fn decimal_size(v: f64) -> String {
    let (value, unit) = [(1e9, "GB"), (1e6, "MB"), (1e3, "kB")]
        .into_iter()
        .find(|(scale, _)| v >= *scale)
        .map_or((v, "B"), |(scale, unit)| (v / scale, unit));
    format!("{value:.0} {unit}")
}

/// The colour of a reader: its place in [`Reader::ALL`].
fn reader_color(reader: &str) -> RGBColor {
    let at = Reader::from_label(reader)
        .and_then(|r| Reader::ALL.iter().position(|&x| x == r))
        .unwrap_or(COLORS.len() - 1);
    color(at)
}

fn draw_log_lines(
    svg: &mut String,
    title: &str,
    axes: &LogAxes<'_>,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<(), Box<dyn std::error::Error>> {
    let points: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|(_, p)| p.iter().copied())
        .filter(|p| p.0 > 0.0 && p.1 > 0.0)
        .collect();
    if points.is_empty() {
        return Err("nothing was measured".into());
    }
    let (x_min, x_max, y_min, y_max) = points.iter().fold(
        (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
        |(a, b, c, d), p| (a.min(p.0), b.max(p.0), c.min(p.1), d.max(p.1)),
    );
    let root = SVGBackend::with_string(svg, (WIDTH, height(series.len()))).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = framed(&root, title, 40).build_cartesian_2d(
        (x_min / 1.5..x_max * 1.5).log_scale(),
        (y_min / 1.5..y_max * 1.5).log_scale(),
    )?;
    if axes.own_ticks {
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(axes.x_label)
            .y_desc(axes.y_label)
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&|_| String::new())
            .draw()?;
        let grid = RGBColor(200, 200, 200);
        let (x_low, x_high) = (x_min / 1.5, x_max * 1.5);
        let (y_low, y_high) = (y_min / 1.5, y_max * 1.5);
        for x in log_ticks(x_low, x_high) {
            chart.draw_series([PathElement::new(
                vec![(x, y_low), (x, y_high)],
                grid.stroke_width(1),
            )])?;
            let (px, py) = chart.backend_coord(&(x, y_low));
            root.draw(&label(
                log_tick(&x),
                (px, py + 6),
                12,
                HPos::Center,
                VPos::Top,
            ))?;
        }
        for y in log_ticks(y_low, y_high) {
            chart.draw_series([PathElement::new(
                vec![(x_low, y), (x_high, y)],
                grid.stroke_width(1),
            )])?;
            let (px, py) = chart.backend_coord(&(x_low, y));
            root.draw(&label(
                log_tick(&y),
                (px - 6, py),
                12,
                HPos::Right,
                VPos::Center,
            ))?;
        }
    } else {
        chart
            .configure_mesh()
            .x_desc(axes.x_label)
            .y_desc(axes.y_label)
            .x_label_formatter(&|v| (axes.x_names)(*v))
            .y_label_formatter(&|v| (axes.y_names)(*v))
            .y_labels(8)
            .draw()?;
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = (axes.colour)(i, name);
        let pts: Vec<(f64, f64)> = pts
            .iter()
            .copied()
            .filter(|p| p.0 > 0.0 && p.1 > 0.0)
            .collect();
        chart.draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?;
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
    }
    legend_coloured(
        &root,
        series.iter().map(|(name, _)| name.as_str()),
        false,
        axes.colour,
    )?;
    root.present()?;
    Ok(())
}

/// The readers of the study's charts, in table order.
fn study_readers(tables: &[&Table]) -> Vec<Reader> {
    Reader::ALL
        .into_iter()
        .filter(|&reader| {
            tables
                .iter()
                .any(|t| t.rows.iter().any(|r| r.is(reader) && r.rank.is_some()))
        })
        .collect()
}

/// The study's charts: throughput against file size (warm, cold), and memory and time
/// against `--jobs`.
pub fn study_charts(experiments: &Experiments) -> Vec<String> {
    let mut out = Vec::new();
    for cache in [Cache::Warm, Cache::Cold] {
        let tables: Vec<&Table> = experiments
            .sizes
            .iter()
            .filter(|t| t.cache == cache)
            .collect();
        if tables.is_empty() {
            continue;
        }
        for (figure, unit, pick) in [
            (
                "Throughput",
                "MB/s",
                (|r: &stats::Row| r.mb_per_s) as fn(&stats::Row) -> f64,
            ),
            ("Files per second", "files/s", |r: &stats::Row| {
                r.files_per_s
            }),
        ] {
            let series: Vec<(String, Vec<(f64, f64)>)> = study_readers(&tables)
                .into_iter()
                .map(|reader| {
                    let points = study::SIZE_TREES
                        .iter()
                        .filter_map(|&(name, size)| {
                            let t = tables.iter().find(|t| t.target == name)?;
                            let row = t.rows.iter().find(|r| r.is(reader) && r.rank.is_some())?;
                            Some((size as f64, pick(row)))
                        })
                        .collect();
                    (reader.to_string(), points)
                })
                .collect();
            out.push(log_lines(
                &format!(
                    "{figure} against file size, {} cache (higher is better)",
                    cache.as_str()
                ),
                "file size",
                unit,
                &series,
                decimal_size,
            ));
        }
    }
    out.extend(cpu_axis_charts(&experiments.works));
    if let Some(sweep) = &experiments.concurrency {
        out.push(per_jobs(
            sweep,
            "Peak memory (largest process)",
            "KiB",
            |r| r.peak_rss_kib as f64,
        ));
    }
    if let Some(sweep) = &experiments.virtual_memory {
        out.push(per_jobs(
            sweep,
            "Peak virtual size (largest process)",
            "KiB",
            |r| r.peak_vm_kib.unwrap_or(0) as f64,
        ));
    }
    for sweep in experiments
        .concurrency
        .iter()
        .chain(&experiments.concurrency_cold)
    {
        out.push(per_jobs(sweep, "Wall time", "ms", |r| r.median_ms));
    }
    for (tables, trees, what, x_names) in [
        (
            &experiments.files,
            study::COUNT_TREES,
            "number of files",
            count_name as fn(f64) -> String,
        ),
        (
            &experiments.bytes,
            study::BYTE_FILES,
            "bytes of one file",
            decimal_size,
        ),
    ] {
        for cache in [Cache::Warm, Cache::Cold] {
            let mine: Vec<&Table> = tables.iter().filter(|t| t.cache == cache).collect();
            if mine.is_empty() {
                continue;
            }
            let series: Vec<(String, Vec<(f64, f64)>)> = study_readers(&mine)
                .into_iter()
                .map(|reader| {
                    let points = trees
                        .iter()
                        .filter_map(|&(name, amount)| {
                            let t = mine.iter().find(|t| t.target == name)?;
                            let row = t.rows.iter().find(|r| r.is(reader) && r.rank.is_some())?;
                            Some((amount as f64, row.median_ms))
                        })
                        .collect();
                    (reader.to_string(), points)
                })
                .collect();
            out.push(log_lines(
                &format!("Wall time against the {what}, {} cache", cache.as_str()),
                what,
                "ms",
                &series,
                x_names,
            ));
        }
    }
    out
}

/// The CPU axis of the study: for each model and cache state, its time ÷ the limit against
/// the CPU cost a byte of each work (one core's nanoseconds a byte, from the limit), a line a
/// size tree. A model that keeps up with the limit whatever the work stays flat.
pub fn cpu_axis_charts(works: &[Table]) -> Vec<String> {
    let mut out = Vec::new();
    for cache in [Cache::Warm, Cache::Cold] {
        let tables: Vec<&Table> = works.iter().filter(|t| t.cache == cache).collect();
        for reader in study_readers(&tables)
            .into_iter()
            .filter(|r| !matches!(r, Reader::ReadOnly | Reader::Seq))
        {
            let series: Vec<(String, Vec<(f64, f64)>)> = study::SIZE_TREES
                .iter()
                .map(|&(tree, _)| {
                    let mut points: Vec<(f64, f64)> = tables
                        .iter()
                        .filter(|t| t.target == tree)
                        .filter_map(|t| {
                            let ns_a_byte = 1e9 / t.limit?.per_core;
                            let row = t.rows.iter().find(|r| r.is(reader) && r.rank.is_some())?;
                            Some((ns_a_byte, row.vs_limit?))
                        })
                        .collect();
                    points.sort_by(|a, b| a.0.total_cmp(&b.0));
                    (tree.to_string(), points)
                })
                .filter(|(_, points)| !points.is_empty())
                .collect();
            if series.is_empty() {
                continue;
            }
            let axes = LogAxes {
                x_label: "CPU cost a byte (one core's ns/B: counting, xxh3, blake3, sha256)",
                y_label: "× limit (1: as fast as this machine allows)",
                x_names: |v| log_tick(&v),
                y_names: |v| log_tick(&v),
                colour: |i, _| color(i),
                own_ticks: true,
            };
            let title = format!(
                "{reader}: time ÷ limit against CPU cost a byte, {} cache",
                cache.as_str()
            );
            let mut svg = String::new();
            let drawn = draw_log_lines(&mut svg, &title, &axes, &series);
            out.push(svg_or_note(&title, svg, drawn));
        }
    }
    out
}

/// The study's page: the claims with their verdicts, the guidelines, the charts, and every
/// table it measured.
pub fn study_page(
    meta: &Meta,
    claims: &[Claim],
    guidelines: &[String],
    experiments: &Experiments,
) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Concurrent File Reader — the original's claims, measured</title>\n<style>\n\
         body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\n\
         table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}\n\
         th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\n\
         th{background:#f3f3f3}\n.holds{color:#1a7f37}.does-not-hold{color:#c0392b}.depends{color:#b36b00}\n\
         .meta{color:#555;font-size:.9em}\n.chart{margin:1em 0}\n\
         </style></head><body>\n",
    );
    let _ = writeln!(
        out,
        "<h1>The original project's claims, measured — {}</h1>\n<p class=\"meta\">{} · {}</p>",
        escape(&meta.started_at),
        escape(&meta.command_line),
        escape(&format!(
            "{}, {} cores, {} GiB, Linux {}, {}",
            meta.host.cpu_model,
            meta.host.cores,
            meta.host.memory_kib / (1 << 20),
            meta.host.kernel,
            meta.host.git_revision
        ))
    );
    out.push_str("<table><tr><th>claim</th><th>measured here</th><th>verdict</th></tr>\n");
    for c in claims {
        let class = c.finding.word().replace(' ', "-");
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\"><strong>{}</strong></td></tr>",
            escape(&c.claim),
            escape(&c.measured),
            escape(c.finding.word())
        );
    }
    out.push_str("</table>\n<h2>Guidelines for this machine</h2>\n<ul>\n");
    for g in guidelines {
        let _ = writeln!(out, "<li>{}</li>", escape(g));
    }
    out.push_str("</ul>\n<h2>Charts</h2>\n");
    for svg in study_charts(experiments) {
        let _ = writeln!(out, "<div class=\"chart\">{svg}</div>");
    }
    out.push_str("<h2>Tables</h2>\n");
    for table in experiments
        .sizes
        .iter()
        .chain(&experiments.concurrency)
        .chain(&experiments.concurrency_cold)
        .chain(&experiments.virtual_memory)
        .chain(&experiments.files)
        .chain(&experiments.bytes)
        .chain(&experiments.headline)
        .chain(&experiments.mixes)
        .chain(
            experiments
                .works
                .iter()
                .filter(|t| t.work.is_some_and(|w| w != super::Work::Count)),
        )
    {
        out.push_str(&html_table(table, meta));
    }
    out.push_str("</body></html>\n");
    out
}

/// A chart on `root` with this report's frame: its title, margins (the legend's on the right)
/// and room for the axes' labels, `x_labels` pixels under the x axis.
fn framed<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    x_labels: u32,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .margin_right(LEGEND_WIDTH)
        .x_label_area_size(x_labels)
        .y_label_area_size(70);
    builder
}

/// A black label of `size` points at `at`, anchored there by `h` and `v`.
fn label(
    text: String,
    at: (i32, i32),
    size: u32,
    h: HPos,
    v: VPos,
) -> Text<'static, (i32, i32), String> {
    let style = ("sans-serif", size)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(h, v));
    Text::new(text, at, style)
}
