//! Charts as inline SVG drawn on the server: each record's score over time (its decay curve,
//! computed with the verdict model's own `score`), the sightings timeline per source,
//! horizontal bars for counts, and columns for counts per day.

use chrono::Duration;
use maud::{html, Markup};
use threatintel_model::Timestamp;
use threatintel_report::verdict::{score, ScoredRecord};
use threatintel_report::VerdictConfig;
use threatintel_store::IndicatorHit;

const WIDTH: f64 = 640.0;
const PLOT_LEFT: f64 = 40.0;
const PLOT_RIGHT: f64 = 630.0;
/// Points per decay curve.
const SAMPLES: i64 = 48;
/// Colours of successive series.
const PALETTE: [&str; 6] = [
    "#c0392b", "#2471a3", "#d68910", "#7d3c98", "#138d75", "#566573",
];

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// A time axis from `start` to `end` mapped onto the plot's width.
struct TimeAxis {
    start: Timestamp,
    seconds: f64,
    left: f64,
}

impl TimeAxis {
    /// The axis from `left` to the plot's right edge.
    fn new(start: Timestamp, end: Timestamp, left: f64) -> Self {
        let seconds = ((end - start).num_seconds() as f64).max(1.0);
        Self {
            start,
            seconds,
            left,
        }
    }

    fn x(&self, t: Timestamp) -> f64 {
        let share = ((t - self.start).num_seconds() as f64 / self.seconds).clamp(0.0, 1.0);
        self.left + share * (PLOT_RIGHT - self.left)
    }
}

/// When `record` stops counting: its last sighting plus its threat type's lifetime.
fn end_of_life(config: &VerdictConfig, record: &ScoredRecord) -> Timestamp {
    let lifetime = config.decay_for(&record.record.threat_type).lifetime_days;
    record.record.last_seen + Duration::seconds((lifetime * 86_400.0) as i64)
}

