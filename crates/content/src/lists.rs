//! Domain lists: blocklists, link shorteners and the protected brands.
//!
//! All three are plain text, one entry per line, `#` starts a comment. The shipped lists
//! (`data/blocklists/domains.txt`, `data/shorteners.txt`, `data/brands.txt`) are embedded in the
//! binary; an operator's own lists are parsed from text with the same functions (the caller reads
//! the file and passes its name for error messages). A bad line is refused with the list's name and
//! the line number.
//!
//! A [`DomainList`] answers "is this host, or a domain above it, listed?". [`Brands`] answers "does
//! this host imitate a brand it does not belong to?" — by skeleton (`paypa1`, `аmazon` in
//! Cyrillic), by edit distance (`paypall`, `amazom`), or by carrying the brand's name in a label of
//! somebody else's domain (`paypal.com.secure-login.xyz`, `paypal-login.example.net`). A brand's
//! own domains and their subdomains are never flagged.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use crate::normalize::skeleton_ascii;

/// The shipped illustrative blocklist (`data/blocklists/domains.txt`).
const DEFAULT_BLOCKLISTS: &[(&str, &str)] = &[(
    "domains.txt",
    include_str!("../../../data/blocklists/domains.txt"),
)];
/// The shipped list of link shorteners (`data/shorteners.txt`).
const DEFAULT_SHORTENERS: &str = include_str!("../../../data/shorteners.txt");
/// The shipped list of protected brands (`data/brands.txt`).
const DEFAULT_BRANDS: &str = include_str!("../../../data/brands.txt");

/// A line of a list that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListError {
    list: String,
    line: usize,
    kind: ListErrorKind,
}

/// What was wrong with a list's line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListErrorKind {
    /// Not a domain name (or IPv4 address) that IDNA accepts.
    BadDomain(String),
    /// A brand line with a name but no domain.
    NoDomains(String),
    /// A brand name that is not lower-case ASCII letters and digits.
    BadBrandName(String),
}

impl ListError {
    /// The list's name, as given by the caller (usually its file name).
    pub fn list(&self) -> &str {
        &self.list
    }

    /// The 1-based line number.
    pub fn line(&self) -> usize {
        self.line
    }

    /// What was wrong.
    pub fn kind(&self) -> &ListErrorKind {
        &self.kind
    }
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.list, self.line)?;
        match &self.kind {
            ListErrorKind::BadDomain(d) => write!(f, "not a domain name: `{d}`"),
            ListErrorKind::NoDomains(b) => write!(f, "brand `{b}` has no domain"),
            ListErrorKind::BadBrandName(b) => {
                write!(
                    f,
                    "brand name `{b}` must be lower-case ASCII letters and digits"
                )
            }
        }
    }
}

impl std::error::Error for ListError {}

/// The meaningful lines of a list: comments and blank lines dropped, with 1-based line numbers.
fn entries(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = line.split('#').next().unwrap_or("").trim();
        (!line.is_empty()).then_some((i + 1, line))
    })
}

/// A domain in the canonical form hosts are compared in: IDNA ASCII, lower case, no trailing dot.
fn canonical_domain(list: &str, line: usize, raw: &str) -> Result<String, ListError> {
    let bad = || ListError {
        list: list.to_string(),
        line,
        kind: ListErrorKind::BadDomain(raw.to_string()),
    };
    let trimmed = raw.trim_end_matches('.');
    let ascii = idna::domain_to_ascii(trimmed).map_err(|_| bad())?;
    if ascii.is_empty() || !ascii.contains('.') || ascii.split('.').any(str::is_empty) {
        return Err(bad());
    }
    Ok(ascii)
}

/// A set of domains (and IPv4 addresses): a host matches when it or a domain above it is listed.
#[derive(Clone, Debug, Default)]
pub struct DomainList {
    domains: HashSet<String>,
}

impl DomainList {
    /// An empty list.
    pub fn new() -> DomainList {
        DomainList::default()
    }

    /// Parses a list: one domain per line, `#` comments. `name` is used in errors.
    pub fn parse(name: &str, text: &str) -> Result<DomainList, ListError> {
        let mut list = DomainList::new();
        list.extend(name, text)?;
        Ok(list)
    }

    /// Adds the domains of another list's text to this one (or nothing, on error).
    pub fn extend(&mut self, name: &str, text: &str) -> Result<&mut DomainList, ListError> {
        let mut add = Vec::new();
        for (line, entry) in entries(text) {
            add.push(canonical_domain(name, line, entry)?);
        }
        self.domains.extend(add);
        Ok(self)
    }

