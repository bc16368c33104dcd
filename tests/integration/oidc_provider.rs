//! A real OpenID Provider for the tests: panva's `oidc-provider` (OpenID-certified), run by
//! Node.js from `tests/oidc/provider.js` on a free port, with the people of a small school
//! in a file the tests rewrite to move them between groups; and a tokenwarden whose
//! sign-in is that provider's. Shared by the HTTP suite and the browser suite.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use tokenwarden::domain::people::RoleMap;

use crate::helpers::{PASSWORD, TestApp, free_port, spawn_app_with};

pub const CLIENT_ID: &str = "tokenwarden";
pub const CLIENT_SECRET: &str = "a client secret for the tests";
pub const ROLE_MAP: &str = "student=Students,teacher=Faculty,ta=Assistants,Account Admin=IT";

/// The identity provider, stopped when dropped.
pub struct Provider {
    pub child: Child,
    pub issuer: String,
    accounts: PathBuf,
    dir: PathBuf,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Installs the pinned oidc-provider (`npm ci` in tests/oidc, as `.ci/run` does) the first
/// time a test needs it, so that `cargo test` on a fresh machine needs only Node.js.
fn installed(folder: &Path) {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        if folder.join("node_modules/oidc-provider").exists() {
            return;
        }
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(folder)
            .status()
            .expect("run npm (Node.js runs the test identity provider)");
        assert!(status.success(), "npm ci in tests/oidc failed");
    });
}

impl Provider {
    /// Starts the provider for a tokenwarden at `public_url`; `claims_in` is `userinfo` (the
    /// groups only from the user info endpoint) or `id_token` (in the ID token, as Entra ID
    /// and Keycloak send them).
    pub async fn start(public_url: &str, claims_in: &str) -> Provider {
        let dir = std::env::temp_dir()
            .join(format!("tw-oidc-{}", tokenwarden::domain::token_secret::random_base62(10)));
        std::fs::create_dir_all(&dir).unwrap();
        let accounts = dir.join("accounts.json");
        std::fs::write(&accounts, "{}").unwrap();
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        installed(&folder);
        let port = free_port();
        let child = Command::new("node")
            .arg(folder.join("provider.js"))
            .current_dir(&folder)
            .env("PORT", port.to_string())
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URI", format!("{public_url}login/oidc/callback"))
            .env("ACCOUNTS_FILE", &accounts)
            .env("CLAIMS_IN", claims_in)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node (Node.js runs the test identity provider)");
        let provider = Provider { child, issuer: format!("http://127.0.0.1:{port}"), accounts, dir };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return provider;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the identity provider did not start");
    }

    /// Puts `login` in the provider's directory with these groups (password: PASSWORD).
    pub fn set_person(&self, login: &str, name: &str, groups: &[&str]) {
        let mut all: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&self.accounts).unwrap()).unwrap();
        all[login] = json!({
            "password": PASSWORD,
            "name": name,
            "email": format!("{login}@school.example.edu"),
            "groups": groups,
        });
        std::fs::write(&self.accounts, all.to_string()).unwrap();
    }
}

/// A tokenwarden whose sign-in is the provider's, and the provider.
pub struct World {
    pub app: TestApp,
    pub provider: Provider,
}

pub async fn world_with(claims_in: &str, tweak: impl FnOnce(&mut tokenwarden::config::ServeArgs)) -> World {
    let port = free_port();
    let public_url = format!("http://127.0.0.1:{port}/");
    let provider = Provider::start(&public_url, claims_in).await;
    let issuer = provider.issuer.clone();
    let app = spawn_app_with(|s| {
        s.bind = format!("127.0.0.1:{port}").parse().unwrap();
        s.public_url = Some(public_url.parse().unwrap());
        s.oidc_issuer = Some(issuer.parse().unwrap());
        s.oidc_client_id = Some(CLIENT_ID.to_owned());
        s.oidc_client_secret = Some(CLIENT_SECRET.to_owned());
        s.oidc_scopes = "openid profile email groups".to_owned();
        s.oidc_role_map = RoleMap::parse(ROLE_MAP).unwrap();
        s.oidc_name = "Test University".to_owned();
        tweak(s);
    })
    .await;
    World { app, provider }
}

pub async fn world() -> World {
    world_with("userinfo", |_| {}).await
}