/// Each record's score from its first sighting until it stops counting, with the active
/// threshold and the report time marked. Empty when there are no records.
pub fn score_over_time(config: &VerdictConfig, records: &[ScoredRecord], at: Timestamp) -> Markup {
    let Some(start) = records.iter().map(|r| r.record.first_seen).min() else {
        return html! {};
    };
    let end = records
        .iter()
        .map(|r| end_of_life(config, r))
        .max()
        .unwrap_or(at)
        .max(at);
    let axis = TimeAxis::new(start, end, PLOT_LEFT);
    let (top, bottom) = (10.0, 170.0);
    let peak = records
        .iter()
        .map(|r| r.base)
        .fold(config.active_threshold, f64::max)
        .max(1.0);
    let y = |s: f64| bottom - (s / peak).clamp(0.0, 1.0) * (bottom - top);
    let curves: Vec<String> = records
        .iter()
        .map(|r| {
            let hit = IndicatorHit {
                record: r.record.clone(),
                reliability: r.reliability,
                sightings: 0,
            };
            let (from, to) = (r.record.first_seen, end_of_life(config, r));
            let step = (to - from).num_seconds().max(SAMPLES) / SAMPLES;
            (0..=SAMPLES)
                .filter_map(|i| {
                    let t = from + Duration::seconds(step * i);
                    let s = score(config, &hit, r.relation.clone(), t)?;
                    Some(format!("{:.1},{:.1}", axis.x(t), y(s.score)))
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let threshold = y(config.active_threshold);
    let now = axis.x(at);
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " 200" } role="img" aria-label="score over time" {
            line x1=(PLOT_LEFT) y1=(bottom) x2=(PLOT_RIGHT) y2=(bottom) class="axis" {}
            line x1=(PLOT_LEFT) y1=(threshold) x2=(PLOT_RIGHT) y2=(threshold) class="threshold" {}
            text x="2" y=(threshold + 4.0) class="tick" { (format!("{:.0}", config.active_threshold)) }
            text x="2" y=(top + 8.0) class="tick" { (format!("{peak:.0}")) }
            line x1=(now) y1=(top) x2=(now) y2=(bottom) class="now" {}
            @for (i, points) in curves.iter().enumerate() {
                polyline points=(points) fill="none" stroke=(colour(i)) stroke-width="2" {}
            }
            text x=(PLOT_LEFT) y="192" class="tick" { (crate::text::day(start)) }
            text x=(PLOT_RIGHT) y="192" class="tick" text-anchor="end" { (crate::text::day(end)) }
        }
    }
}

/// One bar per record from first to last sighting, on one row per source.
pub fn sightings(records: &[ScoredRecord], at: Timestamp) -> Markup {
    let mut sources: Vec<&str> = records.iter().map(|r| r.record.source.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    let Some(start) = records.iter().map(|r| r.record.first_seen).min() else {
        return html! {};
    };
    let label_width = 140.0;
    let axis = TimeAxis::new(start, at.max(start), label_width);
    let row_height = 22.0;
    let height = row_height * sources.len() as f64 + 24.0;
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-label="sightings per source" {
            @for (i, source) in sources.iter().enumerate() {
                @let y = i as f64 * row_height + 4.0;
                text x="2" y=(y + 13.0) class="label" { (source) }
                @for r in records.iter().filter(|r| r.record.source == *source) {
                    @let (x1, x2) = (axis.x(r.record.first_seen), axis.x(r.record.last_seen));
                    rect x=(x1) y=(y) width=((x2 - x1).max(3.0)) height="14" fill=(colour(i)) {
                        title { (r.record.threat_type) " " (crate::text::day(r.record.first_seen)) " – " (crate::text::day(r.record.last_seen)) }
                    }
                }
            }
            text x=(label_width) y=(height - 4.0) class="tick" { (crate::text::day(start)) }
            text x=(PLOT_RIGHT) y=(height - 4.0) class="tick" text-anchor="end" { (crate::text::day(at)) }
        }
    }
}

/// Horizontal bars, one per (label, count), longest = widest.
pub fn bars(items: &[(String, u64)]) -> Markup {
    let most = items.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let row_height = 22.0;
    let height = row_height * items.len() as f64 + 4.0;
    let label_width = 180.0;
    html! {
        svg.chart.bars viewBox={ "0 0 " (WIDTH) " " (height) } role="img" {
            @for (i, (label, n)) in items.iter().enumerate() {
                @let y = i as f64 * row_height + 2.0;
                text x="2" y=(y + 13.0) class="label" { (label) }
                rect x=(label_width) y=(y) width=(((WIDTH - label_width - 60.0) * *n as f64 / most).max(1.0)) height="16" fill=(colour(0)) {}
                text x=(label_width + (WIDTH - label_width - 60.0) * *n as f64 / most + 4.0) y=(y + 13.0) class="label" { (n) }
            }
        }
    }
}

/// One column per day from `first` to `last` (inclusive, days without a count empty), height
/// by count, the days at both ends labelled.
pub fn days(counts: &[(Timestamp, u64)], first: Timestamp, last: Timestamp) -> Markup {
    let days = (last - first).num_days().max(0) + 1;
    let most = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let (top, bottom) = (14.0, 120.0);
    let slot = (PLOT_RIGHT - PLOT_LEFT) / days as f64;
    html! {
        svg.chart.days viewBox={ "0 0 " (WIDTH) " 140" } role="img" {
            line x1=(PLOT_LEFT) y1=(bottom) x2=(PLOT_RIGHT) y2=(bottom) class="axis" {}
            text x="2" y=(top) class="tick" { (most) }
            @for (day, n) in counts {
                @let i = (*day - first).num_days();
                @if (0..days).contains(&i) {
                    @let height = (bottom - top) * *n as f64 / most;
                    rect x=(PLOT_LEFT + i as f64 * slot + 1.0) y=(bottom - height) width=((slot - 2.0).max(1.0)) height=(height) fill=(colour(1)) {
                        title { (crate::text::day(*day)) ": " (n) }
                    }
                }
            }
            text x=(PLOT_LEFT) y="134" class="tick" { (crate::text::day(first)) }
            text x=(PLOT_RIGHT) y="134" class="tick" text-anchor="end" { (crate::text::day(last)) }
        }
    }
}
