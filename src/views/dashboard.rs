//! The administrator's dashboard (SPEC 5): the figures of `models::TokenFigures` as
//! links to the lists they count, and two charts drawn here as SVG — readable without
//! JavaScript, each bar a link with an accessible name, each chart with a table beside it.

use chrono::NaiveDate;

use crate::domain::owner_roles::OwnerFilter;
use crate::models::token_tally::{HORIZONS, UNUSED_DAYS};
use crate::models::{AuditAction, TokenFigures};

/// A figure: what it counts, how many, and the list of those tokens.
pub struct Figure {
    pub label: String,
    pub value: String,
    pub href: String,
    /// A sentence under the number.
    pub note: String,
}

/// One bar of a chart, in the SVG's units.
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub value_text: String,
    pub href: String,
    /// The bar's accessible name: "Expiring within 7 days: 1,204 tokens".
    pub name: String,
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
}

/// Tokens by expiry horizon: horizontal bars, a row each.
pub struct HorizonChart {
    pub bars: Vec<Bar>,
    pub height: i64,
    pub summary: String,
}

/// One week of the activity chart.
pub struct Week {
    pub label: String,
    /// Shown under every other week, so the labels do not collide on a phone.
    pub show_label: bool,
    pub label_x: i64,
    pub created: Bar,
    pub revoked: Bar,
}

pub struct WeekChart {
    pub weeks: Vec<Week>,
    pub ticks: Vec<(i64, String)>,
    pub summary: String,
}

pub struct Dashboard {
    pub figures: Vec<Figure>,
    pub owners: Vec<Figure>,
    pub horizons: HorizonChart,
    pub activity: WeekChart,
}

/// The SVG charts' width (viewBox units; the page scales them).
pub const CHART_WIDTH: i64 = 360;
const LABEL_WIDTH: i64 = 112;
const VALUE_WIDTH: i64 = 56;
const ROW: i64 = 30;
const BAR: i64 = 20;
/// The activity chart's plot area.
const PLOT_TOP: i64 = 10;
const PLOT_HEIGHT: i64 = 150;
const PLOT_LEFT: i64 = 44;

/// 1234567 → "1,234,567".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn tokens(n: i64) -> String {
    if n == 1 { "1 token".to_owned() } else { format!("{} tokens", thousands(n)) }
}

/// The smallest "nice" number (1, 2 or 5 × 10ⁿ) at or above `n`, for a chart's scale.
pub fn nice_ceiling(n: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if step * m >= n {
                return step * m;
            }
        }
        step = step.saturating_mul(10);
        if step >= i64::MAX / 10 {
            return n;
        }
    }
}

fn list(query: &str) -> String {
    format!("/admin/tokens?{query}")
}

impl Dashboard {
    pub fn new(f: &TokenFigures) -> Dashboard {
        let live = f.live.working(OwnerFilter::Anyone);
        let within = |days: i64| f.expiring_within(days);
        let figures = vec![
            Figure {
                label: "Working tokens".into(),
                value: thousands(live),
                href: list("show=active"),
                note: "Active and unexpired: they authenticate, unless their owner is suspended.".into(),
            },
            Figure {
                label: "Without expiry".into(),
                value: thousands(f.never_expiring.all()),
                href: list("show=no_expiry"),
                note: "They work until someone revokes them.".into(),
            },
            Figure {
                label: "Expiring within 7 days".into(),
                value: thousands(within(7)),
                href: list("show=expiring&days=7"),
                note: "Their owners will need new ones soon.".into(),
            },
            Figure {
                label: "Expiring within 30 days".into(),
                value: thousands(within(30)),
                href: list("show=expiring&days=30"),
                note: "Including those within 7 days.".into(),
            },
            Figure {
                label: format!("Unused for {UNUSED_DAYS} days"),
                value: thousands(f.unused),
                href: list(&format!("show=unused&days={UNUSED_DAYS}")),
                note: format!("Unexpired, and not used since before {}.", f.unused_since.format("%-d %B")),
            },
            Figure {
                label: "Waiting for activation".into(),
                value: thousands(f.live.pending()),
                href: list("show=pending"),
                note: "Created on someone's behalf; they work once their owner activates them.".into(),
            },
            Figure {
                label: "Expired".into(),
                value: thousands(f.expired.all()),
                href: list("show=expired"),
                note: "They no longer work; their owners may delete them.".into(),
            },
        ];
        let owners = OwnerFilter::BREAKDOWN
            .iter()
            .map(|o| Figure {
                label: o.label().to_owned(),
                value: thousands(f.live.working(*o)),
                href: list(&format!("show=active&owner={}", o.key())),
                note: String::new(),
            })
            .collect();
        Dashboard { figures, owners, horizons: horizon_chart(f), activity: week_chart(&f.weeks) }
    }
}

