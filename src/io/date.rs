//! The `Date` field a server puts on its responses (RFC 9110 §6.6.1).
//!
//! The clock is read once per poll of a connection ([`tick`]), as hyper does,
//! not once per response: the responses to a batch of pipelined requests,
//! written in one poll, share one reading. A response whose service had to
//! wait is written in a later poll, which reads the clock again. The text is
//! formatted at most once a second per thread.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The length of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`, the
/// only form a sender may generate; every date in years 1970 to 9999 has it.
pub(crate) const LEN: usize = crate::proto::IMF_FIXDATE_LEN;

/// The first second of year 10000, which an IMF-fixdate cannot write.
const YEAR_10000: u64 = 253_402_300_800;

/// The last reading of the clock on this thread.
#[derive(Clone, Copy)]
enum Reading {
    /// Not read yet on this thread.
    None,
    /// The clock reads before 1970 or past 9999: RFC 9110 §6.6.1 has a server
    /// without a usable clock send no `Date` rather than a wrong one.
    Unusable,
    /// The clock read `second` (since 1970), which is `text`.
    At { second: u64, text: [u8; LEN] },
}

thread_local! {
    static LAST: Cell<Reading> = const { Cell::new(Reading::None) };
}

/// Reads the clock for the responses this thread writes until the next tick.
pub(crate) fn tick() {
    // During thread teardown there is no cache: `now` then reads for itself.
    let _ = LAST.try_with(|last| last.set(read(last.get())));
}

/// The time of this thread's last [`tick`] as an HTTP-date (the clock is read
/// now if it never ticked), or `None` when the clock is unusable.
pub(crate) fn now() -> Option<[u8; LEN]> {
    let reading = LAST
        .try_with(|last| {
            if let Reading::None = last.get() {
                last.set(read(Reading::None));
            }
            last.get()
        })
        .unwrap_or_else(|_| read(Reading::None));
    match reading {
        Reading::At { text, .. } => Some(text),
        Reading::None | Reading::Unusable => None,
    }
}

/// Reads the clock, formatting only if the second differs from `previous`.
fn read(previous: Reading) -> Reading {
    let second = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs());
    reading_at(second.ok(), previous)
}

/// The reading for a clock at `second` since 1970 (`None`: before 1970).
fn reading_at(second: Option<u64>, previous: Reading) -> Reading {
    match (second, previous) {
        (Some(second), Reading::At { second: held, .. }) if second == held => previous,
        (Some(second), _) if second < YEAR_10000 => {
            let time = UNIX_EPOCH + Duration::from_secs(second);
            let mut text = [0; LEN];
            text.copy_from_slice(httpdate::fmt_http_date(time).as_bytes());
            Reading::At { second, text }
        }
        _ => Reading::Unusable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(reading: Reading) -> Option<String> {
        match reading {
            Reading::At { text, .. } => Some(String::from_utf8(text.to_vec()).unwrap()),
            Reading::None | Reading::Unusable => None,
        }
    }

    /// Dates are written from 1970 to the last second of 9999; past it an
    /// IMF-fixdate has no room for the year (httpdate panics on one),
    /// before it the clock is wrong: no Date then.
    #[test]
    fn a_date_is_written_for_the_years_an_imf_fixdate_holds() {
        let last = reading_at(Some(YEAR_10000 - 1), Reading::None);
        assert_eq!(text(last).as_deref(), Some("Fri, 31 Dec 9999 23:59:59 GMT"));
        let first = reading_at(Some(0), Reading::None);
        assert_eq!(
            text(first).as_deref(),
            Some("Thu, 01 Jan 1970 00:00:00 GMT")
        );
        assert!(matches!(
            reading_at(Some(YEAR_10000), last),
            Reading::Unusable
        ));
        assert!(matches!(reading_at(None, last), Reading::Unusable));
    }

    /// Within the second it was read, a reading is kept as it was, not
    /// formatted again (a kept text that differs from the clock's shows
    /// which); the next second is formatted afresh.
    #[test]
    fn a_reading_within_its_second_is_kept() {
        let read = reading_at(Some(784_111_777), Reading::None);
        assert_eq!(text(read).as_deref(), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
        let kept = Reading::At {
            second: 784_111_777,
            text: *b"kept, not formatted again GMT",
        };
        assert_eq!(text(reading_at(Some(784_111_777), kept)), text(kept));
        let next = reading_at(Some(784_111_778), kept);
        assert_eq!(text(next).as_deref(), Some("Sun, 06 Nov 1994 08:49:38 GMT"));
    }
}
