//! Rewriting a rule's regex for the set: ASCII word boundaries, and the gates of gapped regexes
//! (gaps widened to `.*`, or the pieces between top-level gaps; see the docs of
//! [`crate::rules`]).

/// The gate of a regex: every `.` outside a character class that carries a counted repetition
/// (`.{0,60}`, `.{3,}`, `.{5}`, lazy or not) becomes `.*`. The gate matches wherever the regex does
/// and needs no counter in the automaton. A regex without such a gap is its own gate.
pub(super) fn widen_gaps(re: &str) -> String {
    rewrite_outside_classes(re, |rest| counted_gap(rest).map(|len| (len, ".*")))
}

/// The pieces of a regex between its top-level gaps (`.{m,n}`, lazy or not, outside groups and
/// classes), for each top-level branch; `None` if it has no such gap, if a branch would have no
/// piece left, or if it sets flags for the rest of the pattern (`(?x)`), which its pieces would
/// lose. Every match of the regex contains a match of each piece of one of its branches.
pub(super) fn split_at_gaps(re: &str) -> Option<Vec<Vec<String>>> {
    let mut branches = Vec::new();
    let mut pieces = Vec::new();
    let (mut start, mut split, mut flags) = (0, false, false);
    walk_outside_classes(re, |at, depth| {
        if depth > 0 {
            return None;
        }
        let rest = &re[at..];
        if let Some(after) = rest.strip_prefix("(?") {
            let after = after.trim_start_matches(|f: char| f.is_ascii_alphabetic() || f == '-');
            flags |= after.starts_with(')');
            return None;
        }
        if rest.starts_with('|') {
            pieces.push(&re[start..at]);
            branches.push(std::mem::take(&mut pieces));
            start = at + 1;
            return Some(1);
        }
        let len = counted_gap(rest)?;
        let len = len + usize::from(rest[len..].starts_with('?'));
        pieces.push(&re[start..at]);
        start = at + len;
        split = true;
        Some(len)
    });
    pieces.push(&re[start..]);
    branches.push(pieces);
    if !split || flags {
        return None;
    }
    let branches: Vec<Vec<String>> = branches
        .into_iter()
        .map(|b| {
            b.into_iter()
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect();
    if branches.iter().any(Vec::is_empty) {
        return None;
    }
    Some(branches)
}

/// The length of a counted gap (`.{0,60}`, `.{3,}`, `.{5}`) at the start of `rest`, if there is
/// one.
fn counted_gap(rest: &str) -> Option<usize> {
    let inner = rest.strip_prefix(".{")?;
    let close = inner.find('}')?;
    let counted = close > 0
        && inner[..close]
            .bytes()
            .all(|x| x.is_ascii_digit() || x == b',');
    counted.then_some(close + 3)
}

/// Copies a regex, replacing what `rewrite` recognises at the start of the rest of the pattern,
/// outside character classes and escapes: `rewrite(rest)` gives the bytes it replaces and their
/// replacement. Escapes (`\x`) are copied whole unless `rewrite` takes them; inside a class
/// nothing is rewritten, and a `]` or `^]` right after the opening bracket is a literal.
fn rewrite_outside_classes(
    re: &str,
    rewrite: impl Fn(&str) -> Option<(usize, &'static str)>,
) -> String {
    let mut out = String::with_capacity(re.len() + 16);
    let mut copied = 0;
    walk_outside_classes(re, |at, _| {
        let (len, with) = rewrite(&re[at..])?;
        out.push_str(&re[copied..at]);
        out.push_str(with);
        copied = at + len;
        Some(len)
    });
    out.push_str(&re[copied..]);
    out
}

/// Walks a regex, offering `visit(at, depth)` every position outside character classes (escapes
/// included, at their backslash) with the depth of the groups around it. `visit` returns how many
/// bytes it takes there, or `None` to let the walk step over the character: an escape whole, a
/// class whole (a `]` or `^]` right after its opening bracket is a literal), a parenthesis
/// entering or leaving a group.
fn walk_outside_classes(re: &str, mut visit: impl FnMut(usize, usize) -> Option<usize>) {
    let (mut at, mut class_depth, mut depth) = (0, 0usize, 0usize);
    while let Some(c) = re[at..].chars().next() {
        if class_depth == 0
            && let Some(len) = visit(at, depth)
        {
            at += len;
            continue;
        }
        let rest = &re[at..];
        let mut len = c.len_utf8();
        match c {
            '\\' => len += rest[1..].chars().next().map_or(0, char::len_utf8),
            '[' => {
                class_depth += 1;
                if let Some(lit) = ["^]", "]"].iter().find(|l| rest[1..].starts_with(**l)) {
                    len += lit.len();
                }
            }
            ']' if class_depth > 0 => class_depth -= 1,
            '(' if class_depth == 0 => depth += 1,
            ')' if class_depth == 0 => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += len;
    }
}

/// Rewrites `\b` and `\B` outside character classes to their ASCII forms (`(?-u:\b)`).
///
/// The normal form is mostly ASCII but keeps `£`, `€` and emoji, and the regex crate's fast
/// engines give up on a Unicode word boundary as soon as they meet a non-ASCII byte, falling back
/// to a much slower one for the whole set. An ASCII boundary keeps every message on the fast path;
/// since letters with accents are folded to ASCII by normalisation, the two agree on what matters.
pub(super) fn ascii_word_boundaries(re: &str) -> String {
    rewrite_outside_classes(re, |rest| match rest.get(..2) {
        Some("\\b") => Some((2, "(?-u:\\b)")),
        Some("\\B") => Some((2, "(?-u:\\B)")),
        _ => None,
    })
}
