//! What analysing a message allocates, counted by this test binary's own allocator.
//!
//! Content analysis runs once per message on the hot path of replay and of the filter, so it
//! should allocate only what it returns: the normal form, and the lists of links, phone numbers
//! and rule hits with each link's and number's text. Everything it works with in between (the
//! normaliser's and the token buffers, the regex caches, the judged hosts, the blanked text of the
//! phone search) is kept per thread from message to message. A change that starts copying a
//! cached host, or builds a buffer per message, fails here.
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
    let mut n = present(!a.normalized.text.is_empty())
        + present(!a.links.is_empty())
        + present(!a.phones.is_empty())
        + present(!a.rule_hits.is_empty());
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

#[test]
fn an_analysis_allocates_what_it_returns_and_nothing_else() {
    let engine = ContentEngine::default();
    // The thread's lazily built automata and judged hosts are warmed on the very texts counted
    // (with memory that is then dropped, so their analyses are not remembered), and the counting
    // memory on the other copies, as a thread that has seen the templates before would be.
    let mut warming = Scratch::new();
    for (_, second) in TEMPLATES {
        engine.analyze_with(second, &mut warming);
    }
    let mut scratch = Scratch::new();
    for (first, _) in TEMPLATES {
        engine.analyze_with(first, &mut scratch);
    }
    let mut links = 0;
    let mut phones = 0;
    for (_, second) in TEMPLATES {
        let before = allocations();
        let a = engine.analyze_with(second, &mut scratch);
        let made = allocations() - before;
        let own = returned(&a);
        let allowed = own + if needs_a_view(second) { VIEW } else { 0 };
        assert!(
            made <= allowed,
            "{second:?}: {made} allocations, {own} of them returned ({} links, {} phones, {} rule \
             hits), {allowed} allowed",
            a.links.len(),
            a.phones.len(),
            a.rule_hits.len()
        );
        links += a.links.len();
        phones += a.phones.len();
    }
    // The texts exercise what they are meant to.
    assert!(
        links >= 5 && phones >= 3,
        "{links} links, {phones} phone numbers"
    );
}