fn horizon_chart(f: &TokenFigures) -> HorizonChart {
    // Unexpired tokens, pending ones included (as the lists they link to count them).
    let mut rows: Vec<(String, i64, String)> = Vec::new();
    let mut from = 0;
    let mut so_far = 0;
    for (days, counts) in &f.within {
        let upto = counts.all();
        let label = match (from, *days) {
            (0, d) => format!("≤ {d} days"),
            (_, 365) => format!("{}–365 days", from + 1),
            (a, b) => format!("{}–{b} days", a + 1),
        };
        let href = if from == 0 {
            list(&format!("show=expiring&days={days}"))
        } else {
            list(&format!("show=expiring&from={from}&days={days}"))
        };
        rows.push((label, upto - so_far, href));
        so_far = upto;
        from = *days;
    }
    let last = HORIZONS[HORIZONS.len() - 1];
    rows.push((
        "Over a year".into(),
        f.live.all() - f.never_expiring.all() - so_far,
        list(&format!("show=expiring&from={last}&days=3650")),
    ));
    rows.push(("Never".into(), f.never_expiring.all(), list("show=no_expiry")));
    let max = nice_ceiling(rows.iter().map(|(_, n, _)| *n).max().unwrap_or(0).max(1));
    let span = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    let bars: Vec<Bar> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (label, value, href))| Bar {
            name: format!("Expiring {}: {}", label.replace('≤', "within").to_lowercase(), tokens(value)),
            value_text: thousands(value),
            x: LABEL_WIDTH,
            y: i as i64 * ROW + (ROW - BAR) / 2,
            width: (value * span / max).max(if value > 0 { 2 } else { 0 }),
            height: BAR,
            label,
            value,
            href,
        })
        .collect();
    let summary =
        bars.iter().map(|b| format!("{}: {}", b.label, b.value_text)).collect::<Vec<_>>().join("; ");
    HorizonChart { height: bars.len() as i64 * ROW, bars, summary }
}

fn week_chart(weeks: &[(NaiveDate, i64, i64)]) -> WeekChart {
    let max = nice_ceiling(weeks.iter().map(|(_, c, r)| (*c).max(*r)).max().unwrap_or(0).max(1));
    // A margin on the right for the last week's label.
    let slot = (CHART_WIDTH - PLOT_LEFT - 16) / weeks.len().max(1) as i64;
    let bar_width = (slot - 6) / 2;
    let bar = |value: i64, x: i64, name: String, href: &str| {
        let height = (value * PLOT_HEIGHT / max).max(if value > 0 { 2 } else { 0 });
        Bar {
            label: String::new(),
            value,
            value_text: thousands(value),
            href: href.to_owned(),
            name,
            x,
            y: PLOT_TOP + PLOT_HEIGHT - height,
            width: bar_width,
            height,
        }
    };
    let last = weeks.len().saturating_sub(1);
    let weeks: Vec<Week> = weeks
        .iter()
        .enumerate()
        .map(|(i, (monday, created, revoked))| {
            let x = PLOT_LEFT + i as i64 * slot + 3;
            let label = monday.format("%-d %b").to_string();
            let when = format!("the week of {}", monday.format("%-d %B"));
            // That week's events: Monday to Sunday, as the tallies count them (UTC).
            let days = format!("from={}&to={}", monday, *monday + chrono::Duration::days(6));
            Week {
                show_label: (last - i).is_multiple_of(2),
                label_x: x + bar_width,
                created: bar(
                    *created,
                    x,
                    format!("Created in {when}: {}", tokens(*created)),
                    &format!("/admin/audit?action=token.created&{days}"),
                ),
                revoked: bar(
                    *revoked,
                    x + bar_width,
                    format!("Revoked in {when}: {}", tokens(*revoked)),
                    &format!("/admin/audit?action={}&{days}", AuditAction::REVOCATIONS.0),
                ),
                label,
            }
        })
        .collect();
    // The middle line only where it is a whole number.
    let ticks = [Some(0), (max % 2 == 0).then_some(max / 2), Some(max)]
        .into_iter()
        .flatten()
        .map(|v| (PLOT_TOP + PLOT_HEIGHT - v * PLOT_HEIGHT / max, thousands(v)))
        .collect();
    let (created, revoked): (i64, i64) =
        weeks.iter().fold((0, 0), |(c, r), w| (c + w.created.value, r + w.revoked.value));
    let summary = format!(
        "Over these {} weeks, {} created and {} revoked.",
        weeks.len(),
        tokens(created),
        thousands(revoked)
    );
    WeekChart { weeks, ticks, summary }
}

/// The plot's bottom edge and the labels' baseline, for the template.
pub const PLOT_BOTTOM: i64 = PLOT_TOP + PLOT_HEIGHT;
pub const ACTIVITY_HEIGHT: i64 = PLOT_TOP + PLOT_HEIGHT + 24;
pub const PLOT_LEFT_EDGE: i64 = PLOT_LEFT;

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-12_345), "-12,345");
        assert_eq!(thousands(i64::MIN), "-9,223,372,036,854,775,808");
    }

    #[test]
    fn a_scale_ends_at_a_round_number_at_or_above_the_largest_value() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(101), 200);
        assert_eq!(nice_ceiling(340_000), 500_000);
        assert!(nice_ceiling(i64::MAX) >= 1);
    }

    #[test]
    fn week_bars_stand_on_the_axis_and_fit_the_plot() {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let weeks: Vec<_> =
            (0..12).map(|i| (monday - Duration::weeks(11 - i), i * 10, 120 - i * 10)).collect();
        let chart = week_chart(&weeks);
        for w in &chart.weeks {
            for b in [&w.created, &w.revoked] {
                assert_eq!(b.y + b.height, PLOT_BOTTOM, "on the axis");
                assert!(b.height <= PLOT_HEIGHT && b.x + b.width <= CHART_WIDTH);
            }
        }
        assert!(chart.weeks[11].show_label, "the latest week is labelled");
        assert!(chart.summary.contains("660 tokens created") && chart.summary.contains("780 revoked"));
    }
}
