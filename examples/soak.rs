//! The soak driver of `bench/soak.sh`: mixed load against a running tokenwarden for a while,
//! then a report. Each client loops over a weighted mix — API reads, token create and
//! revoke, page views of a signed-in browser, and sign-ins at a steady rate — and every
//! answer is checked against what that request must get. Any other answer is an error.
//!
//!   cargo run --release --example soak -- BASE_URL SECONDS CLIENTS ADMIN_TOKEN LOGIN PASSWORD
//!
//! Prints one line per figure (`name value`) for the script to read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

#[derive(Default)]
struct Counts {
    api_reads: AtomicU64,
    creates: AtomicU64,
    revokes: AtomicU64,
    pages: AtomicU64,
    sign_ins: AtomicU64,
    errors: AtomicU64,
}

struct Soak {
    base: String,
    admin_token: String,
    login: String,
    password: String,
    counts: Counts,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Soak {
    fn error(&self, what: String) {
        self.counts.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().unwrap();
        if first.is_none() {
            *first = Some(what);
        }
    }

    /// `true` when `res` has `want`; an error counted otherwise.
    async fn expect(
        &self,
        what: &str,
        res: reqwest::Result<reqwest::Response>,
        want: StatusCode,
    ) -> Option<String> {
        match res {
            Ok(r) if r.status() == want => Some(r.text().await.unwrap_or_default()),
            Ok(r) => {
                let status = r.status();
                let body: String = r.text().await.unwrap_or_default().chars().take(200).collect();
                self.error(format!("{what}: {status} {body}"));
                None
            }
            Err(e) => {
                self.error(format!("{what}: {e}"));
                None
            }
        }
    }

    async fn api_read(&self, http: &reqwest::Client) {
        let res =
            http.get(format!("{}/api/v1/users/self", self.base)).bearer_auth(&self.admin_token).send().await;
        if self.expect("GET /api/v1/users/self", res, StatusCode::OK).await.is_some() {
            self.counts.api_reads.fetch_add(1, Ordering::Relaxed);
        }
        let res = http
            .get(format!("{}/api/v1/users/self/user_generated_tokens?per_page=10", self.base))
            .bearer_auth(&self.admin_token)
            .send()
            .await;
        if self.expect("GET user_generated_tokens", res, StatusCode::OK).await.is_some() {
            self.counts.api_reads.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn create_and_revoke(&self, http: &reqwest::Client) {
        let res = http
            .post(format!("{}/api/v1/users/self/tokens", self.base))
            .bearer_auth(&self.admin_token)
            .json(&serde_json::json!({"token": {"purpose": "soak", "expires_at": null}}))
            .send()
            .await;
        let Some(body) = self.expect("POST tokens", res, StatusCode::OK).await else { return };
        self.counts.creates.fetch_add(1, Ordering::Relaxed);
        let Some(id) = serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["id"].as_i64())
        else {
            return self.error(format!("POST tokens: no id in {body}"));
        };
        let res = http
            .delete(format!("{}/api/v1/users/self/tokens/{id}", self.base))
            .bearer_auth(&self.admin_token)
            .send()
            .await;
        if self.expect("DELETE token", res, StatusCode::OK).await.is_some() {
            self.counts.revokes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A browser: sign in, look at pages, sign out.
    async fn browse(&self) {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        let Some(form) = self
            .expect("GET /login", browser.get(format!("{}/login", self.base)).send().await, StatusCode::OK)
            .await
        else {
            return;
        };
        let Some(token) = csrf(&form) else { return self.error("GET /login: no CSRF token".into()) };
        let res = browser
            .post(format!("{}/login", self.base))
            .form(&[("login", self.login.as_str()), ("password", &self.password), ("csrf_token", &token)])
            .send()
            .await;
        if self.expect("POST /login", res, StatusCode::SEE_OTHER).await.is_none() {
            return;
        }
        self.counts.sign_ins.fetch_add(1, Ordering::Relaxed);
        let mut csrf_after = None;
        for path in ["/settings/tokens", "/admin/users", "/admin/tokens", "/settings/tokens"] {
            let res = browser.get(format!("{}{path}", self.base)).send().await;
            if let Some(page) = self.expect(&format!("GET {path}"), res, StatusCode::OK).await {
                self.counts.pages.fetch_add(1, Ordering::Relaxed);
                csrf_after = csrf(&page);
            }
        }
        if let Some(csrf) = csrf_after {
            let res =
                browser.post(format!("{}/logout", self.base)).form(&[("csrf_token", csrf)]).send().await;
            self.expect("POST /logout", res, StatusCode::SEE_OTHER).await;
        }
    }
}

fn csrf(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    Some(html[start..start + html[start..].find('"')?].to_owned())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, seconds, clients, admin_token, login, password] = args.as_slice() else {
        eprintln!("usage: soak BASE_URL SECONDS CLIENTS ADMIN_TOKEN LOGIN PASSWORD");
        std::process::exit(2);
    };
    let soak = Arc::new(Soak {
        base: base.clone(),
        admin_token: admin_token.clone(),
        login: login.clone(),
        password: password.clone(),
        counts: Counts::default(),
        first_error: Default::default(),
    });
    let until = Instant::now() + Duration::from_secs(seconds.parse().expect("SECONDS"));
    let clients: usize = clients.parse().expect("CLIENTS");
    let mut tasks = Vec::new();
    for i in 0..clients {
        let soak = soak.clone();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut n: u64 = 0;
            while Instant::now() < until {
                n += 1;
                // Per client: 8 API reads, 1 create-and-revoke, in every ten rounds.
                match n % 10 {
                    0 => soak.create_and_revoke(&http).await,
                    _ => soak.api_read(&http).await,
                }
            }
            i
        }));
    }
    // Browsers at a steady two sign-ins a second: each costs an argon2 hash.
    let browsers = {
        let soak = soak.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            let mut running = Vec::new();
            while Instant::now() < until {
                tick.tick().await;
                let soak = soak.clone();
                running.push(tokio::spawn(async move { soak.browse().await }));
            }
            for r in running {
                let _ = r.await;
            }
        })
    };
    for t in tasks {
        let _ = t.await;
    }
    let _ = browsers.await;
    let c = &soak.counts;
    for (name, value) in [
        ("api_reads", &c.api_reads),
        ("token_creates", &c.creates),
        ("token_revokes", &c.revokes),
        ("page_views", &c.pages),
        ("sign_ins", &c.sign_ins),
        ("errors", &c.errors),
    ] {
        println!("{name} {}", value.load(Ordering::Relaxed));
    }
    if let Some(e) = soak.first_error.lock().unwrap().as_ref() {
        println!("first_error {}", e.replace('\n', " "));
    }
}
