//! What analysing a message allocates, counted by this test binary's own allocator.
//!
//! Content analysis runs once per message on the hot path of replay and of the filter, so it
//! should allocate only what it returns: the normal form, and the lists of links, phone numbers
//! and rule hits with each link's and number's text. Everything it works with in between (the
//! normaliser's and the token buffers, the regex caches, the judged hosts, the blanked text of the
//! phone search) is kept per thread from message to message. A lent analysis
//! (`ContentEngine::analyze_then`, what the core uses) allocates less still: its normal form and
//! lists are the thread's too, so only each link's and number's own strings are new. A change
//! that starts copying a cached host, or builds a buffer per message, fails here.
//!
//! The count is per thread, so tests running at the same time do not disturb it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use spamward_content::{Analysis, ContentEngine, Scratch};

/// The system allocator, counting this thread's allocations and reallocations.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: a thread's last frees and allocations can come after its locals are gone.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call is passed on unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// The allocations an analysis hands over: its normal form, its lists, and each link's and phone
/// number's own strings.
fn returned(a: &Analysis) -> u64 {
    let present = |b: bool| u64::from(b);
    present(!a.normalized.text.is_empty())
        + present(!a.links.is_empty())
        + present(!a.phones.is_empty())
        + present(!a.rule_hits.is_empty())
        + strings(a)
}

/// The allocations of each link's and phone number's own strings, which a lent analysis makes
/// too (its normal form and lists are the thread's, kept between messages).
fn strings(a: &Analysis) -> u64 {
    let present = |b: bool| u64::from(b);
    let mut n = 0;
    for l in &a.links {
        n += 1 + present(!l.path.is_empty());
        n += l
            .lookalike
            .as_ref()
            .map_or(0, |k| present(!k.matched.is_empty()));
    }
    for p in &a.phones {
        n += present(!p.text.is_empty()) + present(!p.number.is_empty());
    }
    n
}

/// Messages of the kinds a platform carries, each in two copies that differ in a code, an amount
/// or a path, as the copies of one template do.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "Your code is 482913. Do not share it with anyone.",
        "Your code is 771204. Do not share it with anyone.",
    ),
    (
        "Flight BA117 to JFK now departs 14:35 from gate B32. Details: https://www.britishairways.com/trip/AB12CD",
        "Flight BA117 to JFK now departs 16:05 from gate B30. Details: https://www.britishairways.com/trip/ZX98QW",
    ),
    (
        "URGENT: your P4yP@l account is suspended. Verify at paypa1-secure.com/login now",
        "URGENT: your P4yP@l account is suspended. Verify at paypa1-secure.com/verify now",
    ),
    (
        "WINNER!! You have won a £1000 prize. Text CLAIM to 87121 or call 09061701461 T&Cs apply",
        "WINNER!! You have won a £2000 prize. Text CLAIM to 87121 or call 09061701462 T&Cs apply",
    ),
    (
        "Your parcel is held: a £1.99 fee is due. Pay at hxxps://royalmail-fees.top/p/881 or bit.ly/3xYz",
        "Your parcel is held: a £2.99 fee is due. Pay at hxxps://royalmail-fees.top/p/915 or bit.ly/3xYz",
    ),
    (
        "Ｆｒｅｅ entry: visit ｂｉｔ．ｌｙ/ｗｉｎ today, or dial +44 7700 900123",
        "Ｆｒｅｅ entry: visit ｂｉｔ．ｌｙ/ｗｉｎ today, or dial +44 7700 900456",
    ),
];

/// What the link scanner allocates beyond that for a text with invisible characters or fullwidth
/// forms: the view of it they are removed from, and the view's map back to the text. Such texts
/// are rare, and the view is what keeps a link's span in the text as written.
const VIEW: u64 = 2;

fn needs_a_view(text: &str) -> bool {
    text.chars()
        .any(|c| ('\u{ff01}'..='\u{ff5e}').contains(&c) || c == '\u{200b}')
}

/// An engine, and scratch memory that has analysed the first copy of every template on a thread
/// whose automata and judged hosts were warmed on the second copies (with other memory, so their
/// analyses are not remembered): as a thread that has seen the templates before would be.
/// With `lent`, the first copies' analyses were lent (so the scratch kept their lists), else
/// handed over.
fn warmed(lent: bool) -> (ContentEngine, Scratch) {
    let engine = ContentEngine::default();
    let mut warming = Scratch::new();
    for (_, second) in TEMPLATES {
        engine.analyze_with(second, &mut warming);
    }
    let mut scratch = Scratch::new();
    for (first, _) in TEMPLATES {
        if lent {
            engine.analyze_with_then(first, &mut scratch, |_| ());
        } else {
            engine.analyze_with(first, &mut scratch);
        }
    }
    (engine, scratch)
}

/// Counts what analysing each second copy allocates (`analyze` lends or hands over the
/// analysis) and checks it against `allowed`; returns the links and phone numbers seen.
fn check_each(
    analyze: impl Fn(&str) -> (u64, Analysis),
    allowed: impl Fn(&Analysis) -> u64,
) -> (usize, usize) {
    let (mut links, mut phones) = (0, 0);
    for (_, second) in TEMPLATES {
        let (made, a) = analyze(second);
        let allowed = allowed(&a) + if needs_a_view(second) { VIEW } else { 0 };
        assert!(
            made <= allowed,
            "{second:?}: {made} allocations, {allowed} allowed ({} links, {} phones, {} rule \
             hits)",
            a.links.len(),
            a.phones.len(),
            a.rule_hits.len()
        );
        links += a.links.len();
        phones += a.phones.len();
    }
    (links, phones)
}

#[test]
fn an_analysis_allocates_what_it_returns_and_nothing_else() {
    let (engine, scratch) = warmed(false);
    let scratch = std::cell::RefCell::new(scratch);
    let (links, phones) = check_each(
        |text| {
            let before = allocations();
            let a = engine.analyze_with(text, &mut scratch.borrow_mut());
            (allocations() - before, a)
        },
        returned,
    );
    // The texts exercise what they are meant to.
    assert!(
        links >= 5 && phones >= 3,
        "{links} links, {phones} phone numbers"
    );
}

#[test]
fn a_lent_analysis_allocates_only_its_links_and_numbers() {
    let (engine, scratch) = warmed(true);
    let scratch = std::cell::RefCell::new(scratch);
    check_each(
        |text| {
            let before = allocations();
            let (made, kept) = engine.analyze_with_then(text, &mut scratch.borrow_mut(), |a| {
                (allocations() - before, strings(a))
            });
            // A copy to check against, made after counting.
            let a = engine.analyze_with_then(text, &mut scratch.borrow_mut(), Analysis::clone);
            assert_eq!(kept, strings(&a));
            (made, a)
        },
        strings,
    );
}
