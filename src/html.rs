//! The HTML report of a replay: one self-contained file an analyst opens in a browser.
//!
//! No network at view time: charts are SVG written here, styles and the small table-sorting script
//! are inline. The page sets `data-ready="yes"` on `<body>` once its script has run, and
//! `data-error` if any script error happened, so a headless browser can check it loaded cleanly.

use std::fmt::Write as _;

use spamward_core::time::{DAY, HOUR};
use spamward_core::{Policy, Standing, Status, TemplateQuality, Timestamp};

use crate::timeline::{Hour, timeline};
use crate::util::{fmt_ts, thousands};

/// Flagged businesses that get charts (the table lists them all).
const MAX_CHARTED: usize = 200;

/// What the page summarises.
pub struct Page<'a> {
    /// The logs replayed.
    pub logs: &'a [String],
    /// All events.
    pub events: u64,
    /// Messages.
    pub messages: u64,
    /// Bad lines skipped.
    pub bad_lines: u64,
    /// Verdicts by action: allow, throttle, hold, block.
    pub actions: [u64; 4],
    /// Every business's standing at the end.
    pub standings: &'a [(String, Standing)],
    /// The policy (for thresholds on the charts).
    pub policy: &'a Policy,
}

fn esc(s: &str) -> String {
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

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.2}%", 100.0 * n as f64 / of as f64)
    }
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d232a;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:15px;margin:24px 0 4px}
.muted{color:#5b6670}.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border:1px solid #d5dbe0;border-radius:6px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:20px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:4px 8px;border-bottom:1px solid #e5e9ec;text-align:left}
th{cursor:pointer;background:#f4f6f8;position:sticky;top:0}th:hover{background:#e8edf1}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.suspended{color:#b3261e;font-weight:600}.throttled{color:#a05a00;font-weight:600}.active{color:#2e7d32}
.biz{border-top:1px solid #d5dbe0;margin-top:18px}
svg{display:block;margin:4px 0}svg text{font:11px system-ui,sans-serif;fill:#5b6670}
.legend span{display:inline-block;margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
"#;

const SCRIPT: &str = r#"
window.onerror=function(m){document.body.dataset.error=String(m);};
(function(){
  var t=document.getElementById('flagged');
  if(t){
    var ths=t.tHead.rows[0].cells;
    for(var i=0;i<ths.length;i++){(function(col){
      ths[col].addEventListener('click',function(){
        var rows=Array.prototype.slice.call(t.tBodies[0].rows);
        var dir=ths[col].dataset.dir==='asc'?-1:1;ths[col].dataset.dir=dir===1?'asc':'desc';
        rows.sort(function(a,b){
          var x=a.cells[col].dataset.v||a.cells[col].textContent,y=b.cells[col].dataset.v||b.cells[col].textContent;
          var nx=parseFloat(x),ny=parseFloat(y);
          if(!isNaN(nx)&&!isNaN(ny))return (nx-ny)*dir;
          return x<y?-dir:x>y?dir:0;});
        rows.forEach(function(r){t.tBodies[0].appendChild(r);});
      });})(i);}
  }
  document.body.dataset.charts=String(document.querySelectorAll('svg.chart').length);
  document.body.dataset.ready='yes';
})();
"#;

const COLORS: [(&str, &str); 4] = [
    ("allowed", "#4caf50"),
    ("throttled", "#f2b01e"),
    ("held", "#f57c00"),
    ("blocked", "#d32f2f"),
];

/// Renders the page.
pub fn render(p: &Page<'_>) -> String {
    let mut h = String::with_capacity(1 << 20);
    let statuses = p.standings.iter().fold([0u64; 3], |mut acc, (_, s)| {
        acc[s.status as usize] += 1;
        acc
    });
    let mut flagged: Vec<&(String, Standing)> = p
        .standings
        .iter()
        .filter(|(_, s)| s.first_flagged.is_some())
        .collect();
    flagged.sort_by(|a, b| {
        b.1.status
            .cmp(&a.1.status)
            .then(a.1.first_flagged.cmp(&b.1.first_flagged))
            .then(a.0.cmp(&b.0))
    });
    let (start, end) = span(p.standings);

    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>spamward replay report</title>\
         <style>{STYLE}</style></head><body data-ready=\"no\"><h1>spamward replay report</h1>\
         <div class=\"muted\">{} · event time {} to {}</div>",
        esc(&p.logs.join(", ")),
        fmt_ts(start),
        fmt_ts(end)
    );
    let total: u64 = p.actions.iter().sum();
    h.push_str("<h2>Summary</h2><div class=\"cards\">");
    for (label, value) in [
        ("events", thousands(p.events)),
        ("messages", thousands(p.messages)),
        ("allowed", pct(p.actions[0], total)),
        ("throttled", pct(p.actions[1], total)),
        ("held", pct(p.actions[2], total)),
        ("blocked", pct(p.actions[3], total)),
        ("businesses", thousands(p.standings.len() as u64)),
        ("ever flagged", thousands(flagged.len() as u64)),
        ("bad lines", thousands(p.bad_lines)),
    ] {
        let _ = write!(h, "<div class=\"card\"><b>{value}</b>{label}</div>");
    }
    h.push_str("</div><h2>Businesses by status</h2>");
    status_bars(&mut h, statuses);

    let _ = write!(h, "<h2>Flagged businesses ({})</h2>", flagged.len());
    h.push_str(
        "<p class=\"muted\">Ever throttled or suspended. Click a column to sort; click a business for its charts.</p>\
         <table id=\"flagged\"><thead><tr><th>business</th><th>status</th><th>first flagged</th><th>quality</th>\
         <th>tier</th><th>messages</th><th>allowed</th><th>blocked</th><th>complaint rate 7d</th><th>leading reasons</th></tr></thead><tbody>",
    );
    for (b, s) in &flagged {
        let reasons: Vec<String> = first_reasons(s)
            .iter()
            .take(3)
            .map(ToString::to_string)
            .collect();
        let _ = write!(
            h,
            "<tr><td><a href=\"#{id}\">{id}</a></td><td class=\"{st}\">{st}</td><td data-v=\"{ff}\">{ffs}</td><td>{q}</td>\
             <td>{tier}</td><td class=\"n\" data-v=\"{m}\">{ms}</td><td class=\"n\" data-v=\"{ap}\">{a}</td>\
             <td class=\"n\" data-v=\"{bl}\">{bls}</td><td class=\"n\" data-v=\"{cr}\">{crs:.3}%</td><td>{r}</td></tr>",
            id = esc(b),
            st = s.status,
            ff = s.first_flagged.map_or(0, Timestamp::as_millis),
            ffs = s.first_flagged.map(fmt_ts).unwrap_or_default(),
            q = s.quality,
            tier = s.tier,
            m = s.totals.messages,
            ms = thousands(s.totals.messages),
            ap = if s.totals.messages == 0 {
                0.0
            } else {
                s.totals.allowed as f64 / s.totals.messages as f64
            },
            a = pct(s.totals.allowed, s.totals.messages),
            bl = s.totals.blocked,
            bls = thousands(s.totals.blocked),
            cr = s.ratios.complaint_rate_7d.value,
            crs = 100.0 * s.ratios.complaint_rate_7d.value,
            r = esc(&reasons.join("; ")),
        );
    }
    h.push_str("</tbody></table>");
    templates_table(&mut h, p.standings);

    h.push_str("<h2>Flagged businesses, hour by hour</h2><div class=\"legend\">");
    for (label, color) in COLORS {
        let _ = write!(
            h,
            "<span><i style=\"background:{color}\"></i>{label}</span>"
        );
    }
    h.push_str(
        "<span><i style=\"background:#1565c0\"></i>complaint rate 24 h (band: credible interval)</span>\
         <span><i style=\"background:#7b1fa2\"></i>status change</span></div>",
    );
    for (b, s) in flagged.iter().take(MAX_CHARTED) {
        let hours = timeline(s, p.policy);
        let _ = write!(
            h,
            "<div class=\"biz\" id=\"{id}\"><h3>{id} <span class=\"{st}\">{st}</span></h3><div class=\"muted\">{msgs} messages, \
             {allowed} allowed; first flagged {ff}; {changes}</div>",
            id = esc(b),
            st = s.status,
            msgs = thousands(s.totals.messages),
            allowed = pct(s.totals.allowed, s.totals.messages),
            ff = s.first_flagged.map(fmt_ts).unwrap_or_default(),
            changes = esc(&s
                .changes
                .iter()
                .map(|c| format!("{} {}→{}", fmt_ts(c.ts), c.from, c.to))
                .collect::<Vec<_>>()
                .join(", ")),
        );
        volume_chart(&mut h, &hours, s, start, end);
        complaint_chart(&mut h, &hours, s, p.policy, start, end);
        h.push_str("</div>");
    }
    if flagged.len() > MAX_CHARTED {
        let _ = write!(
            h,
            "<p class=\"muted\">Charts for the first {MAX_CHARTED} flagged businesses only.</p>"
        );
    }
    let _ = writeln!(h, "<script>{SCRIPT}</script></body></html>");
    h
}

/// Templates rows shown at most.
const MAX_TEMPLATES: usize = 500;

/// Every template not green or ever paused, of every business: the platform's template quality.
fn templates_table(h: &mut String, standings: &[(String, Standing)]) {
    let rows: Vec<(&str, &spamward_core::TemplateStanding)> = standings
        .iter()
        .flat_map(|(b, s)| s.templates.iter().map(move |t| (b.as_str(), t)))
        .filter(|(_, t)| t.quality != TemplateQuality::Green || t.pauses > 0)
        .collect();
    let _ = write!(
        h,
        "<h2>Templates not green or paused ({})</h2>\
         <p class=\"muted\">Quality over the last 7 days since each template's latest pause; a red \
         template is paused, then disabled.</p>\
         <table id=\"templates\"><thead><tr><th>business</th><th>template</th><th>quality</th><th>state</th>\
         <th>pauses</th><th>sent 7d</th><th>complaints 7d</th><th>sent</th><th>complaints</th></tr></thead><tbody>",
        rows.len()
    );
    for (b, t) in rows.iter().take(MAX_TEMPLATES) {
        let _ = write!(
            h,
            "<tr><td><a href=\"#{id}\">{id}</a></td><td>{tpl}</td><td>{q}</td><td>{st}</td>\
             <td class=\"n\">{p}</td><td class=\"n\" data-v=\"{s7}\">{s7s}</td><td class=\"n\" data-v=\"{c7}\">{c7s}</td>\
             <td class=\"n\" data-v=\"{s}\">{ss}</td><td class=\"n\" data-v=\"{c}\">{cs}</td></tr>",
            id = esc(b),
            tpl = esc(&t.template),
            q = t.quality,
            st = t.state,
            p = t.pauses,
            s7 = t.sent_7d,
            s7s = thousands(t.sent_7d),
            c7 = t.complaints_7d,
            c7s = thousands(t.complaints_7d),
            s = t.sent,
            ss = thousands(t.sent),
            c = t.complaints,
            cs = thousands(t.complaints),
        );
    }
    h.push_str("</tbody></table>");
    if rows.len() > MAX_TEMPLATES {
        let _ = write!(
            h,
            "<p class=\"muted\">The first {MAX_TEMPLATES} templates only.</p>"
        );
    }
}

/// The reasons that first flagged a business, else its current ones.
fn first_reasons(s: &Standing) -> &[spamward_core::Hit] {
    s.changes
        .iter()
        .find(|c| c.to != Status::Active)
        .map_or(&s.reasons, |c| &c.reasons)
}

/// The hours the log covers, over all businesses.
fn span(standings: &[(String, Standing)]) -> (Timestamp, Timestamp) {
    let start = standings
        .iter()
        .map(|(_, s)| s.first_seen)
        .min()
        .unwrap_or(Timestamp::EPOCH);
    let end = standings
        .iter()
        .map(|(_, s)| s.last_seen)
        .max()
        .unwrap_or(start);
    (start.floor(HOUR), end.floor(HOUR) + HOUR)
}

const W: f64 = 900.0;
const H: f64 = 140.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 18.0;

fn x_of(ts: Timestamp, start: Timestamp, end: Timestamp) -> f64 {
    let width = end.saturating_since(start).as_millis().max(1);
    LEFT + (W - LEFT - 8.0) * ts.saturating_since(start).as_millis() as f64 / width as f64
}

fn axes(h: &mut String, title: &str, y_label: &str, start: Timestamp, end: Timestamp) {
    let _ = write!(
        h,
        "<svg class=\"chart\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{title}\">\
         <line x1=\"{LEFT}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"#9aa5ae\"/>\
         <text x=\"4\" y=\"12\">{y_label}</text>",
        y0 = H - BOTTOM,
        x1 = W - 8.0,
    );
    // One tick a day.
    let mut day = start.floor(DAY);
    while day <= end {
        if day >= start {
            let x = x_of(day, start, end);
            let _ = write!(
                h,
                "<line x1=\"{x:.1}\" y1=\"8\" x2=\"{x:.1}\" y2=\"{y}\" stroke=\"#eef1f3\"/><text x=\"{tx:.1}\" y=\"{ty}\">{d}</text>",
                y = H - BOTTOM,
                tx = x + 2.0,
                ty = H - 4.0,
                d = &fmt_ts(day)[5..10]
            );
        }
        day += DAY;
    }
}

fn status_marks(h: &mut String, s: &Standing, start: Timestamp, end: Timestamp) {
    for (i, c) in s.changes.iter().enumerate() {
        let x = x_of(c.ts, start, end);
        // Staggered, so changes hours apart stay readable.
        let ty = 18 + 11 * (i % 3);
        let _ = write!(
            h,
            "<line class=\"status-change\" x1=\"{x:.1}\" y1=\"8\" x2=\"{x:.1}\" y2=\"{y}\" stroke=\"#7b1fa2\" stroke-dasharray=\"3,2\"/>\
             <text x=\"{tx:.1}\" y=\"{ty}\" style=\"fill:#7b1fa2\">{to}</text>",
            y = H - BOTTOM,
            tx = x + 2.0,
            to = c.to
        );
    }
}

fn volume_chart(h: &mut String, hours: &[Hour], s: &Standing, start: Timestamp, end: Timestamp) {
    let max = hours
        .iter()
        .map(|x| x.counts.messages)
        .max()
        .unwrap_or(0)
        .max(1);
    axes(
        h,
        "hourly volume by action",
        &format!("messages/h (max {max})"),
        start,
        end,
    );
    let width = end.saturating_since(start).as_millis().max(1);
    let bar = ((W - LEFT - 8.0) * HOUR.as_millis() as f64 / width as f64).max(1.0);
    let scale = (H - BOTTOM - 24.0) / f64::from(max);
    for x in hours {
        let c = &x.counts;
        let left = x_of(c.hour, start, end);
        let mut y = H - BOTTOM;
        for (n, (_, color)) in [c.allowed, c.throttled, c.held, c.blocked]
            .into_iter()
            .zip(COLORS)
        {
            if n == 0 {
                continue;
            }
            let height = f64::from(n) * scale;
            y -= height;
            let _ = write!(
                h,
                "<rect x=\"{left:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{height:.1}\" fill=\"{color}\"/>"
            );
        }
    }
    status_marks(h, s, start, end);
    h.push_str("</svg>");
}

fn complaint_chart(
    h: &mut String,
    hours: &[Hour],
    s: &Standing,
    policy: &Policy,
    start: Timestamp,
    end: Timestamp,
) {
    let warn = policy.signals.complaint_warn_7d.threshold;
    let act = policy.signals.complaint_rate_24h.threshold;
    // The lines that matter sit at 0.1% and 0.3%: the axis stops at five times the act line,
    // and higher rates are drawn at the top.
    let peak = hours
        .iter()
        .map(|x| x.complaint_rate_24h.max(x.complaint_rate_high))
        .fold(0.0, f64::max);
    let top = peak.clamp(act * 2.0, act * 5.0);
    let label = if peak > top {
        format!(
            "complaint rate 24 h (axis to {:.2}%, peak {:.2}% clipped)",
            100.0 * top,
            100.0 * peak
        )
    } else {
        format!("complaint rate 24 h (axis to {:.2}%)", 100.0 * top)
    };
    axes(h, "complaint rate over 24 h", &label, start, end);
    let y_of = |r: f64| H - BOTTOM - (H - BOTTOM - 24.0) * (r / top).min(1.0);
    let x_mid = |t: Timestamp| x_of(t + HOUR / 2, start, end);
    if !hours.is_empty() {
        let upper: Vec<String> = hours
            .iter()
            .map(|x| {
                format!(
                    "{:.1},{:.1}",
                    x_mid(x.counts.hour),
                    y_of(x.complaint_rate_high)
                )
            })
            .collect();
        let lower: Vec<String> = hours
            .iter()
            .rev()
            .map(|x| {
                format!(
                    "{:.1},{:.1}",
                    x_mid(x.counts.hour),
                    y_of(x.complaint_rate_low)
                )
            })
            .collect();
        let _ = write!(
            h,
            "<polygon points=\"{} {}\" fill=\"#1565c0\" fill-opacity=\"0.15\"/>",
            upper.join(" "),
            lower.join(" ")
        );
        let line: Vec<String> = hours
            .iter()
            .map(|x| {
                format!(
                    "{:.1},{:.1}",
                    x_mid(x.counts.hour),
                    y_of(x.complaint_rate_24h)
                )
            })
            .collect();
        let _ = write!(
            h,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#1565c0\" stroke-width=\"1.5\"/>",
            line.join(" ")
        );
    }
    for (label, rate, color) in [("warn", warn, "#f2b01e"), ("act", act, "#d32f2f")] {
        let y = y_of(rate);
        let _ = write!(
            h,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-dasharray=\"5,3\"/>\
             <text x=\"{tx}\" y=\"{ty:.1}\" style=\"fill:{color}\">{label} {:.1}%</text>",
            100.0 * rate,
            x2 = W - 8.0,
            tx = W - 70.0,
            ty = y - 2.0,
        );
    }
    status_marks(h, s, start, end);
    h.push_str("</svg>");
}

fn status_bars(h: &mut String, counts: [u64; 3]) {
    let total = counts.iter().sum::<u64>().max(1);
    let _ = write!(
        h,
        "<svg class=\"chart\" width=\"{W}\" height=\"76\" viewBox=\"0 0 {W} 76\" role=\"img\" aria-label=\"businesses by status\">"
    );
    for (i, ((label, color), n)) in [
        ("active", "#4caf50"),
        ("throttled", "#f2b01e"),
        ("suspended", "#d32f2f"),
    ]
    .into_iter()
    .zip(counts)
    .enumerate()
    {
        let y = 4.0 + 24.0 * i as f64;
        let width = (W - 200.0) * n as f64 / total as f64;
        let _ = write!(
            h,
            "<text x=\"4\" y=\"{ty:.1}\">{label}</text><rect x=\"80\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"18\" fill=\"{color}\"/>\
             <text x=\"{tx:.1}\" y=\"{ty:.1}\">{n} ({p})</text>",
            ty = y + 13.0,
            tx = 86.0 + width,
            p = pct(n, total)
        );
    }
    h.push_str("</svg>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_html_would_read() {
        assert_eq!(
            esc("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }
}
