//! Message texts: the SMS corpus (train side only), template pools with variable fields, and the
//! renderer that fills them in.
//!
//! Templates are plain strings with `{field}` placeholders. A business owns a handful of them (its
//! "approved templates"); every business-initiated message is one of them rendered with fresh values
//! (a flight number, a code, an amount, a name, a link). Legitimate promotions are written to look
//! like real ones, prizes and exclamation marks included, so "businessy" never means "spam"; scam
//! templates copy the shapes of real smishing (parcel fees, crypto bonuses, loans, locked accounts).
//! Corpus texts are used verbatim and come from the train side of the fixed split only, so the
//! content classifier's test side never leaks into the generated traffic.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::OnceLock;

use rand::Rng;
use spamward_core::Timestamp;
use spamward_core::corpus::{Split, parse_sms_tsv, split_key, split_of};
use spamward_core::time::{DAY, HOUR, MINUTE};

/// The SMS Spam Collection, embedded so the generator stays free of file I/O.
const SMS: &str = include_str!("../../../data/sms/SMSSpamCollection");

/// The train side of the SMS corpus, deduplicated by split key.
pub(crate) struct Corpus {
    /// Spam texts (train side).
    pub spam: Vec<String>,
    /// Ham texts (train side) short enough to pass as a chat reply.
    pub ham: Vec<String>,
    /// Split keys of every test-side text, to check that nothing derived from the train side
    /// collides with one.
    pub test_keys: HashSet<String>,
}

/// The corpus, parsed once.
pub(crate) fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let rows = parse_sms_tsv(SMS).expect("the embedded SMS collection parses");
        let mut seen = HashSet::new();
        let mut spam = Vec::new();
        let mut ham = Vec::new();
        let mut test_keys = HashSet::new();
        for row in rows {
            let key = split_key(&row.text);
            if split_of(&row.text) == Split::Test {
                test_keys.insert(key);
                continue;
            }
            if !seen.insert(key) {
                continue;
            }
            if row.spam {
                spam.push(row.text);
            } else if (12..=160).contains(&row.text.len()) {
                ham.push(row.text);
            }
        }
        Corpus {
            spam,
            ham,
            test_keys,
        }
    })
}

/// Replaces every run of digits with random digits of the same length (codes, phone numbers,
/// amounts), keeping the rest. Used to give members of one snowshoe campaign their own variant of
/// a corpus text. Falls back to the original when the variant would collide with a test-side text.
pub(crate) fn vary_digits<R: Rng>(text: &str, rng: &mut R) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_digit() {
            out.push(char::from(b'0' + rng.random_range(0..10u8)));
        } else {
            out.push(c);
        }
    }
    if corpus().test_keys.contains(&split_key(&out)) {
        text.to_owned()
    } else {
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Word pools.

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "James", "Kofi",
    "Laura", "Marco", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sam", "Tara", "Umar", "Vera",
    "Wei", "Xena", "Yusuf", "Zoe", "Lucas", "Mia", "Noah", "Sofia", "Ahmed", "Chloe", "Diego",
    "Hannah", "Ivan", "Julia", "Kenji", "Leila", "Mateo", "Olivia",
];

pub(crate) const CITIES: &[&str] = &[
    "Lisbon",
    "Madrid",
    "Paris",
    "Berlin",
    "Rome",
    "Athens",
    "Dublin",
    "Amsterdam",
    "Vienna",
    "Prague",
    "Warsaw",
    "Oslo",
    "Stockholm",
    "Copenhagen",
    "Helsinki",
    "Istanbul",
    "Dubai",
    "Cairo",
    "Nairobi",
    "Lagos",
    "Mumbai",
    "Delhi",
    "Singapore",
    "Bangkok",
    "Tokyo",
    "Seoul",
    "Sydney",
    "New York",
    "Toronto",
    "Mexico City",
    "Sao Paulo",
    "Bogota",
];

