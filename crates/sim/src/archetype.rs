//! The kinds of business the world is made of, and how many of each a world gets.
//!
//! Seven legitimate archetypes and five abusive ones. Parameters are drawn per business from the
//! ranges below (audiences and volumes at `scale = 1`; established businesses and abusers grow
//! with `scale`, new businesses stay inside their 250-recipient tier whatever the scale).
//! "Complaints" are blocks + reports over the unique recipients of the business's messages, as
//! measured on the default world; block/report/opt-out/reply chances apply to read messages.
//!
//! | archetype | share | who | tier at start | audience | sends | categories | read | complaints | other |
//! |---|---|---|---|---|---|---|---|---|---|
//! | `airline` | 2% | legit, established, verified | 10k+ (≥ 3× daily trips) | 15k–80k passengers | 500–2,200 trips a day: check-in 24 h before, boarding pass (70%), gate (60%), delay (10%); a disruption notice to 100–500 passengers on 25% of days; a promo to 2–5% of passengers on 12% of days | utility ~99% | 86–94%, median ~5 min | ≈0.01% | replies 1.5% get 1–2 service answers |
//! | `bank` | 3% | legit, established, verified | 100k, or unlimited (40%) | 20k–120k customers | 400–2,500 login codes a day (8% re-sent within 2 min) + 30% as many card/transfer alerts; a promo on 10% of days | authentication ~75%, utility ~23% | codes 95% (median 15 s), alerts 85% | ≈0.002% | evening-heavy curve, quieter weekends |
//! | `retailer` | 28% | legit, established, 70% verified | 2k+, sized to 35–120% of its list (the tier binds for some) | 300–5,000 opted-in customers | a campaign on 30–50% of days, on the hour (09–12 or 17–19), to 20–60% of the list at 15–60/s; orders (0.4% of the list a day) with shipping notices 12–36 h later; back-in-stock nudges | marketing ~80% | 40–60%, median 30 min | ≈0.05% | "Reply STOP to opt out"; opt-outs ≈0.1% of marketing; some use a shortener |
//! | `newsletter` | 10% | legit, established, 50% verified | ≥ its list | 300–2,500 (daily) or 500–4,000 (weekly) subscribers | a digest to every subscriber at 06–08 daily (40%) or once a week at 09–11 (60%) | marketing | 45–70%, median 1 h | ≈0.05% | |
//! | `seasonal_retailer` | 5% | legit, established, 70% verified | ≥ its list | 1,000–6,000 customers | small campaigns on 50–70% of days (10–25% of the list); one sale day at 5–10× a normal day: blasts at 08:00, 13:00, 19:00 and 3× the orders | marketing ~85% | 45–60% | ≈0.05% | the legitimate burst |
//! | `aggressive_marketer` | 6% | legit, established, 40% verified | 2k+, 60–110% of its list | 1,000–5,000 customers | a campaign on 90% of days (10, 12 or 14 h) and a second on 35% (17, 19 or 20 h), each to 25–50% of the list; abandoned-cart nudges | marketing ~95% | 30–45%, median 40 min | ≈0.13% | opt-outs ≈0.2%; half use shorteners |
//! | `new_shop` | 26% | legit, NEW (no business record) | 250, keeps under 240 | 150–900 customers, gained as it grows | starts on day 1–2; a daily target of 10 × 1.6^day, capped at 150–220: orders plus a small promo on 35% of days | utility ~60%, marketing ~40% | 60–80%, median 15 min | ≈0.05–0.08% | replies 3%; the false-positive trap next to snowshoe |
//! | `cold_list_spammer` | 3% | abusive; 80% new, 20% established (unverified) | 250 or 2k | bought list: random numbers, 15–30% of them non-existent | 1,000–4,000 a day, far beyond its tier, in 2–5 blasts (10% at night) at 10–40/s, from a time in the first half of the period | marketing ~70%, utility ~30% | 30–50% | ≈3% (blocks 3–10%, reports 1–3% of reads) | 20–30% failed deliveries, mostly `invalid_number`; ignores opt-outs |
//! | `phisher` | 4% | abusive, new | 250 | random numbers | 100–500 a day in 3–8 slow bursts (0.5–3/s) between 07 and 22 h | utility (locked account), authentication (fake codes), marketing/utility (refunds) | 55–75% | ≈3% (2–5%), median delay ~2.5 h | lookalike domains (`paypa1-secure.com`), brand subdomains, shorteners, raw IPs; impersonates famous brands or the world's own banks and shops |
//! | `compromised_account` | 2% | abusive, established, verified | 10k+ | 1,500–6,000 customers + random numbers | retailer-like until `abuse_start` (a random time on day 2..days-1), then blasts in about half the hours, night included, at 5–10× its normal volume: 60% to its customers, 40% to random numbers | marketing ~70%, utility ~30% in the burst | 35–50% in the burst | 2–5% in the burst (≈4% overall) | 3–5 new templates, 2–3 new domains |
//! | `snowshoe` | 8% | abusive, NEW, groups of 5–15 | 250, keeps under 240 | random numbers, 2–4% non-existent | 120–230 a day each, only in the group's 5–8 shared hours; members start within 4 h of each other | one per group: marketing (60%) or utility | 35–50% | ≈1% | one text per group, varied per member (digits, link domain) and per message (amounts, codes) |
//! | `recipient_fatigue` | 3% | abusive; 70% established (unverified), 30% new | 2k or 250 | the same 120–400 recipients | a blast in ~55% of the hours 08–22 to 70–100% of them: ~8 a day each | marketing | falls as frequency rises | ≈40%: block/report chances grow with the 24 h count^1.2, opt-outs with the count | ignores opt-outs (4× complaints after one); blocked recipients' deliveries fail `undeliverable` |
//!
//! Common to all: deliveries take a median 2 s (at most 60 s); legitimate senders fail ~1.4%
//! (0.2% of numbers are given up and always fail `invalid_number`; the rest `unreachable`,
//! `expired`, `carrier_rejected`, rarely `invalid_number`); messages read between midnight and
//! 07:00 are mostly read in the morning; complaints come a median 10 min after the read (phishers
//! 2 h); a recipient flooded with marketing by all businesses together complains more to each.