    /// The shipped blocklist: an illustrative handful of made-up domains. Operators replace it with
    /// their own feed.
    pub fn default_blocklist() -> DomainList {
        let mut list = DomainList::new();
        for (name, text) in DEFAULT_BLOCKLISTS {
            list.extend(name, text)
                .expect("the shipped blocklist parses");
        }
        list
    }

    /// The shipped list of link shorteners.
    pub fn default_shorteners() -> DomainList {
        DomainList::parse("shorteners.txt", DEFAULT_SHORTENERS).expect("the shipped list parses")
    }

    /// Whether `host` (canonical: ASCII, lower case) or a domain above it is listed.
    pub fn contains_host(&self, host: &str) -> bool {
        if self.domains.is_empty() {
            return false;
        }
        let mut rest = host;
        loop {
            if self.domains.contains(rest) {
                return true;
            }
            match rest.find('.') {
                Some(dot) => rest = &rest[dot + 1..],
                None => return false,
            }
        }
    }

    /// How many entries the list has.
    pub fn len(&self) -> usize {
        self.domains.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }
}

/// How a host imitates a brand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LookalikeKind {
    /// A label of somebody else's domain, once confusables and leet are folded, spells the brand
    /// (`paypa1-secure.com`, `amaz0n-verify.net`, a Cyrillic `аpple`).
    Skeleton,
    /// A label within one edit (two for names of nine letters or more) of the brand
    /// (`paypall.com`, `amazom.net`).
    EditDistance,
    /// The brand's name or domain in a subdomain of somebody else's domain
    /// (`paypal.com.secure-login.xyz`, `paypal-login.example.net`).
    BrandInSubdomain,
    /// The brand's name as a word of somebody else's registrable domain (`paypal-secure.com`,
    /// `royalmail-redelivery.com`).
    BrandInDomain,
}

impl LookalikeKind {
    /// A stable lower-case name: `skeleton`, `edit_distance`, `brand_in_subdomain`,
    /// `brand_in_domain`.
    pub fn as_str(self) -> &'static str {
        match self {
            LookalikeKind::Skeleton => "skeleton",
            LookalikeKind::EditDistance => "edit_distance",
            LookalikeKind::BrandInSubdomain => "brand_in_subdomain",
            LookalikeKind::BrandInDomain => "brand_in_domain",
        }
    }

    /// Which kind wins when a host matches several ways: the most deliberate first.
    fn rank(self) -> u8 {
        match self {
            LookalikeKind::BrandInSubdomain => 0,
            LookalikeKind::Skeleton => 1,
            LookalikeKind::BrandInDomain => 2,
            LookalikeKind::EditDistance => 3,
        }
    }
}

impl fmt::Display for LookalikeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A host that imitates a protected brand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookalike {
    /// The brand's name, as in the brands list (`paypal`).
    pub brand: Arc<str>,
    /// How the host imitates it.
    pub how: LookalikeKind,
    /// The label or word of the host that matched (`paypa1`).
    pub matched: String,
}

/// One protected brand.
#[derive(Clone, Debug)]
struct Brand {
    name: Arc<str>,
    /// Its own domains (canonical), each between dots (`.paypal.com.`), to find in a subdomain.
    dotted_domains: Vec<String>,
    /// The words that stand for it: its name and the first labels of its domains.
    marks: Vec<Mark>,
    /// Ordinary words near its name that are not lookalikes (`finance` for `binance`).
    exceptions: Vec<String>,
}

/// A word that stands for a brand.
#[derive(Clone, Debug)]
struct Mark {
    raw: String,
    folded: String,
    /// An ordinary word (the name of `~apple`, `~chase`): it counts as a word of a host only next to
    /// a lure word, and never by edit distance.
    common: bool,
}

/// The protected brands: parsed from `name domain [domain...] [!not-a-lookalike...]` lines. A name
/// written `~apple` is an ordinary word.
#[derive(Clone, Debug, Default)]
pub struct Brands {
    brands: Vec<Brand>,
    /// Every brand's own domain → the brand's index.
    owned: HashMap<String, usize>,
}

