//! Secrets never reach the logs: the real binary, at debug level, through a whole journey.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, SETUP_CODE, spawn_app};
use crate::tokens_page::shown_secret;

#[actix_web::test]
async fn no_password_setup_code_or_token_secret_is_logged() {
    // A scratch database only: the binary below runs on its own copy.
    let scratch = spawn_app().await;
    let dir = std::path::Path::new(&scratch.database_url).parent().unwrap().to_path_buf();
    let db = if tokenwarden::db::is_postgres(&scratch.database_url) {
        scratch.database_url.clone()
    } else {
        dir.join("logged.db").to_string_lossy().into_owned()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenwarden"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db)
        .env("TOKENWARDEN_LOG", "debug")
        .env("TOKENWARDEN_SESSION_KEY", "a test session key that is long enough to derive from")
        .env("TOKENWARDEN_SETUP_CODE", SETUP_CODE)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start tokenwarden");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let port = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("the server exited: {seen}");
        }
        seen.push_str(&line);
        if let Some(i) = line.find("port=") {
            let digits: String = line[i + 5..].chars().take_while(char::is_ascii_digit).collect();
            if let Ok(p) = digits.parse::<u16>() {
                break p;
            }
        }
    };
    let reader = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });

    let mut app_view = crate::helpers::Browser::detached(&format!("http://127.0.0.1:{port}"));
    app_view.complete_setup().await;
    let html = app_view.create_token("Logged journey", "30").await;
    let secret = shown_secret(&html).expect("a secret");
    app_view.post_form("/logout", &[]).await;
    assert_eq!(app_view.login("admin", "a wrong password here").await.status(), StatusCode::UNAUTHORIZED);
    app_view = crate::helpers::Browser::detached(&format!("http://127.0.0.1:{port}"));
    let _ = app_view.get(&format!("/api/v1/users/self?access_token={secret}")).await;

    child.kill().unwrap();
    let _ = child.wait();
    let logs = seen + &reader.join().unwrap();
    assert!(logs.contains("POST"), "the journey was logged at all");
    for (what, value) in [
        ("the token secret", secret.as_str()),
        ("the password", PASSWORD),
        ("a wrong password", "a wrong password here"),
    ] {
        assert!(!logs.contains(value), "{what} appears in the logs");
    }
    assert!(!logs.contains(&secret[3..20]), "no part of the secret is logged");
}
