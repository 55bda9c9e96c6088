//! Jupyter displays (`_repr_html_`): a mood's label, palette swatches and
//! its point on the valence/arousal plane as an inline SVG; a match with
//! both people and the blend on one plot; a profile's headline figures.
//! Self-contained HTML with inline styles (notebooks strip scripts).

use std::fmt::Write;

use spotifyart_core::mood::Mood;
use spotifyart_core::{ListeningProfile, MatchResult};

/// Text safe inside HTML elements and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const BOX: &str = "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;display:flex;\
                   flex-wrap:wrap;gap:16px;align-items:center;padding:8px 0";
const MUTED: &str = "color:#6b7280;font-size:0.85em";

fn title(label: &str) -> String {
    let mut c = label.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A point to place on the plot.
struct Point<'a> {
    mood: &'a Mood,
    name: &'a str,
}

/// The valence/arousal plane, 200 px square, with the points on it.
fn plot(points: &[Point<'_>]) -> String {
    let (size, pad) = (200.0_f32, 14.0_f32);
    let half = (size - 2.0 * pad) / 2.0;
    let x = |v: f32| pad + half + v.clamp(-1.0, 1.0) * half;
    let y = |a: f32| pad + half - a.clamp(-1.0, 1.0) * half;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{size}\" \
         viewBox=\"0 0 {size} {size}\" role=\"img\" aria-label=\"valence and arousal\">\
         <rect x=\"{pad}\" y=\"{pad}\" width=\"{w}\" height=\"{w}\" rx=\"8\" fill=\"#f9fafb\" stroke=\"#e5e7eb\"/>\
         <line x1=\"{pad}\" y1=\"{c}\" x2=\"{e}\" y2=\"{c}\" stroke=\"#d1d5db\"/>\
         <line x1=\"{c}\" y1=\"{pad}\" x2=\"{c}\" y2=\"{e}\" stroke=\"#d1d5db\"/>\
         <g font-size=\"9\" fill=\"#9ca3af\" font-family=\"sans-serif\">\
         <text x=\"{e2}\" y=\"{c2}\" text-anchor=\"end\">happy</text>\
         <text x=\"{p2}\" y=\"{c2}\">sad</text>\
         <text x=\"{c3}\" y=\"{p3}\">excited</text>\
         <text x=\"{c3}\" y=\"{e3}\">calm</text></g>",
        w = size - 2.0 * pad,
        c = pad + half,
        e = size - pad,
        e2 = size - pad - 3.0,
        c2 = pad + half - 4.0,
        p2 = pad + 3.0,
        c3 = pad + half + 4.0,
        p3 = pad + 11.0,
        e3 = size - pad - 4.0,
    );
    if let [a, b, ..] = points {
        let _ = write!(
            svg,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#9ca3af\" stroke-dasharray=\"3 3\"/>",
            x(a.mood.valence),
            y(a.mood.arousal),
            x(b.mood.valence),
            y(b.mood.arousal)
        );
    }
    for p in points {
        let fill = p
            .mood
            .palette
            .first()
            .map(|s| s.color.hex())
            .unwrap_or_else(|| "#6b7280".into());
        let (cx, cy) = (x(p.mood.valence), y(p.mood.arousal));
        let _ = write!(
            svg,
            "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"7\" fill=\"{fill}\" stroke=\"#111827\" stroke-width=\"1.5\">\
             <title>{}: {} (valence {:+.2}, arousal {:+.2})</title></circle>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" font-family=\"sans-serif\" fill=\"#111827\">{}</text>",
            esc(p.name),
            esc(p.mood.label.as_str()),
            p.mood.valence,
            p.mood.arousal,
            cx + 10.0,
            cy + 4.0,
            esc(p.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn swatches(mood: &Mood) -> String {
    let mut out = String::from("<div style=\"display:flex;gap:4px;margin:6px 0\">");
    for s in &mood.palette {
        let hex = s.color.hex();
        let _ = write!(
            out,
            "<span title=\"{} {hex}\" style=\"display:inline-block;width:28px;height:28px;\
             border-radius:6px;background:{hex};border:1px solid rgba(0,0,0,.15)\"></span>",
            esc(&s.name)
        );
    }
    out.push_str("</div>");
    out
}

fn mood_facts(mood: &Mood) -> String {
    let signals: Vec<&str> = mood.signals.iter().map(|s| s.as_str()).collect();
    format!(
        "<div style=\"font-size:1.3em;font-weight:600\">{}</div>\
         <div>valence {:+.2} · arousal {:+.2} · confidence {:.2}</div>{}\
         <div style=\"{MUTED}\">{}</div>\
         <div style=\"{MUTED}\">model {} · signals {}</div>",
        esc(&title(mood.label.as_str())),
        mood.valence,
        mood.arousal,
        mood.confidence,
        swatches(mood),
        esc(&mood.descriptors.join(", ")),
        esc(&mood.model),
        if signals.is_empty() {
            "none (neutral)".to_string()
        } else {
            esc(&signals.join(", "))
        }
    )
}

/// A mood: the plot with its point, then label, figures and swatches.
pub fn mood(m: &Mood) -> String {
    format!(
        "<div class=\"spotifyart-mood\" style=\"{BOX}\">{}<div>{}</div></div>",
        plot(&[Point {
            mood: m,
            name: "mood"
        }]),
        mood_facts(m)
    )
}

/// A match: score and reasons beside a plot of A, B and the two together.
pub fn matched(r: &MatchResult) -> String {
    let reasons: String = r
        .reasons
        .iter()
        .map(|s| format!("<li>{}</li>", esc(s)))
        .collect();
    format!(
        "<div class=\"spotifyart-match\" style=\"{BOX}\">{}<div style=\"max-width:34em\">\
         <div style=\"font-size:1.6em;font-weight:700\">{}<span style=\"font-size:.55em;color:#6b7280\">/100</span></div>\
         <ul style=\"margin:4px 0 8px 1.2em;padding:0\">{reasons}</ul>\
         <div style=\"{MUTED}\">A: {} · B: {} · together:</div>{}</div></div>",
        plot(&[
            Point {
                mood: &r.mood_a,
                name: "A"
            },
            Point {
                mood: &r.mood_b,
                name: "B"
            },
            Point {
                mood: &r.blended,
                name: "together"
            },
        ]),
        r.score,
        esc(r.mood_a.label.as_str()),
        esc(r.mood_b.label.as_str()),
        mood_facts(&r.blended)
    )
}

/// A profile: where it came from, its period, signals and top artists.
pub fn profile(p: &ListeningProfile) -> String {
    let artists: Vec<String> = p
        .weighted_artists()
        .iter()
        .take(8)
        .map(|(a, w)| {
            format!(
                "<li>{} <span style=\"{MUTED}\">{:.0}%</span></li>",
                esc(&a.name),
                w * 100.0
            )
        })
        .collect();
    let period = p
        .period
        .as_ref()
        .map(|p| {
            format!(
                "{} – {}",
                p.from.format("%Y-%m-%d"),
                p.to.format("%Y-%m-%d")
            )
        })
        .unwrap_or_else(|| "period unknown".into());
    let signals: Vec<&str> = p.signals.iter().map(|s| s.as_str()).collect();
    let plays = p
        .behaviour
        .as_ref()
        .map(|b| format!(" · {} plays", b.plays))
        .unwrap_or_default();
    format!(
        "<div class=\"spotifyart-profile\" style=\"font-family:system-ui,sans-serif;padding:8px 0\">\
         <div style=\"font-weight:600\">Listening profile ({})</div>\
         <div style=\"{MUTED}\">{}{plays} · {} artists · {} tracks</div>\
         <div style=\"{MUTED}\">signals: {}</div>\
         <ol style=\"margin:6px 0 0 1.4em;padding:0\">{}</ol></div>",
        esc(&p.source.kind),
        esc(&period),
        p.weighted_artists().len(),
        p.weighted_tracks().len(),
        esc(&signals.join(", ")),
        artists.join("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use spotifyart_core::Signal;

    #[test]
    fn html_is_escaped_and_places_points_on_the_plane() {
        let m = Mood::new(1.0, -1.0, 0.5, vec![Signal::Names], "<b>x</b>");
        let html = mood(&m);
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;"), "{html}");
        assert!(!html.contains("<b>x"), "{html}");
        // valence +1 is the right edge, arousal -1 the bottom edge.
        assert!(html.contains("cx=\"186.0\" cy=\"186.0\""), "{html}");
        assert_eq!(html.matches("<span title=").count(), m.palette.len());
    }
}