const PRODUCTS: &[&str] = &[
    "winter coats",
    "running shoes",
    "wireless earbuds",
    "kitchen knives",
    "scented candles",
    "denim jackets",
    "yoga mats",
    "coffee beans",
    "leather bags",
    "desk lamps",
    "board games",
    "skincare sets",
    "wool scarves",
    "smart watches",
    "garden tools",
    "kids' pyjamas",
    "phone cases",
    "bed linen",
    "sunglasses",
    "protein bars",
    "ceramic mugs",
    "rain boots",
    "headphones",
    "picture frames",
];

const MERCHANTS: &[&str] = &[
    "FreshMart",
    "City Fuel",
    "Corner Cafe",
    "MetroRail",
    "BookNook",
    "PharmaPlus",
    "QuickTaxi",
    "Cinema 8",
    "HomeHub",
    "Green Grocer",
    "StreamBox",
    "Urban Gym",
    "Petals Florist",
    "Parking Zone 4",
    "TechPoint",
];

const HEADLINES: &[&str] = &[
    "rates hold steady as markets wait for the central bank",
    "the best walking trails within an hour of the city",
    "five recipes for rainy evenings",
    "what the new transit timetable means for you",
    "local team wins in extra time",
    "how to cut your energy bill this winter",
    "a first look at the new library",
    "weekend weather: sun on Saturday, showers Sunday",
    "the small shops reviving the old market",
    "our guide to this month's concerts",
    "ten minutes with the city's oldest baker",
    "school holiday dates confirmed",
    "why house prices cooled in October",
    "the apps worth keeping on your phone",
    "road works on the ring road start Monday",
    "review: the season's most talked-about film",
];

pub(crate) const BRAND_WORDS: &[&str] = &[
    "North", "Blue", "Sky", "Green", "Urban", "Sun", "Silver", "Maple", "River", "Stone", "Bright",
    "Harbor", "Oak", "Cedar", "Summit", "Coral", "Willow", "Golden", "Crescent", "Pine", "Nova",
    "Aurora", "Vista", "Atlas", "Meridian", "Lumen", "Terra", "Velvet", "Copper", "Ember", "Frost",
    "Lark", "Orchid", "Pebble", "Quill", "Saffron", "Tidal", "Vale", "Wren", "Zephyr",
];

pub(crate) const SCAM_WORDS: &[&str] = &[
    "claim", "prize", "reward", "bonus", "secure", "verify", "account", "parcel", "delivery",
    "refund", "wallet", "crypto", "lucky", "winner", "gift", "promo", "deal", "cash", "loan",
    "fast", "track", "update", "support", "alert",
];

pub(crate) const SCAM_TLDS: &[&str] = &["top", "xyz", "click", "live", "shop", "info", "online"];
pub(crate) const LEGIT_TLDS: &[&str] = &["com", "com", "example", "example", "co", "shop", "store"];
const CARRIERS: &[&str] = &[
    "DHL",
    "UPS",
    "Royal Mail",
    "USPS",
    "Evri",
    "FedEx",
    "PostNL",
];
const COINS: &[&str] = &["Bitcoin", "USDT", "Ethereum", "crypto"];

/// Famous brands phishers impersonate (besides the world's own banks and shops).
pub(crate) const PHISH_TARGETS: &[(&str, &[&str])] = &[
    (
        "PayPal",
        &["paypa1-secure.com", "paypal-account-verify.net"],
    ),
    (
        "Amazon",
        &["amaz0n-verify.net", "amazon-account-security.info"],
    ),
    (
        "Netflix",
        &["netf1ix-billing.com", "netflix-payment-update.net"],
    ),
    (
        "Apple ID",
        &["apple-id-unlock.com", "appleid-verify.support"],
    ),
    ("DHL", &["dhl-parcel-fee.com", "dhl-redelivery.info"]),
    (
        "Microsoft",
        &["micros0ft-login.com", "office365-verify.net"],
    ),
];

// ---------------------------------------------------------------------------------------------
// Template pools. Each is a list of patterns; see `render` for the fields.

