//! Finding URLs: the URL pattern, the search for its matches, and reading a match's scheme,
//! host, port and path.

use std::ops::Range;

use regex::Regex;

use super::{Link, LinkScanner, MAX_PER_MESSAGE, View};

/// The host of a URL: dot-separated labels ending in a top-level domain (punycode or letters), or
/// an IPv4 address. A macro, so that [`URL_PATTERN`] and [`HOST_AT_START`] are built from the one
/// text at compile time.
macro_rules! host_pattern {
    () => {
        r#"
        (?: [\p{L}\p{N}\p{M}] [\p{L}\p{N}\p{M}_-]* \. )+ (?: xn--[a-z0-9-]+ | [\p{L}\p{M}]{2,} )
      | \d{1,3} (?: \. \d{1,3} ){3}
    "#
    };
}

/// A URL with or without a scheme. Label lengths are left to IDNA: bounded repetitions of Unicode
/// classes (`{0,62}`) would make the automaton hundreds of times larger and push every search onto
/// the slowest engine.
pub(super) const URL_PATTERN: &str = concat!(
    r#"(?ix)
    (?: (?P<scheme> (?-u:\b) (?: https? | hxxps? | ftp ) ) :// (?: [^\s/@<>]+ @ )? )?
    (?P<host>"#,
    host_pattern!(),
    r#")
    (?P<port> : \d{1,5} )?
    (?P<path> [/?\#] [^\s<>"'`]* )?
"#
);

/// The host of [`URL_PATTERN`] at the start of a text: whether what follows an `@` is a host,
/// which decides whether the `@` ends user information (see [`UrlParts`]).
pub(super) const HOST_AT_START: &str = concat!(r"(?ix) \A (?:", host_pattern!(), ")");

impl LinkScanner {
    /// Adds the links of the view to `links`, and where each is in the view to `ranges`.
    pub(super) fn links(
        &self,
        original: &str,
        view: &View,
        links: &mut Vec<Link>,
        ranges: &mut Vec<Range<usize>>,
    ) {
        let s = &*view.text;
        for whole in self.url_matches(s) {
            if links.len() == MAX_PER_MESSAGE {
                break;
            }
            let parts = UrlParts::of(s, whole.range(), &self.host_at_start);
            let scheme = parts.scheme.and_then(|r| scheme_name(&s[r]));
            let before = s[..whole.start()].chars().next_back();
            let after = s[whole.end()..].chars().next();
            if after == Some('@') {
                continue; // the local part of an email address
            }
            if scheme.is_none()
                && before.is_some_and(|c| c.is_alphanumeric() || "@.-_/\\".contains(c))
            {
                continue; // inside a longer word, an email address or another link's path
            }
            let path = parts
                .path
                .clone()
                .map_or("", |r| trim_trailing_punctuation(&s[r]));
            let end = match &parts.path {
                Some(r) => r.start + path.len(),
                None => parts.port.clone().unwrap_or(parts.host.clone()).end,
            };
            let raw_host = s[parts.host].trim_end_matches('.');
            let port = parts.port.and_then(|r| s[r][1..].parse::<u16>().ok());
            let Some(link) = self.judge(raw_host, scheme, port, path, || {
                (
                    s[whole.start()..end].to_string(),
                    view.original_span(whole.start()..end, original),
                )
            }) else {
                continue;
            };
            links.push(link);
            ranges.push(whole.start()..end);
        }
    }

    /// The matches of [`URL_PATTERN`] in `s`, the ones `find_iter` finds, with less of `s`
    /// searched: a match holds a dot a host may have ([`next_host_dot`]) and no white space, so
    /// none starts before the whitespace-free run around the next such dot, and none after the
    /// last one. Each search starts at that run; the text before it, and after the last such
    /// dot, is never scanned. (Only ASCII white space marks a run's start, which can only start
    /// it earlier.)
    pub(super) fn url_matches<'s>(
        &'s self,
        s: &'s str,
    ) -> impl Iterator<Item = regex::Match<'s>> + 's {
        let mut at = 0;
        std::iter::from_fn(move || {
            let dot = next_host_dot(s, at)?;
            let start = s.as_bytes()[at..dot]
                .iter()
                .rposition(u8::is_ascii_whitespace)
                .map_or(at, |i| at + i + 1);
            // `find_at` sees the text before `start`, so `\b` at it is judged as in a whole search.
            let m = self.url.find_at(s, start)?;
            at = m.end();
            Some(m)
        })
    }
}

/// Where the groups of [`URL_PATTERN`] are in one whole match of it, as offsets into the text.
///
/// Read off the match instead of asking the regex for its groups, which would run a backtracking
/// engine over every link (7% of all content analysis). The match decides them: a scheme
/// word followed by `://` can only be the scheme; user information (no white space, `/`, `@`, `<`
/// or `>`) ends at the first `@` after it, and the pattern takes it when a host follows that `@`
/// (`http://a.com?@` is the host `a.com` and the path `?@`); a host has no `:`, `/`, `?` or `#`, a
/// port starts with `:`, a path with one of `/?#`. A test compares this with the regex's own
/// groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct UrlParts {
    pub(super) scheme: Option<Range<usize>>,
    pub(super) host: Range<usize>,
    pub(super) port: Option<Range<usize>>,
    pub(super) path: Option<Range<usize>>,
}

impl UrlParts {
    /// The parts of the match at `whole` in `text`; `host_at_start` is [`HOST_AT_START`].
    pub(super) fn of(text: &str, whole: Range<usize>, host_at_start: &Regex) -> UrlParts {
        let m = &text[whole.clone()];
        let b = m.as_bytes();
        let mut scheme = None;
        let mut host_start = 0;
        if let Some(sep) = m.find("://") {
            let word = &m[..sep];
            if scheme_name(word).is_some() {
                scheme = Some(0..sep);
                host_start = sep + 3;
                let rest = &m[host_start..];
                if let Some(k) = rest.find(|c: char| c.is_whitespace() || "/@<>".contains(c))
                    && k > 0
                    && rest.as_bytes()[k] == b'@'
                    && host_at_start.is_match(&rest[k + 1..])
                {
                    host_start += k + 1;
                }
            }
        }
        let host_end = b[host_start..]
            .iter()
            .position(|c| matches!(c, b':' | b'/' | b'?' | b'#'))
            .map_or(b.len(), |k| host_start + k);
        let (port, path_start) = if b.get(host_end) == Some(&b':') {
            let end = b[host_end..]
                .iter()
                .position(|c| matches!(c, b'/' | b'?' | b'#'))
                .map_or(b.len(), |k| host_end + k);
            (Some(host_end..end), end)
        } else {
            (None, host_end)
        };
        let at = |r: Range<usize>| whole.start + r.start..whole.start + r.end;
        UrlParts {
            scheme: scheme.map(at),
            host: at(host_start..host_end),
            port: port.map(at),
            path: (path_start < b.len()).then(|| at(path_start..b.len())),
        }
    }
}

/// The first `.` of `s` at or after `from` that a host for [`URL_PATTERN`] may have: both of its
/// forms need a `.` followed by a letter, digit or mark (the next label, or the top-level
/// domain). Most messages have dots only at the ends of sentences, and skip the URL automaton.
fn next_host_dot(s: &str, from: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut from = from;
    while let Some(i) = b.get(from..)?.iter().position(|&c| c == b'.') {
        let at = from + i;
        if b.get(at + 1)
            .is_some_and(|&n| n.is_ascii_alphanumeric() || n >= 0x80)
        {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Drops sentence punctuation that follows a link: `see example.com/x).` → `example.com/x`.
fn trim_trailing_punctuation(mut path: &str) -> &str {
    loop {
        let Some(last) = path.chars().next_back() else {
            return path;
        };
        let trim = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '"' | ']' | '}' | '>' => true,
            ')' => !path.contains('('),
            _ => false,
        };
        if !trim {
            return path;
        }
        path = &path[..path.len() - last.len_utf8()];
    }
}

/// The schemes a link may be written with, and the name of each (a defanged `hxxp` is `http`).
const SCHEMES: [(&str, &str); 5] = [
    ("http", "http"),
    ("https", "https"),
    ("hxxp", "http"),
    ("hxxps", "https"),
    ("ftp", "ftp"),
];

/// The name of a scheme as written (in any case), if it is one of [`SCHEMES`].
fn scheme_name(written: &str) -> Option<&'static str> {
    SCHEMES
        .iter()
        .find(|(w, _)| written.eq_ignore_ascii_case(w))
        .map(|&(_, name)| name)
}
