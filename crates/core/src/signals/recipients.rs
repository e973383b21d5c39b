//! The recipient family, judged per message: marketing to a recipient who opted out, a new
//! recipient past the tier's messaging limit, and a recipient who already got more marketing from
//! everybody than the cap.

use super::{Reading, Readings};
use crate::event::Tier;
use crate::policy::Policy;
use crate::signal::Signal;

/// Marketing to a recipient who opted out of this business and has not replied since.
pub(crate) fn opted_out(marketing: bool, opted_out: bool, out: &mut Readings<'_>) {
    out.push(marketing && opted_out, || {
        Reading::new(Signal::OptedOut, f64::from(u8::from(opted_out)), 1.0, 0, 0)
            .noted((!marketing).then_some("not marketing"))
    });
}

/// Where a message stands against the tier's limit on unique recipients of business-initiated
/// messages in the moving 24 h.
pub(crate) struct TierUse {
    /// The business's tier.
    pub(crate) tier: Tier,
    /// Recipients counted in the moving 24 h.
    pub(crate) used: u64,
    /// Whether this message's recipient is among them.
    pub(crate) counted: bool,
    /// Whether the business starts the conversation (outside a customer-service window).
    pub(crate) business_initiated: bool,
}

/// A new recipient for a business that already reached its tier's limit.
pub(crate) fn tier_limit(u: &TierUse, out: &mut Readings<'_>) {
    let limit = u.tier.limit();
    let fired = u.business_initiated && !u.counted && limit.is_some_and(|l| u.used >= l);
    out.push(fired, || {
        let note = match limit {
            None => Some("unlimited tier"),
            Some(_) if !u.business_initiated => {
                Some("inside the customer-service window: not counted")
            }
            Some(_) if u.counted => Some("recipient already counted in the moving 24 h"),
            Some(_) => None,
        };
        Reading::new(
            Signal::TierLimit24h,
            u.used as f64,
            limit.unwrap_or(0) as f64,
            u.used,
            0,
        )
        .noted(note)
    });
}

/// More marketing to one recipient from all businesses in 24 h than the cap; `received` counts
/// this message.
pub(crate) fn fatigue(policy: &Policy, marketing: bool, received: u64, out: &mut Readings<'_>) {
    let cap = policy.signals.recipient_fatigue_24h.cap;
    out.push(marketing && received > cap, || {
        Reading::new(
            Signal::RecipientFatigue24h,
            received as f64,
            cap as f64,
            received,
            0,
        )
        .noted((!marketing).then_some("not marketing"))
    });
}
