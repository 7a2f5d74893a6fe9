//! `proto` allocates nothing: a counting global allocator watches full exchanges
//! (parsing, chunked decoding, errors, serialization) on this thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use lithe::proto::{
    ChunkedDecoder, Config, Connection, Decoded, EMPTY_HEADER, Event, Header, RequestHead,
    ResponseHead, StatusCode,
};

struct Counting;

thread_local! {
    /// Whether allocations on this thread are being counted. Both this and the
    /// count are per thread, so tests running in parallel do not see each other.
    static WATCHING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    if WATCHING.with(Cell::get) {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns how many allocations it made on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    WATCHING.with(|w| w.set(true));
    f();
    WATCHING.with(|w| w.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn the_counter_sees_allocations() {
    // The instrument itself works: a Vec allocation is counted.
    let n = allocations_in(|| drop(std::hint::black_box(vec![1u8; 100])));
    assert_eq!(n, 1);
}

#[test]
fn a_full_exchange_allocates_nothing() {
    let request =
        b"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nChecksum: 1\r\n\r\n\
        GET /next HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let mut out = [0u8; 1024];
    let mut requests = 0usize;
    let mut body_bytes = 0usize;
    let (mut decoded_bytes, mut decoded_trailers) = (0usize, 0usize);
    let mut client_events = 0usize;
    let n = allocations_in(|| {
        let mut server = Connection::server(Config::default());
        let mut input = &request[..];
        // Byte-at-a-time feeding exercises the incremental scanner too: each
        // event is offered one byte more than the last attempt until it comes.
        let mut offered = 1;
        loop {
            let mut headers = [EMPTY_HEADER; 16];
            let r = server
                .receive(&input[..offered.min(input.len())], &mut headers)
                .unwrap();
            input = &input[r.consumed..];
            match r.event {
                Event::Request(_) => requests += 1,
                Event::Data(d) => body_bytes += d.len(),
                Event::NeedData => offered += 1,
                Event::End { .. } => {
                    let fields = [Header {
                        name: "Content-Length",
                        value: b"2",
                    }];
                    server
                        .send_response(&ResponseHead::new(StatusCode::OK, &fields), &mut out)
                        .unwrap();
                    server.send_data(b"ok").unwrap();
                    server.send_end(&[], &mut out).unwrap();
                }
                Event::Paused => break,
                _ => {}
            }
            if r.consumed > 0 {
                offered = 1;
            }
            if input.is_empty() && server.their_state() == lithe::proto::State::Idle {
                break;
            }
        }

        let mut client = Connection::client(Config::default());
        let fields = [
            Header {
                name: "Host",
                value: b"example.com",
            },
            Header {
                name: "Transfer-Encoding",
                value: b"chunked",
            },
        ];
        client
            .send_request(&RequestHead::new("PUT", "/x", &fields), &mut out)
            .unwrap();
        let frame = client.send_data(b"data").unwrap();
        std::hint::black_box(frame);
        client
            .send_end(
                &[Header {
                    name: "T",
                    value: b"v",
                }],
                &mut out,
            )
            .unwrap();
        // Its response, chunked with a trailer, read to its end.
        let mut headers = [EMPTY_HEADER; 16];
        let response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
            2\r\nok\r\n0\r\nT: v\r\n\r\n";
        let mut rest = &response[..];
        loop {
            let r = client.receive(rest, &mut headers).unwrap();
            rest = &rest[r.consumed..];
            match r.event {
                Event::Response(_) | Event::Data(_) => client_events += 1,
                Event::End { trailers } => {
                    client_events += trailers.len();
                    break;
                }
                other => panic!("the whole response was given: {other:?}"),
            }
        }

        // Sized heads, a chunked body with trailers sent by a server, and a
        // response delimited by the close read to its end.
        let host = [Header {
            name: "Host",
            value: b"example.com",
        }];
        let mut client = Connection::client(Config::default());
        client
            .send_request_sized(&RequestHead::new("POST", "/", &host), 2, &mut out)
            .unwrap();
        client.send_data(b"hi").unwrap();
        client.send_end(&[], &mut out).unwrap();
        let mut server = Connection::server(Config::default());
        let sized = b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\nhi";
        let mut rest = &sized[..];
        while !matches!(server.our_state(), lithe::proto::State::SendResponse) {
            let r = server.receive(rest, &mut headers).unwrap();
            rest = &rest[r.consumed..];
        }
        server
            .send_response(&ResponseHead::new(StatusCode::OK, &[]), &mut out)
            .unwrap();
        std::hint::black_box(server.send_data(b"chunk").unwrap());
        let trailer = [Header {
            name: "T",
            value: b"v",
        }];
        server.send_end(&trailer, &mut out).unwrap();
        let mut server = Connection::server(Config::default());
        server
            .receive(b"GET / HTTP/1.0\r\n\r\n", &mut headers)
            .unwrap();
        server.receive(b"", &mut headers).unwrap();
        server
            .send_response_sized(&ResponseHead::new(StatusCode::OK, &[]), 2, &mut out)
            .unwrap();
        let mut client = Connection::client(Config::default());
        client
            .send_request(&RequestHead::new("GET", "/", &host), &mut out)
            .unwrap();
        let until_close = b"HTTP/1.1 200 OK\r\n\r\nbody";
        let r = client.receive(until_close, &mut headers).unwrap();
        assert!(matches!(r.event, Event::Response(_)));
        let r = client
            .receive(&until_close[r.consumed..], &mut headers)
            .unwrap();
        assert!(matches!(r.event, Event::Data(b"body")));
        client.receive_eof();
        let r = client.receive(b"", &mut headers).unwrap();
        if matches!(r.event, Event::End { .. }) {
            client_events += 1;
        }

        // Errors are values too: no formatting, no boxing.
        let mut bad = Connection::server(Config::default());
        let err = bad.receive(
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            &mut headers,
        );
        assert!(err.is_err());

        // The standalone decoder, to its end: data, last chunk, trailers.
        let mut decoder = ChunkedDecoder::default();
        let mut rest = &b"3\r\nabc\r\n0\r\nT: v\r\n\r\n"[..];
        loop {
            let mut trailers = [EMPTY_HEADER; 2];
            let (used, decoded) = decoder.decode(rest, &mut trailers).unwrap();
            rest = &rest[used..];
            match decoded {
                Decoded::Data(data) => decoded_bytes += data.len(),
                Decoded::End { trailers } => {
                    decoded_trailers = trailers.len();
                    break;
                }
                other => panic!("the whole body was given: {other:?}"),
            }
        }
    });
    assert_eq!(
        (requests, body_bytes),
        (2, 11),
        "the exchange did not run to the end"
    );
    assert_eq!(
        (decoded_bytes, decoded_trailers),
        (3, 1),
        "the decoder did not run to the end"
    );
    // Head, data, trailer; the close-delimited body's end.
    assert_eq!(
        client_events, 4,
        "the responses were not read to their ends"
    );
    assert_eq!(n, 0, "proto allocated {n} times");
}

/// Targets and values long enough for the paths the std build chooses at run
/// time (httparse's SSE4.2 and AVX2 loops from 16 and 32 bytes, memchr's
/// search of a target for its fragment from 16): the only code that differs
/// from the no_std build, which cannot allocate, and so the part this
/// counter alone can watch.
#[test]
fn long_targets_and_values_allocate_nothing() {
    const TARGET: &str = "/api/v1/items/12345?page=2&sort=ascending&fields=all";
    const AGENT: &[u8] = b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)";
    let request = format!(
        "GET {TARGET} HTTP/1.1\r\nHost: example.com\r\nUser-Agent: {}\r\n\r\n",
        String::from_utf8_lossy(AGENT)
    );
    let response = format!(
        "HTTP/1.1 200 OK\r\nServer: {}\r\nTransfer-Encoding: chunked\r\n\r\n\
         2\r\nok\r\n0\r\nX-Checksum: {}\r\n\r\n",
        String::from_utf8_lossy(AGENT),
        String::from_utf8_lossy(AGENT)
    );
    let mut out = [0u8; 1024];
    let (mut target_len, mut values, mut trailer_len) = (0, 0, 0);
    let n = allocations_in(|| {
        let mut headers = [EMPTY_HEADER; 16];
        let mut server = Connection::server(Config::default());
        let r = server.receive(request.as_bytes(), &mut headers).unwrap();
        if let Event::Request(head) = r.event {
            target_len = head.target.len();
            values = head.headers.iter().filter(|h| h.value == AGENT).count();
        }
        let fields = [Header {
            name: "Server",
            value: AGENT,
        }];
        server
            .send_response_sized(&ResponseHead::new(StatusCode::OK, &fields), 0, &mut out)
            .unwrap();

        let mut client = Connection::client(Config::default());
        let fields = [
            Header {
                name: "Host",
                value: b"example.com",
            },
            Header {
                name: "User-Agent",
                value: AGENT,
            },
        ];
        client
            .send_request(&RequestHead::new("GET", TARGET, &fields), &mut out)
            .unwrap();
        let mut rest = response.as_bytes();
        loop {
            let r = client.receive(rest, &mut headers).unwrap();
            rest = &rest[r.consumed..];
            match r.event {
                Event::Response(head) => {
                    values += head.headers.iter().filter(|h| h.value == AGENT).count();
                }
                Event::Data(_) => {}
                Event::End { trailers } => {
                    trailer_len = trailers.first().map_or(0, |t| t.value.len());
                    break;
                }
                other => panic!("the whole response was given: {other:?}"),
            }
        }
    });
    assert_eq!(
        (target_len, values, trailer_len),
        (TARGET.len(), 2, AGENT.len())
    );
    assert_eq!(n, 0, "{n} allocations");
}

/// A connection's size is what `Connection`'s documentation says, so a
/// device budgeting its RAM by it is not surprised (it has grown unnoticed
/// before).
#[test]
#[cfg(target_arch = "x86_64")]
fn a_connection_is_the_size_its_documentation_gives() {
    assert_eq!(size_of::<Connection>(), 200);
    assert_eq!(size_of::<Config>(), 72);
    // The documents say so in their own words, read here: a size that
    // changes with this test's figures updated leaves neither stale.
    let rustdoc = include_str!("../src/proto/conn.rs").replace("\n/// ", " ");
    let readme = include_str!("../README.md").replace("\n  ", " ");
    let connection = format!("{} bytes on x86_64", size_of::<Connection>());
    let config = format!("{} of them a copy of its [`Config`]", size_of::<Config>());
    assert!(rustdoc.contains(&connection) && rustdoc.contains(&config));
    assert!(readme.contains(&format!("state is {connection}")));
}