use serde::{Deserialize, Serialize};

/// A kind of business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Archetype {
    /// Flight updates: check-in, boarding, gate changes, delays.
    Airline,
    /// One-time login codes and card alerts.
    Bank,
    /// Marketing campaigns to opted-in customers, order updates.
    Retailer,
    /// A daily or weekly digest to subscribers.
    Newsletter,
    /// A retailer with one legitimate sale-day burst.
    SeasonalRetailer,
    /// Legitimate but pushy marketing: frequent campaigns, more complaints.
    AggressiveMarketer,
    /// A legitimate new business ramping up slowly within its first tier.
    NewShop,
    /// Blasts spam at bought numbers, many of which do not exist.
    ColdListSpammer,
    /// Credential lures behind lookalike links, disguised as utility or authentication.
    Phisher,
    /// A good established account taken over and used for a spam burst.
    CompromisedAccount,
    /// One of a group of fresh small senders sharing one spam text.
    Snowshoe,
    /// Floods the same few hundred recipients many times a day.
    RecipientFatigue,
}

impl Archetype {
    /// Every archetype, legitimate ones first.
    pub const ALL: [Archetype; 12] = [
        Archetype::Airline,
        Archetype::Bank,
        Archetype::Retailer,
        Archetype::Newsletter,
        Archetype::SeasonalRetailer,
        Archetype::AggressiveMarketer,
        Archetype::NewShop,
        Archetype::ColdListSpammer,
        Archetype::Phisher,
        Archetype::CompromisedAccount,
        Archetype::Snowshoe,
        Archetype::RecipientFatigue,
    ];

    /// Whether businesses of this kind are abusive (the ground-truth label).
    pub fn is_abusive(self) -> bool {
        matches!(
            self,
            Archetype::ColdListSpammer
                | Archetype::Phisher
                | Archetype::CompromisedAccount
                | Archetype::Snowshoe
                | Archetype::RecipientFatigue
        )
    }

