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

mod hosts;
mod phones;
#[cfg(test)]
mod tests;
mod urls;

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;
use std::sync::Arc;

use regex::Regex;

use crate::lists::{Brands, DomainList, Lookalike};
use crate::normalize::is_invisible;
use phones::{CALL_PATTERN, PHONE_PATTERN, SHORT_CODE_PATTERN};
use urls::{HOST_AT_START, URL_PATTERN};

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
