//! Drives headless Chromium through chromedriver: one chromedriver per browser, started on
//! a free port and killed (with its Chromium) when the browser is dropped; a fresh profile
//! per browser; waits that poll for a condition; full-page screenshots.

use std::cell::Cell;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value as Json, json};

use crate::helpers::{PASSWORD, TestApp};

/// How long a wait for a condition may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);

/// One browser at a time: the machine has two cores, and the app, chromedriver and
/// Chromium already share them.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `target/` of this package (or `CARGO_TARGET_DIR`): screenshots and axe-core live there.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
    }
}

/// One user story: holds the one-browser-at-a-time lock and numbers its screenshots,
/// saved as `target/screenshots/<journey>-<n>-<state>.png`.
pub struct Journey {
    name: &'static str,
    shots: Cell<u32>,
    dir: PathBuf,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Journey {
    pub async fn start(name: &'static str) -> Journey {
        let serial = SERIAL.lock().await;
        let dir = target_dir().join("screenshots");
        std::fs::create_dir_all(&dir).expect("create target/screenshots");
        // Last run's pictures of this journey would mix with this run's.
        let prefix = format!("{name}-");
        for entry in std::fs::read_dir(&dir).expect("read target/screenshots").flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.strip_prefix(&prefix).is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit())) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Journey { name, shots: Cell::new(0), dir, _serial: serial }
    }

    /// A new browser (its own Chromium and profile) pointed at `app`.
    pub async fn browser(&self, app: &TestApp, options: Options) -> Page {
        Page::launch(&app.address, options).await
    }

    /// Saves a full-page screenshot of what `page` shows now.
    pub async fn shot(&self, page: &Page, state: &str) {
        let n = self.shots.get() + 1;
        self.shots.set(n);
        let path = self.dir.join(format!("{}-{n}-{state}.png", self.name));
        let png = page.full_page_png().await;
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

/// How a browser is started.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub width: u32,
    pub height: u32,
    /// Emulate a phone: a touch screen, a mobile viewport and 2× pixels.
    pub phone: bool,
    pub javascript: bool,
}

impl Options {
    pub const DESKTOP: Options = Options { width: 1280, height: 900, phone: false, javascript: true };
    pub const NO_JAVASCRIPT: Options = Options { javascript: false, ..Options::DESKTOP };
    pub const PHONE: Options = Options { width: 390, height: 844, phone: true, javascript: true };
}

/// A chromedriver process in its own process group, so that killing the group ends the
/// Chromium it started too, even when a test panics before closing its session.
struct Driver {
    child: Child,
    profile: PathBuf,
}

impl Driver {
    fn start(profile: PathBuf) -> (Driver, u16) {
        let port = crate::helpers::free_port();
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("could not start {binary} ({e}): apt-get install chromium chromium-driver")
            });
        let driver = Driver { child, profile };
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        (driver, port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid (process_group(0)).
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn capabilities(profile: &Path, options: Options) -> Capabilities {
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--lang=en-US".to_owned(),
        format!("--user-data-dir={}", profile.display()),
        format!("--window-size={},{}", options.width, options.height),
    ];
    if !options.javascript {
        args.push("--blink-settings=scriptEnabled=false".to_owned());
    }
    let binary = std::env::var("CHROME_BIN").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let mut chrome = json!({ "binary": binary, "args": args });
    if !options.javascript {
        chrome["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
    }
    if options.phone {
        chrome["mobileEmulation"] = json!({
            "deviceMetrics": { "width": options.width, "height": options.height, "pixelRatio": 2.0,
                               "touch": true, "mobile": true }
        });
    }
    let caps = json!({ "browserName": "chrome", "goog:chromeOptions": chrome });
    match caps {
        Json::Object(map) => map,
        _ => unreachable!(),
    }
}

/// A Chrome DevTools command through chromedriver (`goog/cdp/execute`).
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Json,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}

/// One browser window on the app.
pub struct Page {
    pub client: Client,
    base: String,
    pub javascript: bool,
    pub options: Options,
    // Dropped after the client: kills chromedriver and Chromium, removes the profile.
    _driver: Driver,
}

impl Page {
    async fn launch(base: &str, options: Options) -> Page {
        let profile = std::env::temp_dir().join(format!(
            "tokenwarden-chromium-{}-{}",
            std::process::id(),
            tokenwarden::domain::token_secret::random_base62(10)
        ));
        std::fs::create_dir_all(&profile).expect("create a Chromium profile dir");
        let caps = capabilities(&profile, options);
        let (driver, port) = Driver::start(profile);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start Chromium: {e}"));
        Page { client, base: base.to_owned(), javascript: options.javascript, options, _driver: driver }
    }

