//! A minimal closed-loop HTTP/1.1 load generator for `bench/audit.py`: replays pre-signed raw
//! requests over keep-alive connections to a local server and counts responses by status.
//!
//! `http_load ADDR REQUEST_FILE... --connections C --seconds S` (each connection cycles through
//! the request files). Prints one JSON line: `{"requests": n, "ok": n, "errors": n, "seconds": s}`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 16384];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            let need = end + 4 + len;
            while buf.len() < need {
                let n = s.read(&mut chunk)?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut addr = None;
    let mut files = Vec::new();
    let mut connections = 16usize;
    let mut seconds = 10u64;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--connections" => connections = it.next().and_then(|v| v.parse().ok()).expect("--connections N"),
            "--seconds" => seconds = it.next().and_then(|v| v.parse().ok()).expect("--seconds N"),
            _ if addr.is_none() => addr = Some(a),
            _ => files.push(std::fs::read(&a).expect("request file")),
        }
    }
    let addr = addr.expect("usage: http_load ADDR REQUEST_FILE... [--connections C] [--seconds S]");
    let requests = Arc::new(files);
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..connections)
        .map(|c| {
            let (addr, requests, stop, ok, errors) =
                (addr.clone(), Arc::clone(&requests), Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&errors));
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).expect("connect");
                s.set_nodelay(true).ok();
                let mut buf = Vec::with_capacity(8192);
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let req = &requests[i % requests.len()];
                    i += 1;
                    if s.write_all(req).is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                        s = TcpStream::connect(&addr).expect("reconnect");
                        continue;
                    }
                    match read_response(&mut s, &mut buf) {
                        Ok(200) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            s = TcpStream::connect(&addr).expect("reconnect");
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    let secs = start.elapsed().as_secs_f64();
    let (o, e) = (ok.load(Ordering::Relaxed), errors.load(Ordering::Relaxed));
    println!("{{\"requests\": {}, \"ok\": {o}, \"errors\": {e}, \"seconds\": {secs:.3}}}", o + e);
}