pub(crate) const AIR_CHECKIN: &[&str] = &[
    "{brand}: check-in is now open for flight {flight} to {city}, departing {date} at {time}. Check in at {link}",
    "Hi {name}, your flight {flight} to {city} leaves tomorrow at {time}. Check in now and choose your seat: {link}",
];
pub(crate) const AIR_BOARDING: &[&str] = &[
    "Your boarding pass for {flight} to {city} is ready. Boarding starts at {time}, seat {seat}. {link}",
    "{brand}: {name}, don't forget your flight {flight} to {city} today. Bag drop closes 45 minutes before {time}.",
];
pub(crate) const AIR_GATE: &[&str] = &[
    "Flight {flight} to {city}: boarding from gate {gate} at {time}.",
    "{brand} update: gate change for {flight}. Your new gate is {gate}, boarding {time}.",
];
pub(crate) const AIR_DELAY: &[&str] = &[
    "We're sorry, flight {flight} to {city} is delayed. New departure time {time}. Rebooking options: {link}",
    "{brand}: flight {flight} to {city} now departs at {time}. We apologise for the delay. Meal vouchers at the desk near gate {gate}.",
];
pub(crate) const AIR_PROMO: &[&str] = &[
    "{brand} winter sale: fly to {city} from {fare}. Book by Sunday at {link} Reply STOP to opt out.",
    "{name}, your miles are waiting: weekend trips to {city} from {fare} return. {link} Reply STOP to opt out",
];
pub(crate) const BANK_CODE: &[&str] = &[
    "Your {brand} code is {code}. Do not share it with anyone. {brand} will never ask for it.",
    "{code} is your {brand} verification code. It expires in 10 minutes.",
    "Use {code} to confirm your login to {brand} Online Banking. If this wasn't you, call us.",
];
pub(crate) const BANK_ALERT: &[&str] = &[
    "{brand}: a payment of {amount} to {merchant} was made with your card ending {last4}. Not you? Call the number on the back of your card.",
    "{brand}: your transfer of {amount} to {name} has been sent.",
    "Your {brand} statement is ready. Log in to the app to view it.",
    "{brand}: your salary of {amount} has arrived. Balance details in the app.",
];
pub(crate) const BANK_PROMO: &[&str] = &[
    "{brand}: get 2% cashback on groceries this month with your debit card. Details in the app. Reply STOP to opt out.",
    "Saving for the holidays? {brand} Easy Saver now pays 3.1% a year. {link} Reply STOP to opt out",
];
pub(crate) const RETAIL_PROMO: &[&str] = &[
    "{brand}: {pct}% off everything this weekend! Shop now: {link} Reply STOP to opt out",
    "Hi {name}, new arrivals just landed at {brand}. Take {pct}% off your next order with code {promo}. {link} Reply STOP to opt out.",
    "Flash sale at {brand}: today only, {pct}% off {product}. {link} Reply STOP to opt out",
    "WIN a {prize} gift card! Every {brand} order this week enters the draw. T&Cs: {link} Reply STOP to opt out",
    "Free delivery on all {brand} orders over {fare} until Sunday. {link} Reply STOP to opt out",
    "Last chance! The {brand} sale ends at midnight. Up to {pct}% off {product}: {link} Reply STOP to opt out",
];
pub(crate) const RETAIL_CART: &[&str] = &[
    "{name}, your favourites are back in stock at {brand}: {product}. Grab them before they go: {link} Reply STOP to opt out",
    "Still thinking it over? The {product} in your {brand} basket are waiting. {link} Reply STOP to opt out",
];
pub(crate) const ORDER_NEW: &[&str] = &[
    "{brand}: thanks for your order {order}! We'll let you know when it ships. {link}",
    "Hi {name}, we've received your {brand} order {order} ({amount}). Details: {link}",
];
pub(crate) const ORDER_SHIPPED: &[&str] = &[
    "Good news {name}, your {brand} order {order} has shipped. Track it: {link}",
    "{brand}: your order {order} will be delivered today between {time} and {time2}.",
    "Your {brand} parcel {order} is out for delivery. Track: {link}",
];
pub(crate) const DIGEST: &[&str] = &[
    "{brand} morning brief: {headline}. Read more: {link} Reply STOP to unsubscribe",
    "This week in {brand}: {headline}, plus {headline2}. {link} Reply STOP to unsubscribe",
    "{brand}: {headline}. Also today: {headline2}. {link} (STOP to unsubscribe)",
];
pub(crate) const PUSHY_PROMO: &[&str] = &[
    "HUGE SALE!!! {pct}% OFF EVERYTHING at {brand} - TODAY ONLY! Don't miss out: {link} Reply STOP to opt out",
    "{name}, you left something behind! Complete your order now and get {pct}% off: {link} Reply STOP to opt out",
    "Only {hours} hours left!! {brand} mega deals end tonight: {link} Reply STOP to opt out",
    "Your exclusive {brand} coupon {promo} expires TODAY. Use it now: {link} STOP to end",
    "{brand} DEAL OF THE DAY: {product} at {pct}% off. Limited stock! {link} Reply STOP to opt out",
];
pub(crate) const SALE_PROMO: &[&str] = &[
    "The {brand} BIG SALE starts NOW: up to {pct}% off {product}! {link} Reply STOP to opt out",
    "Halfway there! {brand} sale: {pct}% off continues until midnight. {link} Reply STOP to opt out",
    "Final hours: the {brand} sale ends at midnight. Don't miss {pct}% off {product}. {link} Reply STOP to opt out",
];
pub(crate) const SHOP_ORDER: &[&str] = &[
    "Hi {name}! Thanks for shopping at {brand}. Your order {order} is being packed and ships tomorrow.",
    "{brand}: your order {order} is on its way! Tracking: {link}",
    "Hi {name}, your {brand} order {order} is ready for pickup. We're open until 6pm.",
];
pub(crate) const SHOP_PROMO: &[&str] = &[
    "New this week at {brand}: handmade {product}. 10% off for our first customers with code {promo}. {link} Reply STOP to opt out",
    "{brand} is open this Saturday 10-4! Come say hi and see our new {product}. Reply STOP to opt out",
    "Thanks for being one of our first customers, {name}! Here's {pct}% off your next {brand} order: {promo}. Reply STOP to opt out",
];
pub(crate) const SCAM: &[&str] = &[
    "Congratulations! Your {coin} wallet has received a bonus of {prize}. Withdraw now before it expires: {slink}",
    "Make {prize} a week from home with our AI trading bot. 93% win rate, no experience needed. Join: {slink}",
    "You have been selected as our lucky winner of a {prize} gift card! Claim within 24 hours: {slink}",
    "Pre-approved: borrow up to {prize} today, no credit check, money in your account in 1 hour. Apply: {slink}",
    "{carrier}: your parcel {track} is on hold due to an unpaid shipping fee of {fee}. Pay now to avoid return: {slink}",
    "Your package could not be delivered. Reschedule delivery and pay {fee} at {slink}",
    "Hi, I'm {name} from a recruiting agency. Part-time remote job, earn {prize} a week, 30 min a day. Details: {slink}",
    "Tax refund notice: you are eligible for a refund of {amount}. Submit your details: {slink}",
    "FINAL NOTICE: your {prize} reward points expire today. Redeem now at {slink}",
    "{name}, you've won a brand new iPhone! Just pay {fee} delivery to claim: {slink}",
];
pub(crate) const PHISH: &[&str] = &[
    "{target} security alert: your account has been locked due to unusual activity. Verify your identity at {plink} within 24 hours.",
    "Your {target} account is locked. To restore access, confirm your details at {plink}",
    "{target}: we could not process your payment. Update your billing information at {plink} to avoid suspension.",
    "{target}: a new device signed in to your account. If this wasn't you, secure your account now: {plink}",
    "Unusual sign-in attempt on your {target} account from {city}. Review now: {plink}",
    "{target}: your card has been suspended. Reactivate it here: {plink}",
];
pub(crate) const PHISH_CODE: &[&str] = &[
    "Your {target} verification code is {code}. If you did not request this, cancel the request at {plink}",
    "{target}: {code} is your one-time passcode. Someone tried to log in; if this wasn't you, lock your account at {plink}",
];
pub(crate) const PHISH_REFUND: &[&str] = &[
    "{target} refund: you are owed {amount}. Claim it at {plink} before {date}.",
    "{target}: your parcel fee of {fee} is unpaid. Pay at {plink} to release your delivery.",
];
pub(crate) const SERVICE_REPLY: &[&str] = &[
    "Thanks for your message, {name}! One of our team will get back to you shortly.",
    "Hi {name}, happy to help. Could you send us your order number?",
    "Your order {order} is scheduled for delivery on {date}. Anything else we can help with?",
    "Thanks, that's sorted for you. Have a great day!",
    "Sorry about that, {name}. We've passed this on and will update you within 24 hours.",
    "You can manage your preferences any time at {link}. Anything else?",
];
pub(crate) const SERVICE_AIR: &[&str] = &[
    "Your seat has been changed to {seat}. Have a great flight!",
    "We've added a checked bag to your booking on {flight}. The receipt is in your email.",
    "Thanks for getting in touch. Your booking reference is valid; see you at the airport!",
];
pub(crate) const SERVICE_BANK: &[&str] = &[
    "For your security we can't discuss account details here. Please call us on the number on your card.",
    "Thanks, we've frozen the card ending {last4}. A replacement is on its way.",
    "Happy to help. You can see all recent payments in the app under Activity.",
];