/// Words that, next to a brand's name in a domain, make a lure (`apple-id-verify`).
const LURE_WORDS: &[&str] = &[
    "account",
    "accounts",
    "alert",
    "auth",
    "bank",
    "bill",
    "billing",
    "bonus",
    "card",
    "check",
    "claim",
    "confirm",
    "customer",
    "delivery",
    "gift",
    "gov",
    "help",
    "id",
    "log",
    "login",
    "online",
    "parcel",
    "pay",
    "payment",
    "prize",
    "recovery",
    "redelivery",
    "refund",
    "reset",
    "reward",
    "secure",
    "security",
    "service",
    "sign",
    "signin",
    "support",
    "tax",
    "track",
    "unlock",
    "update",
    "validate",
    "verify",
    "verification",
    "wallet",
];

/// Country-code TLDs sold as generic ones (`.co`, `.io`, `.ly`): a brand's name on one of them is
/// not taken for the brand's national site.
const GENERIC_CCTLDS: &[&str] = &[
    "ai", "am", "cc", "cf", "cm", "co", "cx", "fm", "ga", "gd", "gg", "gq", "im", "io", "is", "la",
    "ly", "me", "ml", "nu", "pw", "sh", "so", "st", "su", "tk", "to", "tv", "vc", "ws",
];

impl Brands {
    /// No brands.
    pub fn new() -> Brands {
        Brands::default()
    }

