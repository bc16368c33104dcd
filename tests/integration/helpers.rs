//! The test harness: `spawn_app()` boots the real application on a random port with its
//! own fresh database — a temporary SQLite file, or, when `TEST_DATABASE_URL` names a
//! PostgreSQL server, a new database there that is dropped afterwards.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Response, StatusCode, Url};
use tokenwarden::config::{ServeArgs, Settings, UserCreateArgs};
use tokenwarden::startup::Application;

pub const SETUP_CODE: &str = "test-setup-code-123";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub address: String,
    pub database_url: String,
    server: actix_web::dev::ServerHandle,
    _guard: DbGuard,
}

/// The app stops with its test (or its row of the matrix): a test that starts many leaves
/// none running, polling a database that is gone.
impl Drop for TestApp {
    fn drop(&mut self) {
        // The command is sent at once; nobody needs to wait for the stop.
        drop(self.server.stop(false));
    }
}

/// Removes the test's database when the test ends.
enum DbGuard {
    Sqlite(#[expect(dead_code, reason = "held for its Drop")] tempfile_dir::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
    /// Another instance's database: that instance removes it.
    Shared,
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let DbGuard::Postgres { admin_url, name } = self
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// A tiny temporary directory, removed on drop (no extra crate needed).
pub mod tempfile_dir {
    pub struct TempDir(pub std::path::PathBuf);
    impl TempDir {
        pub fn new() -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "tokenwarden-test-{}-{}",
                std::process::id(),
                tokenwarden::domain::token_secret::random_base62(10)
            ));
            std::fs::create_dir_all(&dir).expect("create a temp dir");
            TempDir(dir)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn fresh_database() -> (String, DbGuard) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if tokenwarden::db::is_postgres(&admin_url) => {
            let name =
                format!("tw_test_{}", tokenwarden::domain::token_secret::random_base62(12).to_lowercase());
            // Before libpq's first use: see `db::init_openssl`.
            tokenwarden::db::init_openssl();
            let mut conn = PgConnection::establish(&admin_url).expect("connect to TEST_DATABASE_URL");
            diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .expect("create the test database");
            let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin_url).to_owned();
            (format!("{base}/{name}"), DbGuard::Postgres { admin_url, name })
        }
        _ => {
            let dir = tempfile_dir::TempDir::new();
            let url = dir.0.join("test.db").to_string_lossy().into_owned();
            (url, DbGuard::Sqlite(dir))
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Boots the app with settings adjusted by `tweak`.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut ServeArgs)) -> TestApp {
    let (database_url, guard) = fresh_database();
    let mut serve =
        ServeArgs { setup_code: Some(SETUP_CODE.to_owned()), workers: Some(1), ..ServeArgs::default() };
    tweak(&mut serve);
    let settings = Settings {
        database_url: database_url.clone(),
        serve,
        session_key: b"a test session key that is long enough to derive from".to_vec(),
    };
    let app = Application::build(settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let server = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp { address, database_url, server, _guard: guard }
}

/// Boots another instance of the app on an existing database (as a second instance behind
/// a load balancer would be): same session key, no new database.
pub async fn spawn_app_on(database_url: &str) -> TestApp {
    spawn_app_on_with(database_url, |_| {}).await
}

/// Another instance on an existing database, with settings adjusted by `tweak`.
pub async fn spawn_app_on_with(database_url: &str, tweak: impl FnOnce(&mut ServeArgs)) -> TestApp {
    let mut serve =
        ServeArgs { setup_code: Some(SETUP_CODE.to_owned()), workers: Some(1), ..ServeArgs::default() };
    tweak(&mut serve);
    let settings = Settings {
        database_url: database_url.to_owned(),
        serve,
        session_key: b"a test session key that is long enough to derive from".to_vec(),
    };
    let app = Application::build(settings).await.expect("the second instance builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let server = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp { address, database_url: database_url.to_owned(), server, _guard: DbGuard::Shared }
}

impl TestApp {
    /// A new browser: its own cookie jar, no redirects followed.
    pub fn browser(&self) -> Browser {
        Browser::detached(&self.address)
    }

    /// Creates a user through the same code as `tokenwarden user create`.
    pub fn create_user(&self, login: &str, roles: &[&str], account_roles: &[&str]) -> i64 {
        create_user_in(&self.database_url, login, roles, account_roles)
    }

    /// The first administrator, created through the setup page; returns their browser.
    pub async fn setup_admin(&self) -> Browser {
        let b = self.browser();
        b.complete_setup().await;
        b
    }

    /// A browser signed in as `login`.
    pub async fn signed_in(&self, login: &str) -> Browser {
        let b = self.browser();
        let res = b.login(login, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{login} should be able to sign in");
        b
    }
}

/// Creates a user in the database at `database_url`, as `tokenwarden user create` would.
pub fn create_user_in(database_url: &str, login: &str, roles: &[&str], account_roles: &[&str]) -> i64 {
    let args = UserCreateArgs {
        login: login.to_owned(),
        name: format!("{} Example", capitalise(login)),
        email: format!("{login}@example.edu"),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        account_roles: account_roles.iter().map(|r| r.to_string()).collect(),
        password_stdin: true,
    };
    tokenwarden::cli::create_user(database_url, &args, PASSWORD).expect("create a user").id
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_html(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.text().await.expect("a body")
    }

    /// The session's CSRF token, read from a page as a browser would see it.
    pub async fn csrf_token(&self) -> String {
        for path in ["/settings/account", "/login", "/setup"] {
            let res = self.get(path).await;
            if res.status() == StatusCode::OK
                && let Some(t) = extract_csrf(&res.text().await.unwrap_or_default())
            {
                return t;
            }
        }
        panic!("no page carried a CSRF token");
    }

    /// A form post with the CSRF token, as a browser submitting a page's form.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf_token().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post_form_raw(path, &all).await
    }

    /// A form post with the CSRF token, sent from the page `referer` (as a browser says).
    pub async fn post_form_with_referer(&self, path: &str, referer: &str) -> Response {
        let token = self.csrf_token().await;
        self.client
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Referer", self.url(referer))
            .body(serde_urlencoded::to_string([("csrf_token", token)]).expect("encode"))
            .send()
            .await
            .expect("POST")
    }

    /// A form post exactly as given (no CSRF token added).
    pub async fn post_form_raw(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = serde_urlencoded::to_string(fields).expect("encode");
        self.client
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    /// A file upload form (multipart/form-data) with the CSRF token, as a browser submits
    /// it. A field named `file` is sent as the file `people.csv`.
    pub async fn post_multipart(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf_token().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        all.extend_from_slice(fields);
        self.post_multipart_raw(path, &all).await
    }

    /// A file upload form exactly as given (no CSRF token added).
    pub async fn post_multipart_raw(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let boundary = "----tokenwarden-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            if *name == "file" {
                body.extend_from_slice(
                    b"Content-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\nContent-Type: text/csv\r\n\r\n",
                );
            } else {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                );
            }
            body.extend_from_slice(value.as_bytes());
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.client
            .post(self.url(path))
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    /// A form post as htmx sends it: the token in a header, `HX-Request: true`.
    /// An htmx post from the page at `page`: htmx names it in `HX-Current-URL` (and this
    /// client sends no `Referer`, like a browser that leaves it out).
    pub async fn htmx_post_on(&self, page: &str, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf_token().await;
        self.client
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("HX-Request", "true")
            .header("HX-Current-URL", self.url(page))
            .header("X-CSRF-Token", token)
            .body(serde_urlencoded::to_string(fields).expect("encode"))
            .send()
            .await
            .expect("POST")
    }

    pub async fn htmx_post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf_token().await;
        let body = serde_urlencoded::to_string(fields).expect("encode");
        self.client
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("HX-Request", "true")
            .header("X-CSRF-Token", token)
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    /// Creates the first administrator (`admin`) on the setup page and signs in as them.
    pub async fn complete_setup(&self) {
        let res = self
            .post_form(
                "/setup",
                &[
                    ("setup_code", SETUP_CODE),
                    ("login", "admin"),
                    ("name", "Ada Admin"),
                    ("email", "admin@example.edu"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "setup should succeed");
    }

    pub async fn login(&self, login: &str, password: &str) -> Response {
        self.post_form("/login", &[("login", login), ("password", password)]).await
    }

    /// The value of the session cookie, if any.
    pub fn session_cookie(&self) -> Option<String> {
        let url: Url = self.base.parse().expect("url");
        let header = self.jar.cookies(&url)?;
        header.to_str().ok()?.split("; ").find_map(|c| c.strip_prefix("tw_session=").map(str::to_owned))
    }

    /// A second browser that carries a copy of this one's session cookie.
    pub fn clone_session(&self) -> Browser {
        let copy = Browser::detached(&self.base);
        let url: Url = self.base.parse().expect("url");
        if let Some(c) = self.session_cookie() {
            copy.jar.add_cookie_str(&format!("tw_session={c}; Path=/"), &url);
        }
        copy
    }

    /// Whether this browser is signed in (a protected page answers 200, not a redirect).
    pub async fn is_signed_in(&self) -> bool {
        self.get("/settings/account").await.status() == StatusCode::OK
    }
}

pub fn extract_csrf(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

pub fn location(res: &Response) -> String {
    res.headers().get("Location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Logins matching a LIKE pattern, read straight from the test's database.
pub fn logins_like(database_url: &str, pattern: &str) -> Vec<String> {
    use diesel::prelude::*;
    use tokenwarden::db::schema::users;
    let mut conn = tokenwarden::db::connect(database_url).expect("connect");
    users::table.filter(users::login.like(pattern)).select(users::login).load(&mut conn).expect("logins")
}

impl Browser {
    /// A browser for a server that was not started by `spawn_app` (e.g. the real binary).
    pub fn detached(base: &str) -> Browser {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // The server closes a connection idle for 5 s (actix's keep-alive); a browser
            // would open a new one rather than write into one the server has closed.
            .pool_idle_timeout(Duration::from_secs(2))
            .cookie_provider(jar.clone())
            .build()
            .expect("a client");
        Browser { base: base.to_owned(), client, jar }
    }
}

impl TestApp {
    /// A user's id, read from the test's database.
    pub fn user_id(&self, login: &str) -> i64 {
        use diesel::prelude::*;
        use tokenwarden::db::schema::users;
        let mut conn = tokenwarden::db::connect(&self.database_url).expect("connect");
        users::table.filter(users::login.eq(login)).select(users::id).first(&mut conn).expect("a user")
    }
}

/// The real binary, `tokenwarden serve` on a database of the test's own, with every line it
/// logs kept; stopped when dropped.
pub struct Served {
    pub child: Child,
    pub base: String,
    pub logged: Arc<Mutex<Vec<String>>>,
}

impl Served {
    /// Starts it at `level` (`info`, `debug`…) on the database at `db`.
    pub fn start(db: &str, level: &str) -> Served {
        Served::start_with(db, level, &[])
    }

    /// [`Served::start`] with more of its settings from the environment.
    pub fn start_with(db: &str, level: &str, env: &[(&str, &str)]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokenwarden"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .env("DATABASE_URL", db)
            .env("TOKENWARDEN_LOG", level)
            .env("TOKENWARDEN_SESSION_KEY", "a test session key that is long enough to derive from")
            .env("TOKENWARDEN_SETUP_CODE", SETUP_CODE)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start tokenwarden");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let logged: Arc<Mutex<Vec<String>>> = Arc::default();
        let port = loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "the server exited: {:?}",
                logged.lock().unwrap()
            );
            logged.lock().unwrap().push(line.clone());
            // `port=N` in text, `"port":N` in JSON.
            if let Some(i) =
                line.find("port=").map(|i| i + 5).or_else(|| line.find("\"port\":").map(|i| i + 7))
            {
                break line[i..].chars().take_while(char::is_ascii_digit).collect::<String>();
            }
        };
        let sink = logged.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Served { child, base: format!("http://127.0.0.1:{port}"), logged }
    }

    /// Waits (up to 5 s) for a log line that contains every one of `words`.
    pub async fn logged(&self, words: &[&str]) -> bool {
        for _ in 0..50 {
            if self.logged.lock().unwrap().iter().any(|l| words.iter().all(|w| l.contains(w))) {
                return true;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        self.logged.lock().unwrap().join("\n")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/` of this package (or `CARGO_TARGET_DIR`): where tests leave what people read.
pub fn target_dir() -> std::path::PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
    }
}

/// A port nobody listens on now, for a server a test starts.
///
/// Taken below the kernel's ephemeral range (32768 and up on Linux), where the system's
/// own choice (binding port 0) would fall: a port is free between this call and the
/// server's start, and in that time any outgoing connection of the tests running beside
/// (to the app, to PostgreSQL) could be given it — an "Address already in use" that came
/// and went. Ports are handed out in turn, so no two tests of this run are given the same.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 32_768 - FIRST;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    // Each run starts somewhere else, so that a server left from the run before is not met,
    // and runs with neighbouring process ids far apart.
    let start = std::process::id().wrapping_mul(7919) % COUNT;
    let _ = NEXT.compare_exchange(u32::MAX, start, Ordering::Relaxed, Ordering::Relaxed);
    for _ in 0..COUNT {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::Relaxed) % COUNT) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {FIRST} and 32767");
}
