//! RFC 9112 §6 framing and request-smuggling cases, as data: each names its RFC
//! section and the attack it stops, the framing chosen or the error raised, and
//! the body read. Every case also runs three ways through the full connection.

mod support;

use lithe::proto::{BodyLength, Config, Connection, Error};
use support::{bodies, client_after, client_events, error_of, framing_of, server_events};

use BodyLength::*;

/// What a case expects: the framing and the body, or an error.
#[derive(Debug)]
enum Outcome {
    Body(BodyLength, &'static [u8]),
    Reject(Error),
}
use Outcome::*;

struct Case {
    name: &'static str,
    rfc: &'static str,
    input: &'static [u8],
    outcome: Outcome,
}

macro_rules! cases {
    ($($name:literal, $rfc:literal, $input:expr => $outcome:expr;)*) => {
        &[$(Case { name: $name, rfc: $rfc, input: $input, outcome: $outcome }),*]
    };
}

const REQUESTS: &[Case] = cases! {
    "no CL, no TE: no body", "RFC 9112 §6.3 rule 7",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" => Body(Empty, b"");
    "Content-Length", "RFC 9112 §6.3 rule 6",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" => Body(Length(3), b"abc");
    "Content-Length: 0", "RFC 9112 §6.3 rule 6",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n" => Body(Empty, b"");
    "chunked", "RFC 9112 §6.3 rule 4",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" => Body(Chunked, b"abc");
    "chunked, any case", "RFC 9112 §7 (codings are case-insensitive)",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n0\r\n\r\n" => Body(Chunked, b"");
    "identical Content-Length repeated", "RFC 9112 §6.3 rule 5 (list of same values)",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc" => Body(Length(3), b"abc");
    "identical Content-Length list", "RFC 9112 §6.3 rule 5 (list of same values)",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc" => Body(Length(3), b"abc");
    "CL.TE smuggling: both headers", "RFC 9112 §6.1 / §6.3 rule 3",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" => Reject(Error::ContentLengthWithTransferEncoding);
    "TE.CL smuggling: both headers, TE first", "RFC 9112 §6.1 / §6.3 rule 3",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" => Reject(Error::ContentLengthWithTransferEncoding);
    "differing Content-Length fields", "RFC 9112 §6.3 rule 5",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd" => Reject(Error::ConflictingContentLength);
    "differing Content-Length list", "RFC 9112 §6.3 rule 5",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\nabcd" => Reject(Error::ConflictingContentLength);
    "Content-Length with plus sign", "RFC 9110 §8.6 (1*DIGIT)",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc" => Reject(Error::InvalidContentLength);
    "Content-Length negative", "RFC 9110 §8.6 (1*DIGIT)",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n" => Reject(Error::InvalidContentLength);
    "Content-Length with inner space", "RFC 9110 §8.6 (1*DIGIT)",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n" => Reject(Error::InvalidContentLength);
    "Content-Length hex", "RFC 9110 §8.6 (1*DIGIT)",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n" => Reject(Error::InvalidContentLength);
    "Content-Length empty", "RFC 9110 §8.6 (1*DIGIT)",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n" => Reject(Error::InvalidContentLength);
    "Content-Length overflow", "RFC 9110 §8.6 (overflow)",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n" => Reject(Error::InvalidContentLength);
    "Content-Length too many digits", "RFC 9110 §8.6 (bounded digits)",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 00000000000000000000003\r\n\r\nabc" => Reject(Error::InvalidContentLength);
    "TE.TE obfuscation: xchunked", "RFC 9112 §6.3 rule 4",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n" => Reject(Error::ChunkedNotFinal);
    "TE.TE obfuscation: chunked then identity", "RFC 9112 §6.3 rule 4",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n" => Reject(Error::ChunkedNotFinal);
    "TE.TE obfuscation: chunked twice", "RFC 9112 §7 (MUST NOT apply chunked twice)",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" => Reject(Error::ChunkedNotFinal);
    "TE.TE obfuscation: quoted", "RFC 9112 §6.1 (token)",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n" => Reject(Error::InvalidTransferEncoding);
    "TE.TE obfuscation: space before colon", "RFC 9112 §5.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n" => Reject(Error::InvalidHeaderName);
    "TE.TE obfuscation: folded value", "RFC 9112 §5.2",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" => Reject(Error::ObsoleteLineFolding);
    "TE with leading whitespace is still chunked", "RFC 9110 §5.5 (OWS is not part of the value)",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  chunked\r\n\r\n0\r\n\r\n" => Body(Chunked, b"");
    "empty Transfer-Encoding", "RFC 9112 §6.1 (1#transfer-coding)",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n" => Reject(Error::InvalidTransferEncoding);
    "gzip, chunked is not decoded", "RFC 9112 §6.1 (501 for unimplemented codings)",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" => Reject(Error::UnsupportedTransferCoding);
    "TE in HTTP/1.0", "RFC 9112 §6.1 (HTTP/1.0 framing is faulty with TE)",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" => Reject(Error::TransferEncodingInHttp10);
    "chunk size overflow", "RFC 9112 §7.1 (chunk-size overflow)",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n" => Reject(Error::ChunkSizeTooLarge);
    "chunk size with sign", "RFC 9112 §7.1 (1*HEXDIG)",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n" => Reject(Error::InvalidChunkSize);
    "chunk size 0x prefix", "RFC 9112 §7.1 (1*HEXDIG)",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n" => Reject(Error::InvalidChunkSize);
    "empty chunk size", "RFC 9112 §7.1 (1*HEXDIG)",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n" => Reject(Error::InvalidChunkSize);
    "chunk data longer than its size", "RFC 9112 §7.1 (CRLF after chunk-data)",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n" => Reject(Error::MissingChunkDataCrlf);
    "chunk line ended by bare LF", "RFC 9112 §7.1 / §2.2",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n" => Reject(Error::BareLineFeed);
    "chunk data ended by bare LF", "RFC 9112 §7.1 / §2.2",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n" => Reject(Error::MissingChunkDataCrlf);
    "control byte in chunk extension", "RFC 9112 §7.1.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\x01\r\nabc\r\n0\r\n\r\n" => Reject(Error::InvalidChunkExtension);
    "trailing whitespace after chunk size", "RFC 9112 §7.1.1 (BWS only before ';')",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n" => Reject(Error::InvalidChunkSize);
    "trailer with obs-fold", "RFC 9112 §7.1.2 / §5.2",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\r\n c\r\n\r\n" => Reject(Error::ObsoleteLineFolding);
    "trailer with bad name", "RFC 9112 §7.1.2",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA b: c\r\n\r\n" => Reject(Error::InvalidTrailer);
};

#[test]
fn request_framing_table() {
    for case in REQUESTS {
        let ev = server_events(Config::default(), case.input);
        let framing = framing_of(Connection::server(Config::default()), case.input);
        match case.outcome {
            Body(expected_length, expected_body) => {
                assert_eq!(error_of(&ev), None, "{} ({})", case.name, case.rfc);
                assert_eq!(framing, Ok(expected_length), "{} ({})", case.name, case.rfc);
                assert_eq!(
                    bodies(&ev),
                    vec![expected_body.to_vec()],
                    "{} ({})",
                    case.name,
                    case.rfc
                );
            }
            Reject(expected) => {
                assert_eq!(
                    error_of(&ev),
                    Some(expected),
                    "{} ({})",
                    case.name,
                    case.rfc
                );
            }
        }
    }
}

/// Responses: (request method, case).
const RESPONSES: &[(&str, Case)] = &[
    ("GET", Case { name: "no CL, no TE: read until close", rfc: "RFC 9112 §6.3 rule 8",
        input: b"HTTP/1.1 200 OK\r\n\r\nuntil the end", outcome: Body(UntilClose, b"until the end") }),
    ("GET", Case { name: "Content-Length", rfc: "RFC 9112 §6.3 rule 6",
        input: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", outcome: Body(Length(2), b"ok") }),
    ("HEAD", Case { name: "HEAD response has no body despite Content-Length", rfc: "RFC 9112 §6.3 rule 1",
        input: b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", outcome: Body(Empty, b"") }),
    ("GET", Case { name: "204 has no body", rfc: "RFC 9112 §6.3 rule 1",
        input: b"HTTP/1.1 204 No Content\r\nContent-Length: 20\r\n\r\n", outcome: Body(Empty, b"") }),
    ("GET", Case { name: "304 has no body", rfc: "RFC 9112 §6.3 rule 1",
        input: b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", outcome: Body(Empty, b"") }),
    ("GET", Case { name: "TE not ending in chunked: read until close", rfc: "RFC 9112 §6.3 rule 4",
        input: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz", outcome: Body(UntilClose, b"zzz") }),
    ("GET", Case { name: "TE and CL: TE wins", rfc: "RFC 9112 §6.3 rule 3",
        input: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n2\r\nok\r\n0\r\n\r\n", outcome: Body(Chunked, b"ok") }),
    ("GET", Case { name: "TE in HTTP/1.0 response", rfc: "RFC 9112 §6.1",
        input: b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", outcome: Reject(Error::TransferEncodingInHttp10) }),
    ("GET", Case { name: "differing Content-Length", rfc: "RFC 9112 §6.3 rule 5",
        input: b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", outcome: Reject(Error::ConflictingContentLength) }),
    ("GET", Case { name: "response splitting: obs-fold", rfc: "RFC 9112 §5.2",
        input: b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", outcome: Reject(Error::ObsoleteLineFolding) }),
    ("GET", Case { name: "space before colon", rfc: "RFC 9112 §5.1",
        input: b"HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", outcome: Reject(Error::InvalidHeaderName) }),
    ("GET", Case { name: "HTTP/2 status line", rfc: "RFC 9112 §2.3",
        input: b"HTTP/2.0 200 OK\r\n\r\n", outcome: Reject(Error::UnsupportedVersion) }),
    ("GET", Case { name: "two-digit status", rfc: "RFC 9112 §4",
        input: b"HTTP/1.1 20 OK\r\n\r\n", outcome: Reject(Error::InvalidStatusLine) }),
];

#[test]
fn response_framing_table() {
    for (method, case) in RESPONSES {
        let ev = client_events(Config::default(), method, case.input);
        let framing = framing_of(client_after(Config::default(), method), case.input);
        match case.outcome {
            Body(expected_length, expected_body) => {
                assert_eq!(error_of(&ev), None, "{} ({})", case.name, case.rfc);
                assert_eq!(framing, Ok(expected_length), "{} ({})", case.name, case.rfc);
                assert_eq!(
                    bodies(&ev),
                    vec![expected_body.to_vec()],
                    "{} ({})",
                    case.name,
                    case.rfc
                );
            }
            Reject(expected) => {
                assert_eq!(
                    error_of(&ev),
                    Some(expected),
                    "{} ({})",
                    case.name,
                    case.rfc
                );
            }
        }
    }
}

#[test]
fn connect_2xx_becomes_a_tunnel_with_the_rest_handed_back() {
    let ev = client_events(
        Config::default(),
        "CONNECT",
        b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01tls bytes",
    );
    assert!(
        matches!(ev.last(), Some(support::Owned::SwitchedProtocol { rest }) if rest == b"\x16\x03\x01tls bytes")
    );
}

#[test]
fn connect_refused_is_an_ordinary_response() {
    let ev = client_events(
        Config::default(),
        "CONNECT",
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno",
    );
    assert_eq!(bodies(&ev), vec![b"no".to_vec()]);
}

#[test]
fn close_delimited_and_te_cl_responses_end_the_connection() {
    for input in [
        &b"HTTP/1.1 200 OK\r\n\r\nbody"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n0\r\n\r\n",
    ] {
        let mut conn = client_after(Config::default(), "GET");
        support::drive(
            &mut conn,
            input,
            support::Split::Whole,
            true,
            support::no_response,
        );
        assert!(!conn.is_keep_alive());
    }
}
