//! Link and phone scenarios (`testdata/links.toml`).

use serde::Deserialize;
use spamward_content::{LinkScanner, PhoneKind};
use unicode_normalization::UnicodeNormalization;

use crate::util;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WantLink {
    host: String,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    scheme: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    shortener: bool,
    #[serde(default)]
    raw_ip: bool,
    #[serde(default)]
    idn: bool,
    #[serde(default)]
    blocklisted: bool,
    #[serde(default)]
    lookalike: Option<String>,
    #[serde(default)]
    how: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WantPhone {
    number: String,
    kind: String,
    #[serde(default)]
    premium: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    input: String,
    #[serde(default)]
    links: Vec<WantLink>,
    #[serde(default)]
    phones: Vec<WantPhone>,
}

#[derive(Deserialize)]
struct Cases {
    case: Vec<Case>,
}

fn kind(k: PhoneKind) -> &'static str {
    match k {
        PhoneKind::International => "international",
        PhoneKind::National => "national",
        PhoneKind::ShortCode => "short_code",
        _ => "other",
    }
}

#[test]
fn scenarios() {
    let cases: Cases = util::table("links.toml", include_str!("../testdata/links.toml"));
    let scanner = LinkScanner::default();
    let mut failures = Vec::new();
    for c in &cases.case {
        let (links, phones) = scanner.scan(&c.input);
        let mut problems = Vec::new();
        let got_hosts: Vec<&str> = links.iter().map(|l| &*l.host).collect();
        let want_hosts: Vec<&str> = c.links.iter().map(|l| l.host.as_str()).collect();
        if got_hosts != want_hosts {
            problems.push(format!("links {got_hosts:?}, want {want_hosts:?}"));
        }
        for (got, want) in links.iter().zip(&c.links) {
            let h = &want.host;
            // The span points at the link in the original text: one word that holds the host
            // as written, up to compatibility forms and case (an IDN's host is its punycode, so
            // there only the word is checked).
            match c.input.get(got.span.clone()) {
                None => problems.push(format!("{h}: bad span {:?}", got.span)),
                Some(at) => {
                    let plain = at.nfkc().collect::<String>().to_lowercase();
                    if at.is_empty()
                        || at.contains(char::is_whitespace)
                        || (!want.idn && !plain.contains(h.as_str()))
                    {
                        problems.push(format!("{h}: span {at:?} is not the link"));
                    }
                }
            }
            let flags = [
                ("shortener", got.shortener, want.shortener),
                ("raw_ip", got.raw_ip, want.raw_ip),
                ("idn", got.punycode_or_idn, want.idn),
                ("blocklisted", got.blocklisted, want.blocklisted),
            ];
            for (what, g, w) in flags {
                if g != w {
                    problems.push(format!("{h}: {what} {g}, want {w}"));
                }
            }
            let look = got
                .lookalike
                .as_ref()
                .map(|l| (l.brand.to_string(), l.how.as_str().to_string()));
            let want_look = want
                .lookalike
                .clone()
                .map(|b| (b, want.how.clone().unwrap_or_default()));
            if look != want_look {
                problems.push(format!("{h}: lookalike {look:?}, want {want_look:?}"));
            }
            if want.domain.is_some() && got.registrable_domain.as_deref() != want.domain.as_deref()
            {
                problems.push(format!(
                    "{h}: domain {:?}, want {:?}",
                    got.registrable_domain, want.domain
                ));
            }
            if let Some(p) = &want.path
                && &got.path != p
            {
                problems.push(format!("{h}: path {:?}, want {p:?}", got.path));
            }
            if want.port.is_some() && got.port != want.port {
                problems.push(format!("{h}: port {:?}, want {:?}", got.port, want.port));
            }
            if want.scheme.is_some() && got.scheme != want.scheme.as_deref() {
                problems.push(format!(
                    "{h}: scheme {:?}, want {:?}",
                    got.scheme, want.scheme
                ));
            }
            if let Some(t) = &want.text
                && &got.text != t
            {
                problems.push(format!("{h}: text {:?}, want {t:?}", got.text));
            }
        }
        let got_phones: Vec<(String, &str, bool)> = phones
            .iter()
            .map(|p| (p.number.clone(), kind(p.kind), p.premium_rate))
            .collect();
        let want_phones: Vec<(String, &str, bool)> = c
            .phones
            .iter()
            .map(|p| (p.number.clone(), p.kind.as_str(), p.premium))
            .collect();
        if got_phones != want_phones {
            problems.push(format!("phones {got_phones:?}, want {want_phones:?}"));
        }
        for p in &phones {
            if c.input.get(p.span.clone()).is_none() {
                problems.push(format!("phone {}: bad span {:?}", p.number, p.span));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", c.name, problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.case.len(),
        failures.join("\n")
    );
}

/// No link in the legit corpus is a lookalike, blocklisted, a raw IP or an IDN.
#[test]
fn legit_links_are_clean() {
    let scanner = LinkScanner::default();
    for m in util::legit() {
        for l in scanner.links_of(&m) {
            assert!(
                l.lookalike.is_none() && !l.blocklisted && !l.raw_ip && !l.punycode_or_idn,
                "{m:?}: {l:?}"
            );
        }
    }
}
