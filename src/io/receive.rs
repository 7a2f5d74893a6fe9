//! What both drivers do with received bytes: parse a head into a header
//! array that grows as it must, and take a body's next piece, both as spans
//! of the read buffer (a head is then split off as one shared buffer).

use super::headers::field_spans;
use crate::proto::{self, Connection, EMPTY_HEADER, Event, Header, Received};

/// Where a piece of a received head lies in the read buffer: offset and length.
/// Heads are parsed in place and then split off the buffer as one
/// [`Bytes`](bytes::Bytes); spans turn the parser's borrowed pieces into shared
/// slices of it.
pub(crate) type Span = (usize, usize);

/// The (name, value) spans of a head's or trailer section's fields. A
/// `ThinVec` (one pointer; its length and capacity live with its elements)
/// rather than a `Vec` (three words): held in every message's headers, it
/// keeps a `Response` within the 128 bytes that a move copies inline, where
/// a larger one is a `memcpy` call, and a message moves several times on its
/// way through a service.
pub(crate) type Spans = thin_vec::ThinVec<(Span, Span)>;

/// The span of `piece`, a sub-slice of `input`.
pub(crate) fn span(input: &[u8], piece: &[u8]) -> Span {
    // An empty piece may be a constant rather than a slice of the input (httparse
    // answers a missing reason phrase, or one in obs-text, with a static "").
    if piece.is_empty() {
        return (0, 0);
    }
    (
        piece.as_ptr() as usize - input.as_ptr() as usize,
        piece.len(),
    )
}

/// The header arrays a head is parsed into, smallest first: most heads have
/// a few fields, and filling an array costs more than parsing a small head.
const SMALL_HEAD: usize = 24;
/// The second, for the heads that overflow the first.
pub(super) const LARGE_HEAD: usize = 128;

/// Parses a head in `input` with `parse`, which returns `None` when the head
/// has more fields than the array it was given: into 24 fields on the stack,
/// then 128, then an array on the heap as long as `limit` or as the most
/// fields `input` can hold (a field line takes at least three bytes, `a:` and
/// LF), whichever is shorter, so a generous configured limit costs only what
/// the head needs. `None` only if even that overflowed.
#[inline(always)]
pub(crate) fn parse_with_growing_fields<'b, T>(
    input: &'b [u8],
    limit: usize,
    mut parse: impl FnMut(&mut [Header<'b>]) -> Option<T>,
) -> Option<T> {
    if let Some(found) = parse(&mut [EMPTY_HEADER; SMALL_HEAD]) {
        return Some(found);
    }
    if let Some(found) = parse(&mut [EMPTY_HEADER; LARGE_HEAD]) {
        return Some(found);
    }
    // Only under a configured limit above the arrays on the stack.
    parse(&mut heap_fields(input, limit))
}

/// A header array on the heap for what `input` holds, at most `limit` long.
fn heap_fields<'b>(input: &[u8], limit: usize) -> Vec<Header<'b>> {
    vec![EMPTY_HEADER; limit.min(input.len() / 3 + 1)]
}

/// What the next bytes of a received body hold, as offsets into the input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyStep {
    /// Body data at `data`; `consumed` bytes are done with.
    Data { consumed: usize, data: Span },
    /// The body ended after `consumed` bytes, with the trailer fields at
    /// `trailers` (name, value spans of the input; empty for none).
    End { consumed: usize, trailers: Spans },
    /// More bytes are needed; `consumed` bytes are done with.
    NeedData { consumed: usize },
    /// No body event: the connection closed, paused or switched protocols.
    Over,
}

/// Receives the next piece of a body from `input`. Few bodies carry trailers:
/// the first try offers no room for them, and only a trailer section with
/// fields is parsed again, into an array on the heap of at most `max_headers`
/// entries.
pub(crate) fn next_body_step(
    conn: &mut Connection,
    input: &[u8],
    max_headers: usize,
) -> Result<BodyStep, proto::Error> {
    let received = conn.receive(input, &mut [])?;
    if received.event != Event::HeadersFull {
        return Ok(body_step(input, 0, received));
    }
    // The framing before the trailers is consumed: offer the rest.
    let before = received.consumed;
    let rest = &input[before..];
    let mut trailers = heap_fields(rest, max_headers);
    let received = conn.receive(rest, &mut trailers)?;
    match received.event {
        // Cannot happen: the array holds every field `rest` can have, or is as
        // long as the limit (and proto refuses past it itself). Answered as
        // that refusal all the same.
        Event::HeadersFull => Err(proto::Error::TooManyHeaders),
        _ => Ok(body_step(input, before, received)),
    }
}

/// [`next_body_step`] taken on a copy of `conn`, and kept (the copy then
/// becoming `conn`) only when `keep` makes something of it: a look at what
/// the bytes already read hold next that takes nothing it does not keep (a
/// step left behind, even part of a chunk line, is taken again later).
pub(crate) fn next_body_step_if<R>(
    conn: &mut Connection,
    input: &[u8],
    max_headers: usize,
    keep: impl FnOnce(BodyStep) -> Option<R>,
) -> Option<R> {
    let mut ahead = conn.clone();
    let kept = keep(next_body_step(&mut ahead, input, max_headers).ok()?)?;
    *conn = ahead;
    Some(kept)
}

/// `received` from `input[before..]`, as offsets into `input`.
fn body_step(input: &[u8], before: usize, received: Received<'_, '_>) -> BodyStep {
    let consumed = before + received.consumed;
    match received.event {
        Event::Data(data) => BodyStep::Data {
            consumed,
            data: span(input, data),
        },
        Event::End { trailers } => BodyStep::End {
            consumed,
            trailers: match trailers.is_empty() {
                true => Spans::new(),
                false => field_spans(input, trailers),
            },
        },
        Event::NeedData => BodyStep::NeedData { consumed },
        _ => BodyStep::Over,
    }
}
