//! A small inline SVG of a job's progress over time, as the exporter saw it: a step line
//! through the trail's points, held flat to the latest observation.

use std::fmt::Write as _;

use super::html::{esc, time};
use crate::store::Trail;

const W: f64 = 600.0;
const H: f64 = 120.0;
/// Room for the axis labels.
const PAD: f64 = 36.0;

/// The chart, or a sentence when there is nothing to draw.
pub fn progress(trail: &Trail) -> String {
    let points = trail.points.as_slice();
    let (Some(&(t0, _)), Some((t1, _))) = (points.first(), trail.last) else {
        return "<p class=\"muted\">No progress seen yet.</p>".to_string();
    };
    let spanned = (t1 - t0).max(1.0);
    let x = |t: f64| PAD + (t - t0) / spanned * (W - 2.0 * PAD);
    let y = |p: f64| H - PAD / 2.0 - p.clamp(0.0, 1.0) * (H - PAD);
    let mut path = String::new();
    let mut held = None;
    for &(t, p) in points {
        if let Some(before) = held {
            let _ = write!(path, " L{:.1},{:.1}", x(t), y(before));
        }
        let op = if held.is_none() { 'M' } else { 'L' };
        let _ = write!(path, " {op}{:.1},{:.1}", x(t), y(p));
        held = Some(p);
    }
    if let Some(p) = held {
        let _ = write!(path, " L{:.1},{:.1}", x(t1), y(p));
    }
    let (top, bottom) = (y(1.0), y(0.0));
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
         role=\"img\" aria-label=\"progress over time\"><title>Progress from {} to {}</title>\
         <rect x=\"{PAD}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#f8f8f8\" stroke=\"#ccc\"/>\
         <text x=\"2\" y=\"{:.1}\" font-size=\"10\">100 %</text><text x=\"2\" y=\"{bottom:.1}\" font-size=\"10\">0 %</text>\
         <text x=\"{PAD}\" y=\"{H}\" font-size=\"10\">{}</text>\
         <text x=\"{:.1}\" y=\"{H}\" font-size=\"10\" text-anchor=\"end\">{}</text>\
         <path d=\"{}\" fill=\"none\" stroke=\"#0b5394\" stroke-width=\"2\"/></svg>",
        esc(&time(Some(t0))),
        esc(&time(Some(t1))),
        W - 2.0 * PAD,
        bottom - top,
        top + 10.0,
        esc(&time(Some(t0))),
        W - PAD,
        esc(&time(Some(t1))),
        path.trim_start(),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollback::State;

    #[test]
    fn a_step_line_held_to_the_latest_sight() {
        let mut trail = Trail::default();
        assert!(progress(&trail).contains("No progress"));
        for (t, p) in [(0.0, 0.0), (30.0, 0.0), (60.0, 0.5), (120.0, 0.5)] {
            trail.observe(t, Some(p), State::Running);
        }
        let svg = progress(&trail);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        // Start at 0 %, hold to 60 s, rise to 50 %, hold to the latest sight at 120 s.
        assert!(
            svg.contains("d=\"M36.0,102.0 L300.0,102.0 L300.0,60.0 L564.0,60.0\""),
            "{svg}"
        );
        assert!(!svg.contains("script"));
    }
}