    /// The snake_case name used in the ground truth.
    pub fn as_str(self) -> &'static str {
        match self {
            Archetype::Airline => "airline",
            Archetype::Bank => "bank",
            Archetype::Retailer => "retailer",
            Archetype::Newsletter => "newsletter",
            Archetype::SeasonalRetailer => "seasonal_retailer",
            Archetype::AggressiveMarketer => "aggressive_marketer",
            Archetype::NewShop => "new_shop",
            Archetype::ColdListSpammer => "cold_list_spammer",
            Archetype::Phisher => "phisher",
            Archetype::CompromisedAccount => "compromised_account",
            Archetype::Snowshoe => "snowshoe",
            Archetype::RecipientFatigue => "recipient_fatigue",
        }
    }

    /// Businesses of this kind in a world of 500 (the default mix): 400 legitimate, 100 abusive.
    pub fn per_500(self) -> usize {
        match self {
            Archetype::Airline => 10,
            Archetype::Bank => 15,
            Archetype::Retailer => 140,
            Archetype::Newsletter => 50,
            Archetype::SeasonalRetailer => 25,
            Archetype::AggressiveMarketer => 30,
            Archetype::NewShop => 130,
            Archetype::ColdListSpammer => 15,
            Archetype::Phisher => 20,
            Archetype::CompromisedAccount => 10,
            Archetype::Snowshoe => 40,
            Archetype::RecipientFatigue => 15,
        }
    }

    /// Fewest of this kind in a world large enough to hold every kind.
    fn minimum(self) -> usize {
        if self == Archetype::Snowshoe { 5 } else { 1 }
    }
}

impl std::fmt::Display for Archetype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A world this size or larger holds every archetype (and a snowshoe group of at least 5).
pub const FULL_WORLD: usize = 16;

/// How many businesses of each archetype (in [`Archetype::ALL`] order) a world of `n` gets:
/// the default proportions by largest remainder, then every archetype topped up to its minimum
/// from the most plentiful ones. Worlds smaller than [`FULL_WORLD`] take one of each in a fixed
/// order of importance.
pub fn mix(n: usize) -> [usize; 12] {
    let mut counts = [0usize; 12];
    if n < FULL_WORLD {
        const ORDER: [Archetype; 12] = [
            Archetype::Retailer,
            Archetype::ColdListSpammer,
            Archetype::NewShop,
            Archetype::Phisher,
            Archetype::Airline,
            Archetype::Snowshoe,
            Archetype::Bank,
            Archetype::CompromisedAccount,
            Archetype::Newsletter,
            Archetype::RecipientFatigue,
            Archetype::AggressiveMarketer,
            Archetype::SeasonalRetailer,
        ];
        for i in 0..n {
            let a = ORDER[i % ORDER.len()];
            counts[Archetype::ALL.iter().position(|&x| x == a).unwrap()] += 1;
        }
        return counts;
    }
    let mut rems: Vec<(usize, usize)> = Vec::with_capacity(12);
    let mut given = 0;
    for (i, a) in Archetype::ALL.iter().enumerate() {
        let exact = a.per_500() * n;
        counts[i] = exact / 500;
        given += counts[i];
        rems.push((exact % 500, i));
    }
    // Largest remainder first; ties go to the earlier archetype.
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in rems.iter().take(n - given) {
        counts[i] += 1;
    }
    while let Some(short) = (0..12).find(|&i| counts[i] < Archetype::ALL[i].minimum()) {
        let donor = (0..12)
            .max_by_key(|&i| {
                (
                    counts[i] - counts[i].min(Archetype::ALL[i].minimum()),
                    12 - i,
                )
            })
            .unwrap();
        counts[donor] -= 1;
        counts[short] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mix_is_eighty_twenty() {
        let m = mix(500);
        assert_eq!(m.iter().sum::<usize>(), 500);
        let abusive: usize = (0..12)
            .filter(|&i| Archetype::ALL[i].is_abusive())
            .map(|i| m[i])
            .sum();
        assert_eq!(abusive, 100);
    }

    #[test]
    fn small_worlds_hold_every_archetype() {
        for n in FULL_WORLD..=60 {
            let m = mix(n);
            assert_eq!(m.iter().sum::<usize>(), n, "{n}");
            for (i, a) in Archetype::ALL.iter().enumerate() {
                assert!(m[i] >= a.minimum(), "{n}: {a} has {}", m[i]);
            }
        }
        for n in 1..FULL_WORLD {
            assert_eq!(mix(n).iter().sum::<usize>(), n);
        }
    }

    #[test]
    fn names_are_snake_case() {
        for a in Archetype::ALL {
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                format!("\"{}\"", a.as_str())
            );
        }
    }
}
