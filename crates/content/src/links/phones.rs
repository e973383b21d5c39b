//! Finding phone numbers: international and national numbers, short codes in "text X to" and
//! "call" phrases, and which of them are premium rate.

use std::ops::Range;

use super::{Found, LinkScanner, MAX_PER_MESSAGE, Phone, PhoneKind, ScanScratch, View};

/// A run that may be a phone number: digits with single separators, maybe a `+` and parentheses.
pub(super) const PHONE_PATTERN: &str = r"\+?\(?[0-9][0-9 .\-()]{5,24}[0-9]";

/// A short code after "text/send/reply ... to" (at most three words in between). Word boundaries
/// are ASCII (`(?-u:\b)`) so that a `£` in the message does not push the search off the fast
/// engines.
pub(super) const SHORT_CODE_PATTERN: &str = r"(?i)(?-u:\b)(?:text|txt|send|sms|reply|msg|call|dial|ring)(?-u:\b)(?:[ \t]+[^\s.!?]+){0,3}?[ \t]+(?:to|on|2)[ \t]+([0-9]{4,6})(?-u:\b)";

/// A number right after "call", "tel", "phone", ...: a short code (5–6 digits) or an unformatted
/// number (7–15 digits).
pub(super) const CALL_PATTERN: &str = r"(?i)(?-u:\b)(?:call|dial|ring|phone|tel|whatsapp)(?-u:\b)[:.]?[ \t]*(?:us[ \t]+)?(?:now[ \t]+)?(?:on[ \t]+|at[ \t]+)?([0-9]{5,6}|[0-9]{7,15})(?-u:\b)";

impl LinkScanner {
    /// Adds the phone numbers of the view, outside the links at `scratch.ranges`, to `phones`.
    pub(super) fn phones(
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

/// What the digits of a text allow the phone patterns to find.
pub(super) struct DigitRuns {
    /// The longest run of ASCII digits: short codes need 4, numbers after "call" 5.
    pub(super) longest: usize,
    /// Whether some run of [`PHONE_PATTERN`]'s characters (digits, space, `.`, `-`, parentheses)
    /// has digits at least 7 characters apart, as the pattern needs.
    pub(super) may_hold_phone: bool,
}

impl DigitRuns {
    pub(super) fn of(s: &str) -> DigitRuns {
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
pub(super) fn trailing_digits(m: &regex::Match) -> Range<usize> {
    let n = m
        .as_str()
        .bytes()
        .rev()
        .take_while(u8::is_ascii_digit)
        .count();
    m.end() - n..m.end()
}
/// The number, kind and premium-rate flag of a phone-like run, or `None` if it is not a number.
pub(super) fn classify_phone(text: &str) -> Option<(String, PhoneKind, bool)> {
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