    /// Parses a brands list. `name` is used in errors.
    pub fn parse(name: &str, text: &str) -> Result<Brands, ListError> {
        let mut brands = Brands::new();
        for (line, entry) in entries(text) {
            let mut words = entry.split_whitespace();
            let raw_name = words.next().unwrap_or("");
            let (common_word, brand) = match raw_name.strip_prefix('~') {
                Some(b) => (true, b),
                None => (false, raw_name),
            };
            if brand.is_empty()
                || !brand
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return Err(ListError {
                    list: name.to_string(),
                    line,
                    kind: ListErrorKind::BadBrandName(raw_name.to_string()),
                });
            }
            let mut domains = Vec::new();
            let mut exceptions = Vec::new();
            for w in words {
                match w.strip_prefix('!') {
                    Some(e) => exceptions.push(e.to_ascii_lowercase()),
                    None => domains.push(canonical_domain(name, line, w)?),
                }
            }
            if domains.is_empty() {
                return Err(ListError {
                    list: name.to_string(),
                    line,
                    kind: ListErrorKind::NoDomains(brand.to_string()),
                });
            }
            let mut marks: Vec<Mark> = Vec::new();
            // A domain's first label stands for the brand when it contains the name (`lloydsbank`);
            // other own domains (`cash.app`, `live.com`) are the brand's but say nothing alone.
            let firsts = domains
                .iter()
                .filter_map(|d| registrable_label(d))
                .filter(|l| l.contains(brand));
            for m in std::iter::once(brand.to_string()).chain(firsts.map(str::to_string)) {
                let raw = m.replace('-', "");
                if raw.len() >= 2 && !marks.iter().any(|x| x.raw == raw) {
                    let common = common_word && raw == brand;
                    marks.push(Mark {
                        folded: fold(&raw),
                        raw,
                        common,
                    });
                }
            }
            let index = brands.brands.len();
            for d in &domains {
                brands.owned.entry(d.clone()).or_insert(index);
            }
            let dotted_domains = domains.iter().map(|d| format!(".{d}.")).collect();
            brands.brands.push(Brand {
                name: brand.into(),
                dotted_domains,
                marks,
                exceptions,
            });
        }
        Ok(brands)
    }

    /// The shipped brands list.
    pub fn default_brands() -> Brands {
        Brands::parse("brands.txt", DEFAULT_BRANDS).expect("the shipped brands list parses")
    }

    /// How many brands there are.
    pub fn len(&self) -> usize {
        self.brands.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.brands.is_empty()
    }

    /// The brand that owns `host` (canonical), if it or a domain above it is a brand's own domain.
    pub fn owner(&self, host: &str) -> Option<&str> {
        let mut rest = host;
        loop {
            if let Some(&i) = self.owned.get(rest) {
                return Some(&self.brands[i].name);
            }
            rest = &rest[rest.find('.')? + 1..];
        }
    }

    /// Whether `host` (canonical ASCII, lower case) imitates a brand. `registrable` is its
    /// registrable domain and `suffix` its public suffix, both from the public suffix list.
    pub fn lookalike(&self, host: &str, registrable: &str, suffix: &str) -> Option<Lookalike> {
        if self.brands.is_empty() || self.owner(host).is_some() {
            return None;
        }
        let sub = host
            .strip_suffix(registrable)
            .map(|s| s.trim_end_matches('.'))
            .unwrap_or("");
        let reg_label = registrable
            .strip_suffix(suffix)
            .map(|s| s.trim_end_matches('.'))
            .unwrap_or(registrable);
        let country_suffix = suffix
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.len() == 2 && !GENERIC_CCTLDS.contains(&tld));

        // Words of each label: its hyphen-separated parts and runs of them joined.
        struct Word {
            raw: String,
            folded: String,
            in_subdomain: bool,
            whole_label: bool,
        }
        let mut words: Vec<Word> = Vec::new();
        let labels = sub.split('.').filter(|l| !l.is_empty()).map(|l| (l, true));
        for (label, in_subdomain) in labels.chain(std::iter::once((reg_label, false))) {
            let unicode = if label.starts_with("xn--") {
                idna::domain_to_unicode(label).0
            } else {
                label.to_string()
            };
            let parts: Vec<&str> = unicode
                .split(['-', '_'])
                .filter(|p| !p.is_empty())
                .collect();
            for p in &parts {
                words.push(Word {
                    raw: p.to_string(),
                    folded: fold(p),
                    in_subdomain,
                    whole_label: parts.len() == 1,
                });
            }
            // Runs of neighbouring parts joined: `e-zpass-pay` also reads as `ezpass`.
            for len in 2..=parts.len() {
                for run in parts.windows(len) {
                    let joined: String = run.concat();
                    let whole_label = len == parts.len();
                    words.push(Word {
                        folded: fold(&joined),
                        raw: joined,
                        in_subdomain,
                        whole_label,
                    });
                }
            }
        }
        let has_lure = words.iter().any(|w| LURE_WORDS.contains(&w.raw.as_str()));

        let mut best: Option<(u8, usize, Lookalike)> = None;
        let mut offer =
            |rank: u8, index: usize, how: LookalikeKind, matched: &str, brand: &Brand| {
                if best
                    .as_ref()
                    .is_none_or(|(r, i, _)| (rank, index) < (*r, *i))
                {
                    best = Some((
                        rank,
                        index,
                        Lookalike {
                            brand: brand.name.clone(),
                            how,
                            matched: matched.to_string(),
                        },
                    ));
                }
            };
        let dotted_sub = format!(".{sub}.");
        for (index, brand) in self.brands.iter().enumerate() {
            // The brand's whole domain inside somebody else's subdomain: `paypal.com.evil.xyz`.
            if !sub.is_empty()
                && brand
                    .dotted_domains
                    .iter()
                    .any(|d| dotted_sub.contains(d.as_str()))
            {
                let how = LookalikeKind::BrandInSubdomain;
                offer(how.rank(), index, how, sub, brand);
                continue;
            }
            for w in &words {
                if brand.exceptions.contains(&w.raw) {
                    continue;
                }
                for mark in &brand.marks {
                    if w.raw == mark.raw {
                        // The brand's own name on its national site (`amazon.com.au`) is the brand.
                        if !w.in_subdomain && w.whole_label && country_suffix {
                            continue;
                        }
                        if mark.common && !has_lure {
                            continue;
                        }
                        let how = if w.in_subdomain {
                            LookalikeKind::BrandInSubdomain
                        } else {
                            LookalikeKind::BrandInDomain
                        };
                        offer(how.rank(), index, how, &w.raw, brand);
                    } else if mark.raw.len() >= 4 && w.folded == mark.folded {
                        // Short names (`o2`, `ups`) fold into too many ordinary words (`02`).
                        let how = LookalikeKind::Skeleton;
                        offer(how.rank(), index, how, &w.raw, brand);
                    } else if !mark.common && mark.raw.len() >= 5 {
                        let limit = if mark.raw.len() >= 9 { 2 } else { 1 };
                        let same_start = w.folded.chars().next() == mark.folded.chars().next();
                        if same_start
                            && w.folded.len().abs_diff(mark.folded.len()) <= limit
                            && osa_distance(&w.folded, &mark.folded, limit) <= limit
                        {
                            let how = LookalikeKind::EditDistance;
                            offer(how.rank(), index, how, &w.raw, brand);
                        }
                    }
                }
            }
        }
        best.map(|(_, _, l)| l)
    }
}

/// The first label of a domain's registrable part: `paypal` for `paypal.co.uk`.
fn registrable_label(domain: &str) -> Option<&str> {
    let registrable = psl::domain_str(domain)?;
    registrable.split('.').next()
}

