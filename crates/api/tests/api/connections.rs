//! Connections over raw sockets, each against its own server with short limits: a client that
//! drips header bytes or sends nothing is cut off, an idle kept-alive connection is closed,
//! connections beyond the cap wait, a stalled body gets the POP `RequestTimeout`, a broken
//! body is a 400, and shutdown completes with a half-sent request open.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use threatintel_api::ServerConfig;

use crate::support::*;

/// A server whose connection limits are `change`d from the shared configuration's.
fn server_with(change: impl FnOnce(&mut ServerConfig)) -> Server {
    let mut config = config();
    change(&mut config);
    Server::start(config)
}

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection; how long that took and what it sent.
fn until_closed(stream: &mut TcpStream, started: Instant) -> (Duration, Vec<u8>) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return (started.elapsed(), seen),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// A valid keep-alive request: a signed V1 query.
fn keep_alive_request(server: &Server) -> Vec<u8> {
    format!(
        "GET /?{} HTTP/1.1\r\nHost: {}\r\n\r\n",
        V1::new(UNKNOWN).method("GET").signed_query(),
        server.host()
    )
    .into_bytes()
}

/// Reads one response whose body has a `Content-Length`, leaving the connection open.
fn read_one_response(stream: &mut TcpStream) -> Response {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).expect("a response");
        assert!(n > 0, "closed before a response");
        seen.extend_from_slice(&buf[..n]);
        if let Ok(response) = parse_response(&seen) {
            let length = response
                .header("content-length")
                .and_then(|l| l.parse::<usize>().ok());
            if length == Some(response.body.len()) {
                return response;
            }
        }
    }
}

#[test]
fn a_client_dripping_header_bytes_is_cut_off() {
    let server = server_with(|c| {
        c.header_read_timeout_secs = 1;
        c.keep_alive_timeout_secs = 30;
    });
    let mut stream = connect(&server);
    let started = Instant::now();
    let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: ";
    stream.write_all(head).unwrap();
    // One byte every 100 ms, for up to 10 s: the server must close the connection long before.
    let mut reader = stream.try_clone().unwrap();
    let closed = std::thread::spawn(move || until_closed(&mut reader, started));
    for _ in 0..100 {
        if closed.is_finished() || stream.write_all(b"a").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (elapsed, _) = closed.join().unwrap();
    assert!(elapsed < Duration::from_secs(4), "closed after {elapsed:?}");
}

#[test]
fn a_silent_connection_is_closed() {
    let server = server_with(|c| {
        c.header_read_timeout_secs = 1;
        c.keep_alive_timeout_secs = 30;
    });
    let mut stream = connect(&server);
    let (elapsed, _) = until_closed(&mut stream, Instant::now());
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
}

#[test]
fn an_idle_kept_alive_connection_is_closed() {
    let server = server_with(|c| {
        c.header_read_timeout_secs = 30;
        c.keep_alive_timeout_secs = 1;
    });
    let mut stream = connect(&server);
    // Two requests on the connection: it is kept alive while in use.
    for _ in 0..2 {
        stream.write_all(&keep_alive_request(&server)).unwrap();
        let response = read_one_response(&mut stream);
        assert_eq!(response.status, 200, "{}", response.text());
    }
    let (elapsed, rest) = until_closed(&mut stream, Instant::now());
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let server = server_with(|c| {
        c.max_connections = 2;
        c.header_read_timeout_secs = 30;
        c.keep_alive_timeout_secs = 30;
    });
    let mut held: Vec<TcpStream> = (0..2).map(|_| connect(&server)).collect();
    // Both slots are taken once the server answered on them.
    for stream in &mut held {
        stream.write_all(&keep_alive_request(&server)).unwrap();
        assert_eq!(read_one_response(stream).status, 200);
    }
    let mut third = connect(&server);
    third.write_all(&keep_alive_request(&server)).unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        third.read(&mut byte).is_err(),
        "a third connection was served while two were open"
    );
    // A slot frees: the waiting connection is served.
    held.pop();
    third
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(read_one_response(&mut third).status, 200);
}

#[test]
fn shutdown_completes_with_a_half_sent_request_open() {
    let server = server_with(|c| {
        c.header_read_timeout_secs = 60;
        c.keep_alive_timeout_secs = 60;
        c.request_timeout_secs = 60;
        c.shutdown_grace_secs = 1;
    });
    // A half-sent head, and a complete head whose body never comes.
    let mut half_head = connect(&server);
    half_head.write_all(b"GET /healthz HTTP/1.1\r\nHo").unwrap();
    let mut half_body = connect(&server);
    half_body
        .write_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nDomain=",
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    drop(server);
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(4),
        "shutdown took {elapsed:?}"
    );
    for stream in [&mut half_head, &mut half_body] {
        let (waited, _) = until_closed(stream, Instant::now());
        assert!(waited < Duration::from_secs(2), "{waited:?}");
    }
}

/// A body that stops arriving: the POP `RequestTimeout`, in the request's format.
#[test]
fn a_stalled_body_gets_a_pop_request_timeout() {
    let server = server_with(|c| c.request_timeout_secs = 1);
    let mut stream = connect(&server);
    let started = Instant::now();
    stream
        .write_all(
            b"POST /?Format=XML HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nDomain=",
        )
        .unwrap();
    let (elapsed, answer) = until_closed(&mut stream, started);
    let response = parse_response(&answer).unwrap();
    assert_want(&response, Want::Code(408, "RequestTimeout"));
    assert!(response.text().starts_with("<?xml"), "{}", response.text());
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
}

/// A body whose framing breaks is a 400 naming the body, not a 413.
#[test]
fn a_broken_body_is_a_400() {
    let server = server_with(|_| {});
    // A chunk size that is no hexadecimal number.
    let r = raw_to(
        server.addr,
        format!(
            "POST /?Format=JSON HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nDomain=a\r\n0\r\n\r\n",
            server.host()
        )
        .as_bytes(),
    )
    .unwrap();
    assert_want(&r, Want::Says(400, "InvalidParameter", "body"));
    // The body ends (the client closes its side) before its announced length.
    let mut stream = connect(&server);
    stream
        .write_all(
            b"POST /?Format=JSON HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nDomain=",
        )
        .unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let (_, answer) = until_closed(&mut stream, Instant::now());
    let r = parse_response(&answer).unwrap();
    assert_want(&r, Want::Says(400, "InvalidParameter", "body"));
}
