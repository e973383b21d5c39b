//! Ids of messages, recipients and templates (`m-3-1204`, `r-17`, `t-2-5`), written by hand.

fn push_num(s: &mut String, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    s.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
}

/// `prefix` followed by `a`: `r-17`. Written by hand: ids are the bulk of the allocations.
pub(crate) fn id1(prefix: &str, a: u64) -> String {
    let mut s = String::with_capacity(prefix.len() + 10);
    s.push_str(prefix);
    push_num(&mut s, a);
    s
}

/// `prefix` followed by `a-b`: `m-3-1204`.
pub(crate) fn id2(prefix: &str, a: u64, b: u64) -> String {
    let mut s = String::with_capacity(prefix.len() + 16);
    s.push_str(prefix);
    push_num(&mut s, a);
    s.push('-');
    push_num(&mut s, b);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(id1("r-", 0), "r-0");
        assert_eq!(id1("r-", 1_234_567_890_123), "r-1234567890123");
        assert_eq!(id2("m-", 7, 10), "m-7-10");
        assert_eq!(id2("t-", u64::MAX, 1), format!("t-{}-1", u64::MAX));
    }
}
