//! Links and phone numbers: what a message asks its reader to open or call.
//!
//! A [`LinkScanner`] finds URLs with a scheme (`https://x.y/z`, defanged `hxxp://` too), without
//! one (`www.x.y`, `bit.ly/abc`, `paypa1-secure.com/login`), raw IPv4 hosts, and phone numbers:
//! international (`+44 7700 900123`, `0044…`), national (`08452810075`, `(555) 123-4567`) and the
//! short codes of premium-rate and marketing SMS (`text WIN to 87121`, `call 87121`). A bare digit
//! run is not a phone number: `482913` is a code, `$5` a price, `14:35` a time.
//!
//! Links are found in the original text, not in the normal form: only invisible characters are
//! removed and fullwidth ASCII is folded (`ｂｉｔ．ｌｙ`), so that a Cyrillic `а` in `pаypal.com`
//! stays visible as an IDN host instead of becoming the real brand's domain. Each link then gets
//! its host in IDNA ASCII form, its registrable domain from the public suffix list (embedded, no
//! network), and the verdicts of the lists: [`Link::shortener`], [`Link::blocklisted`] and
//! [`Link::lookalike`] against the protected brands (see [`crate::lists`]).
//!
//! At most [`MAX_PER_MESSAGE`] links and as many phone numbers are reported per message.
//!
//! A bare word with a dot is a link only when it looks like one: its suffix is on the public suffix
//! list, and it has a path or port, starts with `www.`, ends in a common or country-code TLD under
//! a name of three characters or more, or has a hyphen or a digit in its name. `ok.no`, `e.g.` and
//! `file.txt` are not links.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use regex::Regex;

use crate::lists::{Brands, DomainList, Lookalike};
use crate::normalize::is_invisible;

/// A link found in a message.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// The link as written, with invisible characters removed.
    pub text: String,
    /// Where it is in the original text (byte offsets).
    pub span: Range<usize>,
    /// The scheme, lower case (`http` for a defanged `hxxp`), if one was written: `http`,
    /// `https` or `ftp`.
    pub scheme: Option<&'static str>,
    /// The host: IDNA ASCII (punycode), lower case, or the IPv4 address. Shared with the scanner's
    /// cache of judged hosts, so that a host seen before costs no copy.
    pub host: Arc<str>,
    /// The port, if one was written.
    pub port: Option<u16>,
    /// Path, query and fragment as written (`/login?x=1`), or empty.
    pub path: String,
    /// The registrable domain (`example.co.uk` for `a.b.example.co.uk`); `None` for an IP host or
    /// a host that is itself a public suffix. Shared like [`Link::host`].
    pub registrable_domain: Option<Arc<str>>,
    /// The host is on the shortener list.
    pub shortener: bool,
    /// The host is a raw IPv4 address.
    pub raw_ip: bool,
    /// The host has a punycode (`xn--`) label or was written with non-ASCII characters.
    pub punycode_or_idn: bool,
    /// The host imitates a protected brand.
    pub lookalike: Option<Lookalike>,
    /// The host, or a domain above it, is on a blocklist.
    pub blocklisted: bool,
}

/// What kind of number a [`Phone`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PhoneKind {
    /// Written with a `+` or `00` country prefix.
    International,
    /// A national number: a trunk `0` and 10–12 digits, or a formatted North American number.
    National,
    /// A 4–6 digit short code in a "text X to" or "call" phrase.
    ShortCode,
}