// ---------------------------------------------------------------------------------------------
// Rendering.

/// Everything a template may refer to besides the random draws.
pub(crate) struct Fields<'a> {
    /// The sender's display brand.
    pub brand: &'a str,
    /// The sender's own web domain (legitimate links).
    pub domain: &'a str,
    /// Currency sign.
    pub currency: &'a str,
    /// Two-letter airline code.
    pub airline: &'a str,
    /// Share of legitimate links that go through a shortener.
    pub short_share: f64,
    /// Scam domains (for `{slink}`).
    pub scam_domains: &'a [String],
    /// Brand a phisher impersonates.
    pub target: &'a str,
    /// Phishing link bases (for `{plink}`).
    pub phish_links: &'a [String],
    /// Per-message data: flight number or order number.
    pub a: u32,
    /// Per-message data: a time (departure, delivery).
    pub b: Timestamp,
    /// The recipient's index, for a stable first name.
    pub recipient: u32,
}

/// Appends `pattern` with its fields filled in to `out`.
pub(crate) fn render<R: Rng>(pattern: &str, f: &Fields<'_>, rng: &mut R, out: &mut String) {
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return;
        };
        field(&after[..close], f, rng, out);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
}

fn pick<'a, R: Rng>(rng: &mut R, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

fn alnum<R: Rng>(rng: &mut R, n: usize, out: &mut String) {
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    for _ in 0..n {
        out.push(char::from(CHARS[rng.random_range(0..CHARS.len())]));
    }
}

