//! Judging a link's host: IDNA, the registrable domain from the public suffix list, whether a
//! bare host is plausibly a link, and the verdicts of the lists (shortener, blocklist, brand
//! lookalike), cached per thread. "The module docs" below are those of [`crate::links`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use super::{COMMON_TLDS, Link, LinkScanner};
use crate::lists::Lookalike;

impl LinkScanner {
    /// Builds a [`Link`] for a host, or `None` when the match is not a plausible link.
    pub(super) fn judge(
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
pub(super) fn is_ipv4(host: &str) -> bool {
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