/// A phone number found in a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone {
    /// The number as written.
    pub text: String,
    /// Where it is in the original text (byte offsets).
    pub span: Range<usize>,
    /// Its digits, with a leading `+` for an international number.
    pub number: String,
    /// What kind of number it is.
    pub kind: PhoneKind,
    /// A premium-rate prefix: UK `09`, `0871`–`0873`; North American `900`, `976`.
    pub premium_rate: bool,
}

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
const URL_PATTERN: &str = concat!(
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
const HOST_AT_START: &str = concat!(r"(?ix) \A (?:", host_pattern!(), ")");

/// A run that may be a phone number: digits with single separators, maybe a `+` and parentheses.
const PHONE_PATTERN: &str = r"\+?\(?[0-9][0-9 .\-()]{5,24}[0-9]";

/// A short code after "text/send/reply ... to" (at most three words in between). Word boundaries
/// are ASCII (`(?-u:\b)`) so that a `£` in the message does not push the search off the fast
/// engines.
const SHORT_CODE_PATTERN: &str = r"(?i)(?-u:\b)(?:text|txt|send|sms|reply|msg|call|dial|ring)(?-u:\b)(?:[ \t]+[^\s.!?]+){0,3}?[ \t]+(?:to|on|2)[ \t]+([0-9]{4,6})(?-u:\b)";

/// A number right after "call", "tel", "phone", ...: a short code (5–6 digits) or an unformatted
/// number (7–15 digits).
const CALL_PATTERN: &str = r"(?i)(?-u:\b)(?:call|dial|ring|phone|tel|whatsapp)(?-u:\b)[:.]?[ \t]*(?:us[ \t]+)?(?:now[ \t]+)?(?:on[ \t]+|at[ \t]+)?([0-9]{5,6}|[0-9]{7,15})(?-u:\b)";

/// The most links, and the most phone numbers, reported for one message: the first ones in the
/// text. It bounds the work a message made of thousands of links can cause; a real message has a
/// handful.
pub const MAX_PER_MESSAGE: usize = 256;

/// Generic TLDs common enough in messages that a bare `name.tld` is taken for a link.
pub(crate) const COMMON_TLDS: &[&str] = &[
    "com", "net", "org", "info", "biz", "io", "xyz", "top", "site", "online", "club", "shop",
    "store", "app", "dev", "link", "click", "live", "vip", "icu", "buzz", "win", "bid", "loan",
    "work", "fun", "space", "website", "tech", "cloud", "pro", "mobi", "asia", "name", "today",
    "support", "services", "help", "email", "bet", "casino", "money", "finance", "bank",
    "delivery",
];

/// Finds links and phone numbers and judges each link against the brand and domain lists.
///
/// Cheap to clone (the compiled patterns and lists are shared); clone one per worker thread so
/// the regex scratch pools are not contended.
#[derive(Clone, Debug)]
pub struct LinkScanner {
    /// Identifies the lists for the per-thread host cache; clones share it (and the lists).
    id: u64,
    url: Regex,
    host_at_start: Regex,
    phone: Regex,
    short_code: Regex,
    call: Regex,
    brands: Arc<Brands>,
    blocklist: Arc<DomainList>,
    shorteners: Arc<DomainList>,
}

impl Default for LinkScanner {
    /// The shipped brands, blocklist and shorteners.
    fn default() -> LinkScanner {
        LinkScanner::new(
            Brands::default_brands(),
            DomainList::default_blocklist(),
            DomainList::default_shorteners(),
        )
    }
}

impl LinkScanner {
    /// A scanner judging links against these lists.
    pub fn new(brands: Brands, blocklist: DomainList, shorteners: DomainList) -> LinkScanner {
        let compile = |p: &str| Regex::new(p).expect("the built-in link patterns compile");
        LinkScanner {
            id: crate::next_id(),
            url: compile(URL_PATTERN),
            host_at_start: compile(HOST_AT_START),
            phone: compile(PHONE_PATTERN),
            short_code: compile(SHORT_CODE_PATTERN),
            call: compile(CALL_PATTERN),
            brands: Arc::new(brands),
            blocklist: Arc::new(blocklist),
            shorteners: Arc::new(shorteners),
        }
    }

    /// The protected brands.
    pub fn brands(&self) -> &Brands {
        &self.brands
    }

    /// The blocklist.
    pub fn blocklist(&self) -> &DomainList {
        &self.blocklist
    }

    /// The shortener list.
    pub fn shorteners(&self) -> &DomainList {
        &self.shorteners
    }

    /// Finds the links and phone numbers of `text`, each in order of appearance.
    pub fn scan(&self, text: &str) -> (Vec<Link>, Vec<Phone>) {
        let (mut links, mut phones) = (Vec::new(), Vec::new());
        self.scan_into(text, &mut links, &mut phones);
        (links, phones)
    }

    /// [`LinkScanner::scan`] into `links` and `phones` (emptied first), for a caller that keeps
    /// the lists.
    pub(crate) fn scan_into(&self, text: &str, links: &mut Vec<Link>, phones: &mut Vec<Phone>) {
        links.clear();
        phones.clear();
        let view = View::new(text);
        SCAN_SCRATCH.with(|scratch| {
            let mut fresh = ScanScratch::default();
            let mut scratch = scratch.try_borrow_mut();
            // Re-entered on this thread (not possible through this crate): fresh memory.
            let scratch = scratch.as_deref_mut().unwrap_or(&mut fresh);
            scratch.ranges.clear();
            self.links(text, &view, links, &mut scratch.ranges);
            self.phones(text, &view, scratch, phones);
        });
    }

    /// Finds the links of `text`.
    pub fn links_of(&self, text: &str) -> Vec<Link> {
        let mut links = Vec::new();
        self.links(text, &View::new(text), &mut links, &mut Vec::new());
        links
    }

    /// Adds the links of the view to `links`, and where each is in the view to `ranges`.
    fn links(
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
    fn url_matches<'s>(&'s self, s: &'s str) -> impl Iterator<Item = regex::Match<'s>> + 's {
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

    /// Builds a [`Link`] for a host, or `None` when the match is not a plausible link.
    fn judge(
        &self,
        raw_host: &str,
        scheme: Option<&'static str>,
        port: Option<u16>,
        path: &str,
        text_and_span: impl FnOnce() -> (String, Range<usize>),
    ) -> Option<Link> {
        let facts = self.host_facts(raw_host)?;
        let has_path = port.is_some() || !path.is_empty();
        if !facts.raw_ip && scheme.is_none() && !facts.plausible_bare[usize::from(has_path)] {
            return None;
        }
        let (text, span) = text_and_span();
        let HostFacts {
            host,
            idn,
            registrable,
            plausible_bare: _,
            raw_ip,
            lookalike,
            shortener,
            blocklisted,
        } = facts;
        Some(Link {
            text,
            span,
            scheme,
            shortener,
            blocklisted,
            host,
            port,
            path: path.to_string(),
            registrable_domain: registrable,
            raw_ip,
            punycode_or_idn: idn,
            lookalike,
        })
    }

    /// What the lists say of a host as written, from this thread's cache when it was seen before:
    /// hosts repeat from message to message, and IDNA, the suffix list and the brand comparisons
    /// are the costly part of judging a link. `None` when the host is not a host.
    fn host_facts(&self, raw_host: &str) -> Option<HostFacts> {
        HOSTS.with(|cache| {
            let Ok(mut cache) = cache.try_borrow_mut() else {
                return self.judge_host(raw_host);
            };
            if cache.scanner != self.id {
                cache.scanner = self.id;
                cache.hosts.clear();
            }
            if let Some(facts) = cache.hosts.get(raw_host) {
                return facts.clone();
            }
            let facts = self.judge_host(raw_host);
            if cache.hosts.len() >= HOST_CACHE_ENTRIES {
                cache.hosts.clear();
            }
            cache.hosts.insert(raw_host.into(), facts.clone());
            facts
        })
    }

    /// [`LinkScanner::host_facts`], computed.
    fn judge_host(&self, raw_host: &str) -> Option<HostFacts> {
        let raw_ip = is_ipv4(raw_host);
        if raw_host.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !raw_ip {
            return None; // 1.2.3.999 or a version number
        }
        let (host, idn): (Arc<str>, bool) = if raw_ip {
            (raw_host.into(), false)
        } else {
            let ascii = idna::domain_to_ascii(raw_host).ok()?;
            let idn = !raw_host.is_ascii() || ascii.split('.').any(|l| l.starts_with("xn--"));
            (ascii.into(), idn)
        };
        let (registrable, suffix, known) = if raw_ip {
            (None, None, true)
        } else {
            let suffix = psl::suffix(host.as_bytes());
            let known = suffix.is_some_and(|s| s.is_known());
            let suffix = suffix
                .and_then(|s| std::str::from_utf8(s.as_bytes()).ok())
                .map(str::to_string);
            (psl::domain_str(&host).map(Arc::from), suffix, known)
        };
        let lookalike = match (&registrable, &suffix) {
            (Some(r), Some(sfx)) => self.brands.lookalike(&host, r, sfx),
            _ => None,
        };
        let plausible_bare = [false, true].map(|has_path| {
            plausible_bare_host(
                &host,
                registrable.as_deref(),
                suffix.as_deref(),
                known,
                has_path,
            )
        });
        Some(HostFacts {
            shortener: self.shorteners.contains_host(&host),
            blocklisted: self.blocklist.contains_host(&host),
            host,
            idn,
            registrable,
            plausible_bare,
            raw_ip,
            lookalike,
        })
    }

    /// Adds the phone numbers of the view, outside the links at `scratch.ranges`, to `phones`.
    fn phones(
        &self,
        original: &str,
        view: &View,
        scratch: &mut ScanScratch,
        phones: &mut Vec<Phone>,
    ) {
        // Blank out the links (byte for byte, so offsets hold) so their digits are not numbers.
        let s = if scratch.ranges.is_empty() {
            &*view.text
        } else {
            let masked = &mut scratch.masked;
            masked.clear();
            let mut at = 0;
            for r in &scratch.ranges {
                masked.push_str(&view.text[at..r.start]);
                masked.extend(std::iter::repeat_n(' ', r.len()));
                at = r.end;
            }
            masked.push_str(&view.text[at..]);
            &**masked
        };
        let digits = DigitRuns::of(s);
        let found = &mut scratch.found;
        found.clear();
        let overlaps = |found: &[Found], r: &Range<usize>| {
            found
                .iter()
                .any(|(f, ..)| f.start < r.end && r.start < f.end)
        };

        let phone_matches = digits.may_hold_phone.then(|| self.phone.find_iter(s));
        for m in phone_matches.into_iter().flatten() {
            if found.len() == MAX_PER_MESSAGE {
                break;
            }
            let mut text = m.as_str();
            // A closing parenthesis may belong to the sentence, not the number.
            while text.ends_with(')') && !text.contains('(') {
                text = &text[..text.len() - 1];
            }
            let range = m.start()..m.start() + text.len();
            let before = s[..range.start].chars().next_back();
            let after = s[range.end..].chars().next();
            if before.is_some_and(|c| {
                c.is_alphanumeric() || c == '.' || c == ',' || c == '+' || c == '/'
            }) || after.is_some_and(|c| c.is_alphanumeric() || c == '/' || c == ':')
                || after == Some('.')
                    && s[range.end + 1..].starts_with(|c: char| c.is_ascii_digit())
            {
                continue;
            }
            if let Some((number, kind, premium)) = classify_phone(text) {
                found.push((range, number, kind, premium));
            }
        }
        // The number of a short code or call phrase is its match's group 1, which is the match's
        // trailing digits (see `the_number_groups_are_the_trailing_digits`): read so, the search
        // needs neither the capturing engine nor a set of captures per text.
        let short_codes = (digits.longest >= 4).then(|| self.short_code.find_iter(s));
        for m in short_codes.into_iter().flatten() {
            if found.len() >= 2 * MAX_PER_MESSAGE {
                break;
            }
            let r = trailing_digits(&m);
            if !overlaps(found, &r) {
                found.push((r.clone(), s[r].to_string(), PhoneKind::ShortCode, false));
            }
        }
        let calls = (digits.longest >= 5).then(|| self.call.find_iter(s));
        for m in calls.into_iter().flatten() {
            if found.len() >= 3 * MAX_PER_MESSAGE {
                break;
            }
            let r = trailing_digits(&m);
            if overlaps(found, &r) {
                continue;
            }
            let digits = &s[r.clone()];
            if digits.len() <= 6 {
                found.push((r, digits.to_string(), PhoneKind::ShortCode, false));
            } else {
                let premium = is_premium(digits);
                found.push((r, digits.to_string(), PhoneKind::National, premium));
            }
        }
        found.sort_by_key(|(r, ..)| r.start);
        found.truncate(MAX_PER_MESSAGE);
        phones.extend(
            found
                .drain(..)
                .map(|(r, number, kind, premium_rate)| Phone {
                    text: s[r.clone()].to_string(),
                    span: view.original_span(r, original),
                    number,
                    kind,
                    premium_rate,
                }),
        );
    }
}

/// A thread's working memory for [`LinkScanner::scan`]: where the links are in the view, the
/// view with the links blanked out, and the phone numbers found, kept from message to message.
#[derive(Default)]
struct ScanScratch {
    ranges: Vec<Range<usize>>,
    masked: String,
    found: Vec<Found>,
}

/// A phone number found: where, the number, its kind, premium rate or not.
type Found = (Range<usize>, String, PhoneKind, bool);

thread_local! {
    static SCAN_SCRATCH: RefCell<ScanScratch> = RefCell::new(ScanScratch::default());
}

/// Hosts judged per thread, at most this many before the cache starts over.
const HOST_CACHE_ENTRIES: usize = 4096;

/// What the lists say of one host as written.
#[derive(Clone, Debug)]
struct HostFacts {
    host: Arc<str>,
    idn: bool,
    registrable: Option<Arc<str>>,
    /// Whether the host is taken for a link when written without a scheme: without a path or
    /// port (`[0]`) and with one (`[1]`).
    plausible_bare: [bool; 2],
    raw_ip: bool,
    lookalike: Option<Lookalike>,
    shortener: bool,
    blocklisted: bool,
}

/// One thread's judged hosts, for the scanner (the lists) with id `scanner`.
#[derive(Default)]
struct HostCache {
    scanner: u64,
    hosts: HashMap<Box<str>, Option<HostFacts>>,
}

thread_local! {
    static HOSTS: RefCell<HostCache> = RefCell::new(HostCache::default());
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
struct UrlParts {
    scheme: Option<Range<usize>>,
    host: Range<usize>,
    port: Option<Range<usize>>,
    path: Option<Range<usize>>,
}

impl UrlParts {
    /// The parts of the match at `whole` in `text`; `host_at_start` is [`HOST_AT_START`].
    fn of(text: &str, whole: Range<usize>, host_at_start: &Regex) -> UrlParts {
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

/// What the digits of a text allow the phone patterns to find.
struct DigitRuns {
    /// The longest run of ASCII digits: short codes need 4, numbers after "call" 5.
    longest: usize,
    /// Whether some run of [`PHONE_PATTERN`]'s characters (digits, space, `.`, `-`, parentheses)
    /// has digits at least 7 characters apart, as the pattern needs.
    may_hold_phone: bool,
}

impl DigitRuns {
    fn of(s: &str) -> DigitRuns {
        let mut longest = 0;
        let mut run = 0;
        let mut may_hold_phone = false;
        let mut first_digit: Option<usize> = None;
        for (i, &c) in s.as_bytes().iter().enumerate() {
            if c.is_ascii_digit() {
                run += 1;
                longest = longest.max(run);
                let first = *first_digit.get_or_insert(i);
                may_hold_phone |= i - first >= 6;
            } else {
                run = 0;
                if !matches!(c, b' ' | b'.' | b'-' | b'(' | b')') {
                    first_digit = None;
                }
            }
        }
        DigitRuns {
            longest,
            may_hold_phone,
        }
    }
}

/// Where the ASCII digits that end a match are.
fn trailing_digits(m: &regex::Match) -> Range<usize> {
    let n = m
        .as_str()
        .bytes()
        .rev()
        .take_while(u8::is_ascii_digit)
        .count();
    m.end() - n..m.end()
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

fn is_ipv4(host: &str) -> bool {
    let mut parts = 0;
    for p in host.split('.') {
        parts += 1;
        if p.is_empty()
            || p.len() > 3
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u16>().map_or(true, |n| n > 255)
        {
            return false;
        }
    }
    parts == 4
}

/// Whether a host written without a scheme is taken for a link (see the module docs).
fn plausible_bare_host(
    host: &str,
    registrable: Option<&str>,
    suffix: Option<&str>,
    known: bool,
    has_path: bool,
) -> bool {
    if !known {
        return false;
    }
    let (Some(registrable), Some(suffix)) = (registrable, suffix) else {
        return false;
    };
    if has_path || host.starts_with("www.") {
        return true;
    }
    let name = registrable
        .strip_suffix(suffix)
        .map_or(registrable, |n| n.trim_end_matches('.'));
    let tld = suffix.rsplit('.').next().unwrap_or(suffix);
    if name.contains('-') || name.bytes().any(|b| b.is_ascii_digit()) {
        return true;
    }
    COMMON_TLDS.contains(&tld) || (tld.len() == 2 && name.chars().count() >= 3)
}

/// The number, kind and premium-rate flag of a phone-like run, or `None` if it is not a number.
fn classify_phone(text: &str) -> Option<(String, PhoneKind, bool)> {
    // Separators: one character, or a parenthesis next to a space or dash (`(020) 7946`).
    let mut runs = text
        .split(|c: char| c.is_ascii_digit())
        .filter(|r| !r.is_empty());
    let separators_ok =
        runs.all(|run| run.len() == 1 || run.len() == 2 && run.contains(['(', ')']));
    if !separators_ok {
        return None;
    }
    // The lengths of the digit groups: the first six of `count` (the patterns below have five at
    // most), without a list per candidate.
    let mut lengths = [0usize; 6];
    let mut count = 0;
    for g in text.split(|c: char| !c.is_ascii_digit()) {
        if !g.is_empty() {
            if let Some(l) = lengths.get_mut(count) {
                *l = g.len();
            }
            count += 1;
        }
    }
    let groups = &lengths[..count.min(lengths.len())];
    let mut digits = String::with_capacity(text.len());
    digits.extend(text.chars().filter(char::is_ascii_digit));
    let n = digits.len();
    let formatted = count > 1;
    if text.starts_with('+') {
        if (8..=15).contains(&n) {
            let premium = is_premium_international(&digits);
            digits.insert(0, '+');
            return Some((digits, PhoneKind::International, premium));
        }
        return None;
    }
    if let Some(rest) = digits.strip_prefix("00") {
        if (9..=13).contains(&rest.len()) && !rest.starts_with('0') {
            let premium = is_premium_international(rest);
            digits.replace_range(..2, "+");
            return Some((digits, PhoneKind::International, premium));
        }
        return None;
    }
    if digits.starts_with('0') {
        let first = groups.first().copied().unwrap_or(0);
        let french = count == 5 && groups.iter().all(|&g| g == 2);
        if (10..=12).contains(&n) && (first >= 3 || french) {
            let premium = is_premium(&digits);
            return Some((digits, PhoneKind::National, premium));
        }
        return None;
    }
    // North American: 3-3-4, optionally after a 1, formatted.
    let nanp = match groups {
        [3, 3, 4] => true,
        [1, 3, 3, 4] => digits.starts_with('1'),
        _ => false,
    };
    let area = if n == 11 { &digits[1..] } else { &digits[..] };
    if formatted && nanp && area.starts_with(|c: char| ('2'..='9').contains(&c)) {
        let premium = area.starts_with("900") || area.starts_with("976");
        return Some((digits, PhoneKind::National, premium));
    }
    None
}

/// A premium-rate national number: UK `09…` and `0871`–`0873`.
fn is_premium(national: &str) -> bool {
    national.starts_with("09")
        || ["0871", "0872", "0873"]
            .iter()
            .any(|p| national.starts_with(p))
}

/// A premium-rate number after its country code: UK `+44 9…`, `+44 871`–`873`; North American
/// `+1 900`, `+1 976`.
fn is_premium_international(digits: &str) -> bool {
    if let Some(uk) = digits.strip_prefix("44") {
        return uk.starts_with('9') || ["871", "872", "873"].iter().any(|p| uk.starts_with(p));
    }
    if let Some(na) = digits.strip_prefix('1') {
        return na.starts_with("900") || na.starts_with("976");
    }
    false
}

/// The text links are found in: the original less invisible characters, with fullwidth ASCII and
/// ideographic full stops folded, and a map back to the original's byte offsets.
struct View<'a> {
    text: Cow<'a, str>,
    /// For each byte of `text`: the original start and end of the character it came from. Empty
    /// when the view is the original.
    map: Vec<(usize, usize)>,
}

impl<'a> View<'a> {
    fn new(original: &'a str) -> View<'a> {
        let changes = |c: char| is_invisible(c) || fold_fullwidth(c) != c;
        if original.is_ascii() || !original.chars().any(changes) {
            return View {
                text: Cow::Borrowed(original),
                map: Vec::new(),
            };
        }
        let mut text = String::with_capacity(original.len());
        let mut map = Vec::with_capacity(original.len());
        for (i, c) in original.char_indices() {
            if is_invisible(c) {
                continue;
            }
            let folded = fold_fullwidth(c);
            text.push(folded);
            for _ in 0..folded.len_utf8() {
                map.push((i, i + c.len_utf8()));
            }
        }
        View {
            text: Cow::Owned(text),
            map,
        }
    }

    /// The original byte range of a view range.
    fn original_span(&self, r: Range<usize>, original: &str) -> Range<usize> {
        if self.map.is_empty() {
            return r;
        }
        if r.is_empty() {
            let at = self.map.get(r.start).map_or(original.len(), |m| m.0);
            return at..at;
        }
        self.map[r.start].0..self.map[r.end - 1].1
    }
}

/// Fullwidth ASCII to ASCII, ideographic and fullwidth full stops to `.`.
fn fold_fullwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3002}' | '\u{FF61}' => '.',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_maps_offsets_back() {
        let original = "go ｂｉｔ．ｌｙ/x\u{200b} now";
        let scanner = LinkScanner::default();
        let links = scanner.links_of(original);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].text, "bit.ly/x");
        assert_eq!(&original[links[0].span.clone()], "ｂｉｔ．ｌｙ/x");
        assert!(links[0].shortener);
    }

    #[test]
    fn phone_classes() {
        assert_eq!(
            classify_phone("08452810075"),
            Some(("08452810075".into(), PhoneKind::National, false))
        );
        assert_eq!(
            classify_phone("+44 7700 900123"),
            Some(("+447700900123".into(), PhoneKind::International, false))
        );
        assert_eq!(classify_phone("09061701461").map(|p| p.2), Some(true));
        assert_eq!(
            classify_phone("(555) 123-4567").map(|p| p.1),
            Some(PhoneKind::National)
        );
        assert_eq!(classify_phone("482913"), None);
        assert_eq!(classify_phone("01.05.2024 10"), None);
        assert_eq!(classify_phone("2024-05-12 10"), None);
    }

    /// Texts made of the pieces links, numbers and sentences are made of.
    fn texty() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex(
            "([a-z0-9]{1,6}|[ .:/?#@<>()+-]|[\t\n\u{a0}\u{2003}]|https?://|HXXP://|ftp://|www\\.|\\.com|\\.co\\.uk|[0-9]{3,8}|[£€ａ．é\u{200b}]){0,24}",
        )
        .expect("a valid pattern")
    }

    /// The shipped lists, and the same lists loaded again (another scanner, another cache key).
    fn scanners() -> &'static (LinkScanner, LinkScanner) {
        static SCANNERS: std::sync::OnceLock<(LinkScanner, LinkScanner)> =
            std::sync::OnceLock::new();
        SCANNERS.get_or_init(|| {
            let other = LinkScanner::new(
                Brands::default_brands(),
                DomainList::default_blocklist(),
                DomainList::default_shorteners(),
            );
            (LinkScanner::default(), other)
        })
    }

    /// The groups [`UrlParts`] reads off each match of `s`, and the regex's own.
    fn parts_both_ways(s: &str) -> Vec<(UrlParts, UrlParts)> {
        let url = &scanners().0.url;
        url.captures_iter(s)
            .map(|caps| {
                let whole = caps.get(0).expect("group 0");
                let group = |name: &str| caps.name(name).map(|m| m.range());
                let regex = UrlParts {
                    scheme: group("scheme"),
                    host: group("host").expect("host group"),
                    port: group("port"),
                    path: group("path"),
                };
                (
                    UrlParts::of(s, whole.range(), &scanners().0.host_at_start),
                    regex,
                )
            })
            .collect()
    }

    #[test]
    fn url_parts_are_the_regex_groups() {
        for s in [
            "go to https://user:pw@Example.com:8080/a/b?c=d#e now",
            "HXXPS://evil.example.co.uk/login@home and ftp://files.example.org",
            "http://a.b@c.example.com/x http://user@!! www.example.com:99999/x",
            "example.com/path?u=http://x.io 10.0.0.1:80/admin mail me@example.com",
            "http://xn--pypal-4ve.com/ ｂｉｔ．ｌｙ/x",
            "http://0.com?@ http://a.com?@b http://a.com?@b.cd/e https://x:y@10.0.0.1:8/z",
        ] {
            let both = parts_both_ways(s);
            assert!(!both.is_empty());
            for (read, regex) in both {
                assert_eq!(read, regex, "{s}");
            }
        }
    }

    /// Texts made of the words of short code and call phrases, digit runs and separators.
    fn phrasey() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex(
            "(((?i:text|txt|send|sms|reply|msg|call|dial|ring|phone|tel|whatsapp|us|now|on|at|to|win)|2|[0-9]{3,16}|[a-z]{1,4}|é)( | |[\t:.!?,]|)){0,12}",
        )
        .expect("a valid pattern")
    }

    /// Group 1 of each match of the short code and call patterns, and the match's trailing
    /// digits (which `phones` reads instead).
    fn number_groups(re: &Regex, s: &str) -> (Vec<Range<usize>>, Vec<Range<usize>>) {
        let groups = re
            .captures_iter(s)
            .map(|caps| caps.get(1).expect("group 1").range())
            .collect();
        let trailing = re.find_iter(s).map(|m| trailing_digits(&m)).collect();
        (groups, trailing)
    }

    #[test]
    fn the_number_groups_are_the_trailing_digits() {
        let scanner = &scanners().0;
        for s in [
            "Text WIN to 87121 now, or txt STOP 2 80808. Call 09061701461 or ring us now on 87575",
            "call:123456 tel. 0123456789 CALL at 55555 dial\t77777 text me on 123456",
        ] {
            let (groups, trailing) = number_groups(&scanner.short_code, s);
            assert!(!groups.is_empty());
            assert_eq!(groups, trailing, "{s}");
            let (groups, trailing) = number_groups(&scanner.call, s);
            assert!(!groups.is_empty());
            assert_eq!(groups, trailing, "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn number_groups_are_trailing_digits_in_any_text(s in phrasey()) {
            let scanner = &scanners().0;
            for re in [&scanner.short_code, &scanner.call] {
                let (groups, trailing) = number_groups(re, &s);
                proptest::prop_assert_eq!(groups, trailing, "{:?}", s);
            }
        }

        #[test]
        fn url_parts_read_off_a_match_equal_the_regex_groups(s in texty()) {
            for (read, regex) in parts_both_ways(&s) {
                proptest::prop_assert_eq!(read, regex, "{:?}", s);
            }
        }

        #[test]
        fn prefilters_never_skip_a_match(s in texty()) {
            let scanner = &scanners().0;
            let whole: Vec<_> = scanner.url.find_iter(&s).map(|m| m.range()).collect();
            let windowed: Vec<_> = scanner.url_matches(&s).map(|m| m.range()).collect();
            proptest::prop_assert_eq!(whole, windowed, "{:?}", s);
            let runs = DigitRuns::of(&s);
            if !runs.may_hold_phone {
                proptest::prop_assert!(scanner.phone.find(&s).is_none(), "{s:?}");
            }
            if runs.longest < 4 {
                proptest::prop_assert!(scanner.short_code.find(&s).is_none(), "{s:?}");
            }
            if runs.longest < 5 {
                proptest::prop_assert!(scanner.call.find(&s).is_none(), "{s:?}");
            }
        }

        #[test]
        fn cached_host_judgements_equal_fresh_ones(s in texty()) {
            let (scanner, other) = scanners();
            let first = scanner.links_of(&s);
            let again = scanner.links_of(&s);
            proptest::prop_assert_eq!(&first, &again);
            // Another scanner does not share this one's cache, and judges alike.
            proptest::prop_assert_eq!(&first, &other.links_of(&s));
        }
    }

    #[test]
    fn the_host_cache_follows_the_lists() {
        let text = "pay at paypa1-secure.com/login or bit.ly/x";
        let shipped = LinkScanner::default();
        let links = shipped.links_of(text);
        assert!(links[0].lookalike.is_some() && links[1].shortener);
        // Same thread, same hosts, other lists: judged afresh, not served from the cache.
        let bare = LinkScanner::new(
            Brands::parse("none", "").unwrap(),
            DomainList::parse("none", "").unwrap(),
            DomainList::parse("none", "").unwrap(),
        );
        let links = bare.links_of(text);
        assert!(links[0].lookalike.is_none() && !links[1].shortener);
        assert!(shipped.links_of(text)[0].lookalike.is_some());
    }

    #[test]
    fn ipv4() {
        assert!(is_ipv4("45.13.22.7"));
        assert!(!is_ipv4("1.2.3.999"));
        assert!(!is_ipv4("1.2.3"));
    }
}
