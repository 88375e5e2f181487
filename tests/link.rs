//! `cdnlab link`: bad flags are refused with one line naming the flag (exit 2); a good link
//! relays with the round-trip time asked for. Everything on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The tests of this file run one at a time: the timing one should not share two cores with
/// a burst of processes.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cdnlab_link(extra: &[&str]) -> (Option<i32>, String) {
    // Good values of the required flags, unless the case gives its own.
    let mut args = vec!["link"];
    for (flag, value) in [
        ("--listen", "127.0.0.1:0"),
        ("--upstream", "127.0.0.1:9"),
        ("--rtt", "80ms"),
    ] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .args(&args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_flags_exit_2_with_one_line_naming_the_flag() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cases: &[(&[&str], &str)] = &[
        (&["--rtt", "80"], "--rtt"),
        (&["--rtt", "80 parsecs"], "--rtt"),
        (&["--rtt", "2h"], "--rtt"),
        (&["--jitter", "lots"], "--jitter"),
        (&["--bandwidth", "50"], "--bandwidth"),
        (&["--bandwidth", "50 furlongs/s"], "--bandwidth"),
        (&["--bandwidth", "0Mbit/s"], "--bandwidth"),
        (&["--loss", "150%"], "--loss"),
        (&["--loss", "5"], "--loss"),
        (&["--handshake-rtts=-1"], "--handshake-rtts"),
        (&["--handshake-rtts", "two"], "--handshake-rtts"),
        (&["--handshake-rtts", "99"], "--handshake-rtts"),
        (&["--seed", "abc"], "--seed"),
        (&["--listen", "nowhere"], "--listen"),
        (&["--upstream", "127.0.0.1"], "--upstream"),
        (&["--source", "127.0.1"], "--source"),
        (&["--source", "::1"], "--source"),
    ];
    for (extra, flag) in cases {
        let (code, err) = cdnlab_link(extra);
        assert_eq!(code, Some(2), "{extra:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{extra:?}: {err}");
        assert!(
            err.starts_with(&format!("cdnlab: error: {flag}: ")),
            "{extra:?}: {err}"
        );
    }
    // Flags clap itself refuses (missing, unknown) also exit 2, naming the flag.
    let out = Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .args(["link", "--listen", "127.0.0.1:0", "--rtt", "1ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--upstream"));
}

#[test]
fn a_link_relays_with_its_round_trip_time() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // An echo server on a thread.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = server.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in server.incoming() {
            let Ok(mut s) = s else { break };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .args([
            "link",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &up.to_string(),
            "--rtt",
            "40ms",
            "--bandwidth",
            "1Gbit/s",
            "--seed",
            "7",
            "--source",
            "127.0.0.1",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "cdnlab link: listening on 127.0.0.1:PORT -> 127.0.0.1:UP (rtt 40ms, ...)"
    let addr: SocketAddr = line
        .split_whitespace()
        .nth(4)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {line}"));
    assert!(
        line.contains("rtt 40ms") && line.contains("bandwidth 1Gbit/s"),
        "{line}"
    );

    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut rtts = Vec::new();
    for i in 0..4u8 {
        let t = if i == 0 { t0 } else { Instant::now() };
        s.write_all(&[i; 100]).unwrap();
        let mut back = [0u8; 100];
        s.read_exact(&mut back).unwrap();
        assert_eq!(back, [i; 100]);
        rtts.push(t.elapsed());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    println!("through `cdnlab link --rtt 40ms`: {rtts:?}");
    // Coarse: this checks the wiring (the precise figures are sim's tests), and the other test
    // runs processes at the same time on a machine that may be busy.
    let near =
        |d: Duration, ms: u64| d.abs_diff(Duration::from_millis(ms)) <= Duration::from_millis(10);
    assert!(near(rtts[0], 80), "new connection: {:?}", rtts[0]);
    let mut open = rtts[1..].to_vec();
    open.sort();
    assert!(near(open[1], 40), "open connection: {rtts:?}");
    assert!(open[0] >= Duration::from_millis(40), "{rtts:?}");
}