    /// Ends the WebDriver session (Chromium quits); the driver goes when `self` drops.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The path (and query) the browser is on.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&self.url(path)).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    /// WebDriver runs it outside the page's CSP, and even where the page's own scripts are
    /// disabled.
    pub async fn js(&self, script: &str, args: Vec<Json>) -> Json {
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    pub async fn js_async(&self, script: &str, args: Vec<Json>) -> Json {
        self.client
            .execute_async(script, args)
            .await
            .unwrap_or_else(|e| panic!("async script failed: {e}\n{}", &script[..script.len().min(300)]))
    }

    /// The element `css` selects; fails at once if there is none.
    pub async fn find(&self, css: &str) -> Element {
        self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self.client.find_all(Locator::Css(css)).await.expect("find_all").is_empty()
    }

    /// The element `css` selects, once it is there and visible.
    pub async fn wait_visible(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await
                && el.is_displayed().await.unwrap_or(false)
            {
                return el;
            }
            assert!(Instant::now() < deadline, "{css} did not become visible on {}", self.path().await);
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// Waits until nothing matches `css`.
    pub async fn wait_gone(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        while self.exists(css).await {
            assert!(Instant::now() < deadline, "{css} is still on {}", self.path().await);
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// Waits until `script` (a function body) returns true.
    pub async fn wait_js(&self, script: &str, args: Vec<Json>, what: &str) {
        let deadline = Instant::now() + WAIT;
        while self.js(script, args.clone()).await != Json::Bool(true) {
            assert!(Instant::now() < deadline, "timed out waiting until {what} on {}", self.path().await);
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// Waits until the element's visible text contains `needle`; returns that text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(el) => el.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed “{needle}” on {} (last: “{text}”)",
                self.path().await
            );
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// The visible text of the element `css` selects.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    pub async fn is_visible(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(el) => el.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Types `value` into the field `css` selects, replacing what was there.
    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.wait_visible(css).await;
        el.clear().await.expect("clear");
        el.send_keys(value).await.expect("type");
    }

    /// Clicks the element `css` selects, once it is visible.
    pub async fn click(&self, css: &str) {
        self.wait_visible(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Clicks the `tag` inside `scope` whose text is `text` (e.g. a `summary` “Delete…”).
    pub async fn click_text(&self, scope: &str, tag: &str, text: &str) {
        let el = self.find_text(scope, tag, text).await;
        el.click().await.unwrap_or_else(|e| panic!("click {tag} “{text}” in {scope}: {e}"));
    }

    /// The visible `tag` inside the element `scope` selects whose own text is `text`.
    pub async fn find_text(&self, scope: &str, tag: &str, text: &str) -> Element {
        let scope_el = self.wait_visible(scope).await;
        let xpath = format!(".//{tag}[normalize-space()='{text}']");
        let deadline = Instant::now() + WAIT;
        loop {
            for el in scope_el.find_all(Locator::XPath(&xpath)).await.expect("find_all") {
                if el.is_displayed().await.unwrap_or(false) {
                    return el;
                }
            }
            assert!(Instant::now() < deadline, "no visible {tag} “{text}” in {scope}");
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// Clicks `element` and waits until the browser has loaded a new document (a form post
    /// and its redirect, a link): the old document's elements go stale.
    pub async fn click_and_load(&self, element: Element) {
        let html = self.client.find(Locator::Css("html")).await.expect("the document");
        element.click().await.expect("click");
        let deadline = Instant::now() + WAIT;
        loop {
            match html.tag_name().await {
                Err(CmdError::Standard(e)) if e.error == ErrorStatus::StaleElementReference => break,
                _ => {}
            }
            assert!(Instant::now() < deadline, "clicking did not load a new page");
            actix_web::rt::time::sleep(POLL).await;
        }
        self.wait_loaded().await;
    }

    /// Waits until the current document has finished loading.
    pub async fn wait_loaded(&self) {
        self.wait_js("return document.readyState === 'complete';", vec![], "the page has loaded").await;
    }

    /// Sets a marker on `window`; it survives htmx swaps and vanishes with a page load.
    pub async fn set_marker(&self) {
        self.js("window.__tokenwardenMarker = 'still the same page';", vec![]).await;
    }

    /// Whether the marker set by `set_marker` is still there (no page load since).
    pub async fn marker_survives(&self) -> bool {
        self.js("return window.__tokenwardenMarker === 'still the same page';", vec![]).await == json!(true)
    }

    /// Waits until htmx has no request in flight and no swap pending.
    pub async fn wait_htmx_idle(&self) {
        self.wait_js(
            "return document.querySelectorAll('.htmx-request, .htmx-swapping, .htmx-settling').length === 0;",
            vec![],
            "htmx is idle",
        )
        .await;
    }

    /// Signs in through the login form and waits for the page that follows.
    pub async fn sign_in(&self, login: &str) {
        self.goto("/login").await;
        self.fill("#login", login).await;
        self.fill("#password", PASSWORD).await;
        let button = self.find_text("main form", "button", "Sign in").await;
        self.click_and_load(button).await;
        assert_ne!(self.path().await, "/login", "{login} should be signed in");
    }

    /// Signs out with the header's button.
    pub async fn sign_out(&self) {
        let button = self.find_text(".user-menu", "button", "Sign out").await;
        self.click_and_load(button).await;
    }

    /// A PNG of the whole page, not only the viewport. The viewport is stretched to the
    /// page's height for the shot (through the DevTools protocol) and put back after:
    /// capturing "beyond the viewport" instead leaves the inside of scrolling boxes, such
    /// as a wide table's, unpainted.
    pub async fn full_page_png(&self) -> Vec<u8> {
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await;
        let content = metrics["cssContentSize"]["height"].as_f64().unwrap_or(0.0).ceil();
        let viewport = metrics["cssLayoutViewport"]["clientHeight"].as_f64().unwrap_or(0.0);
        if content > viewport {
            let (width, scale) = if self.options.phone { (self.options.width, 2.0) } else { (0, 0.0) };
            self.cdp(
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": width, "height": content, "deviceScaleFactor": scale,
                        "mobile": self.options.phone }),
            )
            .await;
        }
        let shot = self.cdp("Page.captureScreenshot", json!({ "format": "png" })).await;
        if content > viewport {
            if self.options.phone {
                self.cdp(
                    "Emulation.setDeviceMetricsOverride",
                    json!({ "width": self.options.width, "height": self.options.height,
                            "deviceScaleFactor": 2.0, "mobile": true }),
                )
                .await;
            } else {
                self.cdp("Emulation.clearDeviceMetricsOverride", json!({})).await;
            }
        }
        let data = shot["data"].as_str().expect("screenshot data");
        base64::engine::general_purpose::STANDARD.decode(data).expect("base64 PNG")
    }

    /// Runs a Chrome DevTools Protocol command and returns its result.
    pub async fn cdp(&self, cmd: &'static str, params: Json) -> Json {
        self.client.issue_cmd(Cdp { cmd, params }).await.unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
    }
}

/// The source of axe-core's `axe.min.js`: `AXE_CORE_JS` if set, else
/// `target/axe-core/<version>/axe.min.js`, fetched once with `npm pack` (never committed).
pub fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = match std::env::var_os("AXE_CORE_JS") {
            Some(p) => PathBuf::from(p),
            None => fetch_axe_core(),
        };
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    })
}

/// The axe-core release the accessibility checks run.
const AXE_CORE_VERSION: &str = "4.14.1";

fn fetch_axe_core() -> PathBuf {
    let dir = target_dir().join("axe-core").join(AXE_CORE_VERSION);
    let js = dir.join("axe.min.js");
    if js.exists() {
        return js;
    }
    std::fs::create_dir_all(&dir).expect("create target/axe-core");
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        assert!(
            out.status.success(),
            "{cmd:?} failed (set AXE_CORE_JS to an axe.min.js to skip npm): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(Command::new("npm")
        .args(["pack", "--silent", &format!("axe-core@{AXE_CORE_VERSION}"), "--pack-destination"])
        .arg(&dir)
        .current_dir(&dir));
    let tarball = dir.join(format!("axe-core-{AXE_CORE_VERSION}.tgz"));
    run(Command::new("tar").arg("-xzf").arg(&tarball).arg("-C").arg(&dir).arg("package/axe.min.js"));
    std::fs::rename(dir.join("package/axe.min.js"), &js).expect("move axe.min.js");
    let _ = std::fs::remove_dir_all(dir.join("package"));
    let _ = std::fs::remove_file(tarball);
    js
}