/// The form brand words are compared in: confusables to ASCII, leet digits and look-alike letter
/// pairs to the letter they imitate (`paypa1` → `paypal`, `rnicrosoft` → `microsoft`), and `i`
/// with `l`, which no one can tell apart in many fonts.
fn fold(word: &str) -> String {
    let mut ascii = String::with_capacity(word.len());
    for c in word.chars() {
        if c.is_ascii() {
            ascii.push(c.to_ascii_lowercase());
        } else {
            match skeleton_ascii(c) {
                Some(s) => ascii.extend(s),
                None => ascii.push(c),
            }
        }
    }
    let ascii = ascii.replace("rn", "m").replace("vv", "w");
    ascii
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | 'i' | '|' | '!' => 'l',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            _ => c,
        })
        .collect()
}

/// Optimal string alignment distance (edits and adjacent transpositions), giving up past `limit`.
fn osa_distance(a: &str, b: &str, limit: usize) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut prev2 = vec![0usize; m + 1];
    let mut prev: Vec<usize> = (0..=m).collect();
    let mut cur = vec![0usize; m + 1];
    for i in 1..=n {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if row_min > limit {
            return limit + 1;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(brands: &Brands, host: &str) -> Option<(String, LookalikeKind)> {
        let registrable = psl::domain_str(host).unwrap_or(host);
        let suffix = psl::suffix_str(host).unwrap_or("");
        brands
            .lookalike(host, registrable, suffix)
            .map(|l| (l.brand.to_string(), l.how))
    }

    #[test]
    fn distance() {
        assert_eq!(osa_distance("paypal", "paypai", 2), 1);
        assert_eq!(osa_distance("paypal", "papyal", 2), 1);
        assert_eq!(osa_distance("amazon", "amazon", 2), 0);
        assert_eq!(osa_distance("amazon", "zzzzzz", 2), 3);
    }

    #[test]
    fn fold_undoes_leet_and_pairs() {
        assert_eq!(fold("paypa1"), "paypal");
        assert_eq!(fold("rnicrosoft"), fold("microsoft"));
        assert_eq!(fold("p\u{430}yp\u{430}l"), "paypal");
    }

    #[test]
    fn lookalikes() {
        let brands = Brands::parse(
            "t",
            "paypal paypal.com\n~apple apple.com\nbinance binance.com !finance",
        )
        .unwrap();
        assert_eq!(look(&brands, "paypal.com"), None);
        assert_eq!(look(&brands, "www.paypal.com"), None);
        assert_eq!(
            look(&brands, "paypa1-secure.com"),
            Some(("paypal".into(), LookalikeKind::Skeleton))
        );
        // `i` and `l` fold together: a skeleton match, not an edit.
        assert_eq!(
            look(&brands, "paypai.com"),
            Some(("paypal".into(), LookalikeKind::Skeleton))
        );
        assert_eq!(
            look(&brands, "paypall.com"),
            Some(("paypal".into(), LookalikeKind::EditDistance))
        );
        assert_eq!(
            look(&brands, "paypal.com.secure-login.xyz"),
            Some(("paypal".into(), LookalikeKind::BrandInSubdomain))
        );
        assert_eq!(look(&brands, "apple-farm.co.uk"), None);
        assert_eq!(
            look(&brands, "apple-id-verify.com"),
            Some(("apple".into(), LookalikeKind::BrandInDomain))
        );
        assert_eq!(look(&brands, "easy-finance.com"), None);
        assert_eq!(
            look(&brands, "binanse.com"),
            Some(("binance".into(), LookalikeKind::EditDistance))
        );
    }

    #[test]
    fn bad_lines_name_list_and_line() {
        let e = Brands::parse("b.txt", "# brands\npaypal\n").unwrap_err();
        assert_eq!(e.to_string(), "b.txt:2: brand `paypal` has no domain");
        let e = DomainList::parse("bl.txt", "ok.example\nnot a domain\n").unwrap_err();
        assert_eq!((e.list(), e.line()), ("bl.txt", 2));
    }

    #[test]
    fn parents_match() {
        let list = DomainList::parse("t", "evil.example # comment\n").unwrap();
        assert!(list.contains_host("evil.example"));
        assert!(list.contains_host("a.b.evil.example"));
        assert!(!list.contains_host("notevil.example"));
    }
}