fn clock(ts: Timestamp, out: &mut String) {
    let mins = (ts.since_epoch() / MINUTE) % (24 * 60);
    let _ = write!(out, "{:02}:{:02}", mins / 60, mins % 60);
}

fn date(ts: Timestamp, out: &mut String) {
    let (_, m, d) = civil(ts);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let _ = write!(out, "{} {}", MONTHS[(m - 1) as usize], d);
}

/// Year, month, day of a UTC timestamp (the days-from-civil algorithm, inverted).
pub(crate) fn civil(ts: Timestamp) -> (i64, u32, u32) {
    let z = (ts.since_epoch() / DAY) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn money(cents: u64, currency: &str, out: &mut String) {
    out.push_str(currency);
    if cents.is_multiple_of(100) {
        let _ = write!(out, "{}", cents / 100);
    } else {
        let _ = write!(out, "{}.{:02}", cents / 100, cents % 100);
    }
}

/// A legitimate link: the business's own domain, now and then through a shortener.
pub(crate) fn legit_link<R: Rng>(f: &Fields<'_>, rng: &mut R, out: &mut String) {
    if rng.random_bool(f.short_share) {
        out.push_str("https://bit.ly/");
        alnum(rng, 7, out);
        return;
    }
    out.push_str("https://");
    out.push_str(f.domain);
    out.push('/');
    out.push_str(pick(rng, &["s", "p", "o", "deals", "trip", "c", "app"]));
    out.push('/');
    alnum(rng, 6, out);
}

fn field<R: Rng>(name: &str, f: &Fields<'_>, rng: &mut R, out: &mut String) {
    match name {
        "brand" => out.push_str(f.brand),
        "link" => legit_link(f, rng, out),
        "name" => out.push_str(FIRST_NAMES[(f.recipient as usize * 7 + 3) % FIRST_NAMES.len()]),
        "code" => {
            let _ = write!(out, "{:06}", rng.random_range(0..1_000_000u32));
        }
        "amount" => money(rng.random_range(320..95_000u64), f.currency, out),
        "fare" => money(rng.random_range(2..20u64) * 1000 - 100, f.currency, out),
        "prize" => money(rng.random_range(1..50u64) * 10_000, f.currency, out),
        "fee" => money(rng.random_range(99..399u64), f.currency, out),
        "pct" => {
            let _ = write!(
                out,
                "{}",
                pick(rng, &["10", "15", "20", "25", "30", "40", "50", "60", "70"])
            );
        }
        "product" => out.push_str(pick(rng, PRODUCTS)),
        "promo" => {
            out.push_str(pick(
                rng,
                &["SAVE", "WINTER", "HELLO", "VIP", "EXTRA", "THANKS"],
            ));
            let _ = write!(out, "{}", rng.random_range(10..99u32));
        }
        "order" => {
            let _ = write!(out, "#{}", 100_000 + f.a % 900_000);
        }
        "flight" => {
            let _ = write!(out, "{} {}", f.airline, 100 + f.a % 9_000);
        }
        "city" => out.push_str(CITIES[(f.a as usize / 9_000) % CITIES.len()]),
        "time" => clock(f.b, out),
        "time2" => clock(f.b + 2 * HOUR, out),
        "date" => date(f.b, out),
        "gate" => {
            let _ = write!(
                out,
                "{}{}",
                pick(rng, &["A", "B", "C", "D", "E"]),
                rng.random_range(1..40u32)
            );
        }
        "seat" => {
            let _ = write!(
                out,
                "{}{}",
                rng.random_range(2..40u32),
                pick(rng, &["A", "B", "C", "D", "E", "F"])
            );
        }
        "last4" => {
            let _ = write!(
                out,
                "{:04}",
                (f.recipient.wrapping_mul(2_654_435_761)) % 10_000
            );
        }
        "merchant" => out.push_str(pick(rng, MERCHANTS)),
        "headline" => out.push_str(pick(rng, &HEADLINES[..8])),
        "headline2" => out.push_str(pick(rng, &HEADLINES[8..])),
        "hours" => {
            let _ = write!(out, "{}", rng.random_range(2..7u32));
        }
        "coin" => out.push_str(pick(rng, COINS)),
        "carrier" => out.push_str(pick(rng, CARRIERS)),
        "track" => {
            out.push_str(pick(rng, &["JD", "RM", "1Z", "LX"]));
            let _ = write!(out, "{:09}", rng.random_range(0..1_000_000_000u32));
        }
        "target" => out.push_str(f.target),
        "slink" => scam_link(f, rng, out),
        "plink" => {
            if f.phish_links.is_empty() {
                scam_link(f, rng, out);
            } else {
                out.push_str(&f.phish_links[rng.random_range(0..f.phish_links.len())]);
                out.push('/');
                alnum(rng, 5, out);
            }
        }
        other => {
            out.push('{');
            out.push_str(other);
            out.push('}');
        }
    }
}

fn scam_link<R: Rng>(f: &Fields<'_>, rng: &mut R, out: &mut String) {
    if f.scam_domains.is_empty() || rng.random_bool(0.25) {
        out.push_str(pick(
            rng,
            &["https://bit.ly/", "https://tinyurl.com/", "http://t.ly/"],
        ));
        alnum(rng, 7, out);
        return;
    }
    let d = &f.scam_domains[rng.random_range(0..f.scam_domains.len())];
    out.push_str(if rng.random_bool(0.7) {
        "https://"
    } else {
        "http://"
    });
    out.push_str(d);
    out.push('/');
    alnum(rng, 5, out);
}

/// A made-up domain for an abuser: `claim-prize42.top`.
pub(crate) fn scam_domain<R: Rng>(rng: &mut R) -> String {
    let mut d = String::new();
    d.push_str(pick(rng, SCAM_WORDS));
    d.push('-');
    d.push_str(pick(rng, SCAM_WORDS));
    let _ = write!(
        d,
        "{}.{}",
        rng.random_range(1..999u32),
        pick(rng, SCAM_TLDS)
    );
    d
}

/// A lowercase slug of a brand name: `Blue Harbor Air` → `blueharbor`.
pub(crate) fn slug(brand: &str, words: usize) -> String {
    brand
        .split_whitespace()
        .take(words)
        .flat_map(|w| w.chars())
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Digit-for-letter lookalike of a slug: `northbank` → `n0rthbank`.
pub(crate) fn lookalike<R: Rng>(slug: &str, rng: &mut R) -> String {
    let swaps = [
        ('o', '0'),
        ('l', '1'),
        ('i', '1'),
        ('e', '3'),
        ('a', '4'),
        ('s', '5'),
    ];
    let candidates: Vec<usize> = slug
        .char_indices()
        .filter(|(_, c)| swaps.iter().any(|(a, _)| a == c))
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        return format!("{slug}-secure");
    }
    let at = candidates[rng.random_range(0..candidates.len())];
    slug.char_indices()
        .map(|(i, c)| {
            if i == at {
                swaps.iter().find(|(a, _)| *a == c).map_or(c, |(_, b)| *b)
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn fields() -> Fields<'static> {
        Fields {
            brand: "Blue Harbor",
            domain: "blueharbor.example",
            currency: "€",
            airline: "BH",
            short_share: 0.0,
            scam_domains: &[],
            target: "PayPal",
            phish_links: &[],
            a: 4321,
            b: Timestamp::from_millis(1_793_577_600_000) + 13 * HOUR + 5 * MINUTE,
            recipient: 7,
        }
    }

    #[test]
    fn renders_fields() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut s = String::new();
        render(AIR_CHECKIN[0], &fields(), &mut rng, &mut s);
        assert!(
            s.starts_with("Blue Harbor: check-in is now open for flight BH 4421 to "),
            "{s}"
        );
        assert!(s.contains("Nov 2 at 13:05"), "{s}");
        assert!(s.contains("https://blueharbor.example/"), "{s}");
        assert!(!s.contains('{'), "{s}");
    }

    #[test]
    fn every_pattern_renders_completely() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let pools: &[&[&str]] = &[
            AIR_CHECKIN,
            AIR_BOARDING,
            AIR_GATE,
            AIR_DELAY,
            AIR_PROMO,
            BANK_CODE,
            BANK_ALERT,
            BANK_PROMO,
            RETAIL_PROMO,
            RETAIL_CART,
            ORDER_NEW,
            ORDER_SHIPPED,
            DIGEST,
            PUSHY_PROMO,
            SALE_PROMO,
            SHOP_ORDER,
            SHOP_PROMO,
            SCAM,
            PHISH,
            PHISH_CODE,
            PHISH_REFUND,
            SERVICE_REPLY,
            SERVICE_AIR,
            SERVICE_BANK,
        ];
        for pool in pools {
            for p in *pool {
                let mut s = String::new();
                render(p, &fields(), &mut rng, &mut s);
                assert!(!s.contains('{') && !s.contains('}'), "{p} -> {s}");
            }
        }
    }

    #[test]
    fn corpus_is_train_side_only() {
        let c = corpus();
        assert!(c.spam.len() > 300, "{}", c.spam.len());
        assert!(c.ham.len() > 2_000, "{}", c.ham.len());
        for t in c.spam.iter().chain(&c.ham) {
            assert_eq!(split_of(t), Split::Train);
        }
    }

    #[test]
    fn lookalikes_and_slugs() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        assert_eq!(slug("Blue Harbor Air", 2), "blueharbor");
        let l = lookalike("northbank", &mut rng);
        assert_ne!(l, "northbank");
        assert_eq!(l.len(), "northbank".len());
        assert_eq!(
            civil(Timestamp::from_millis(1_793_577_600_000)),
            (2026, 11, 2)
        );
    }
}
