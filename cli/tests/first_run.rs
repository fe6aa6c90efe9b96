//! The built `esimhooks` binary as a new user meets it: a reader that stops reading (`| head`), a second
//! `serve` on a taken port, and a local `serve` given the secrets of some providers only.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

fn esimhooks(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_esimhooks"));
    // Only what the test gives: no provider secret or store from the machine's environment.
    command
        .env_clear()
        .current_dir(dir)
        .env("ESIMHOOKS_DB", dir.join("first-run.db"));
    command
}

/// Runs `args` with standard output's reader gone before anything is written; (exit code, stderr).
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = esimhooks(dir.path())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_ends_any_command_quietly_with_success() {
    // clap_complete's writer, std's println! and the listings' own writes: each meets the closed pipe.
    for args in [
        &["completions", "bash"][..],
        &["send", "--provider", "esimgo", "--list-types"],
        &["stats"],
        &["partners", "types"],
    ] {
        let (code, stderr) = with_closed_stdout(args);
        assert_eq!(code, Some(0), "esimhooks {args:?}: {stderr}");
        assert!(
            !stderr.contains("pipe") && !stderr.contains("panicked"),
            "esimhooks {args:?}: {stderr}"
        );
    }
}

#[test]
fn a_taken_port_names_the_flag_that_picks_another() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for command in ["serve", "console"] {
        let output = esimhooks(dir.path()).args([command, "--addr", &addr]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "cannot listen on {addr}: address already in use (another esimhooks {command}? stop it or pass --addr)"
            )),
            "{stderr}"
        );
    }
}

/// Kills the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn providers_without_a_secret_are_not_configured_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let child = esimhooks(dir.path())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("ESIMACCESS_SECRETS", "tok")
        .env("ESIMGO_SECRETS", "key")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let mut said = Vec::new();
    let mut lines = BufReader::new(server.0.stderr.take().unwrap()).lines();
    // Up to the last line of the start-up banner.
    for line in lines.by_ref() {
        let line = line.unwrap();
        said.push(line.clone());
        if line.contains("partner callbacks API") {
            break;
        }
    }
    let text = said.join("\n");
    assert!(!text.contains("ERROR"), "no provider is misconfigured: {text}");
    let unconfigured: Vec<&String> = said.iter().filter(|l| l.contains("not configured")).collect();
    assert_eq!(unconfigured.len(), 1, "one line lists them: {text}");
    assert!(unconfigured[0].contains("INFO"), "{text}");
    for provider in ["roamify", "airalo", "gigastore", "oneglobal"] {
        assert!(unconfigured[0].contains(provider), "{text}");
        assert!(
            !text.contains(&format!("/webhooks/{provider}")),
            "{provider} is not served: {text}"
        );
    }
    for provider in ["esimaccess", "esimgo"] {
        assert!(
            text.contains(&format!("/webhooks/{provider}\n")),
            "{provider} is served: {text}"
        );
    }

    let addr = text
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let body = "{}";
    write!(
        stream,
        "POST /webhooks/airalo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    let json: serde_json::Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(json["error"]["code"], "not_configured", "{json}");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("airalo is not configured") && message.contains("AIRALO_SECRETS"),
        "{message}"
    );
}
