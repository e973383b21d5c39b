//! Tests of link and phone scanning: offsets, phone classes, and that what is read off a match
//! (URL parts, trailing digits) and the prefilters agree with the regexes.

use super::hosts::is_ipv4;
use super::phones::{DigitRuns, classify_phone, trailing_digits};
use super::urls::UrlParts;

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
    static SCANNERS: std::sync::OnceLock<(LinkScanner, LinkScanner)> = std::sync::OnceLock::new();
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
