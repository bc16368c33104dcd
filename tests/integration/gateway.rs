//! A real nginx in front of a service, asking tokenwarden with `auth_request` — the
//! configuration the README gives, generated on free ports — and the same cases against
//! `/auth/verify` with the header conventions of Traefik, Caddy and Envoy.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::free_port;

/// An upstream service that answers every request with what it received, as JSON: the
/// method, the path and every header — so a test sees what the gateway passed on.
pub struct Echo {
    pub port: u16,
}

impl Echo {
    pub async fn start() -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let server = actix_web::HttpServer::new(|| {
            actix_web::App::new().default_service(actix_web::web::to(
                |req: actix_web::HttpRequest| async move {
                    let headers: serde_json::Map<String, serde_json::Value> = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().into()))
                        .collect();
                    actix_web::HttpResponse::Ok().json(serde_json::json!({
                        "method": req.method().as_str(),
                        "path": req.uri().to_string(),
                        "headers": headers,
                    }))
                },
            ))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        Echo { port }
    }
}

/// nginx, started from a configuration of this test's own, stopped when dropped.
pub struct Nginx {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `http {}` body that the README documents for nginx, with the ports filled in.
pub fn nginx_site(listen: u16, tokenwarden: u16, upstream: u16, slug: &str) -> String {
    include_str!("../../docs/gateways/nginx.conf")
        .replace("listen 80;", &format!("listen 127.0.0.1:{listen};"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{tokenwarden}"))
        .replace("upstream tokenwarden", &format!("upstream tokenwarden_{tokenwarden}"))
        .replace("http://tokenwarden/", &format!("http://tokenwarden_{tokenwarden}/"))
        .replace("http://127.0.0.1:9000", &format!("http://127.0.0.1:{upstream}"))
        .replace("service=gradebook", &format!("service={slug}"))
}

impl Nginx {
    /// Starts nginx in the foreground on a free port, in front of `upstream`, asking the
    /// tokenwarden at `tokenwarden` about service `slug`.
    pub async fn start(tokenwarden: u16, upstream: u16, slug: &str) -> Nginx {
        let dir = std::env::temp_dir()
            .join(format!("tw-nginx-{}", tokenwarden::domain::token_secret::random_base62(10)));
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        let port = free_port();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/logs/error.log warn;\n\
             events {{ worker_connections 256; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {dir}/body;\n  \
             proxy_temp_path {dir}/proxy;\n  fastcgi_temp_path {dir}/fastcgi;\n  uwsgi_temp_path {dir}/uwsgi;\n  \
             scgi_temp_path {dir}/scgi;\n{site}\n}}\n",
            dir = dir.display(),
            site = nginx_site(port, tokenwarden, upstream, slug),
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(nginx_binary())
            .args(["-p", &dir.to_string_lossy(), "-c", &dir.join("nginx.conf").to_string_lossy()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nginx (Debian's nginx package; .ci/run installs it)");
        let nginx = Nginx { child, port, _dir: TempDir(dir) };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "nginx did not start: {}",
            std::fs::read_to_string(nginx._dir.0.join("logs/error.log")).unwrap_or_default()
        );
    }
}

fn nginx_binary() -> String {
    std::env::var("NGINX").unwrap_or_else(|_| {
        ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nginx")
            .to_owned()
    })
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET through the gateway, with the token (if any) as a bearer token.
pub async fn through(
    port: u16,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut req = reqwest::Client::new().get(format!("http://127.0.0.1:{port}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("a request through the gateway");
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.text().await.unwrap_or_default())
}

/// Caddy, started with the README's Caddyfile on free ports, stopped when dropped.
pub struct Caddy {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl Caddy {
    pub async fn start(tokenwarden: u16, upstream: u16, slug: &str) -> Caddy {
        let dir = std::env::temp_dir()
            .join(format!("tw-caddy-{}", tokenwarden::domain::token_secret::random_base62(10)));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        // The documented site, on a free loopback port, without Caddy's admin endpoint and
        // automatic HTTPS (no certificate for a test).
        let site = include_str!("../../docs/gateways/Caddyfile")
            .replace("grades.example.edu", &format!("http://127.0.0.1:{port}"))
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{tokenwarden}"))
            .replace("127.0.0.1:9000", &format!("127.0.0.1:{upstream}"))
            .replace("service=gradebook", &format!("service={slug}"));
        let conf = format!(
            "{{\n\tadmin off\n\tauto_https off\n\tstorage file_system {}\n}}\n\n{site}",
            dir.display()
        );
        std::fs::write(dir.join("Caddyfile"), conf).unwrap();
        let child = Command::new(std::env::var("CADDY").unwrap_or_else(|_| "caddy".into()))
            .args(["run", "--adapter", "caddyfile", "--config", &dir.join("Caddyfile").to_string_lossy()])
            .env("HOME", &dir)
            .env("XDG_DATA_HOME", &dir)
            .env("XDG_CONFIG_HOME", &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start caddy (Debian's caddy package; .ci/run installs it)");
        let caddy = Caddy { child, port, _dir: TempDir(dir) };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return caddy;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("caddy did not start");
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn port_of(app: &crate::helpers::TestApp) -> u16 {
    app.address.rsplit(':').next().and_then(|p| p.parse().ok()).expect("the app's port")
}

/// What the upstream service received, when nginx let the request through.
fn received(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("the upstream's echo, not {body}"))
}

#[actix_web::test]
async fn nginx_with_auth_request_lets_through_only_what_tokenwarden_vouches_for() {
    let s = crate::services::school().await;
    let echo = Echo::start().await;
    let nginx = Nginx::start(port_of(&s.app), echo.port, "gradebook").await;

    // Valid: the service sees the request and who it is from.
    let (status, _, body) = through(nginx.port, "/grades/7?term=fall", Some(&s.tess_read.secret)).await;
    assert_eq!(status, StatusCode::OK);
    let seen = received(&body);
    assert_eq!(seen["path"], "/grades/7?term=fall");
    let headers = &seen["headers"];
    assert_eq!(headers["x-tokenwarden-login"], "tess");
    assert_eq!(headers["x-tokenwarden-user-id"], s.app.user_id("tess").to_string());
    assert_eq!(headers["x-tokenwarden-email"], "tess@example.edu");
    assert_eq!(headers["x-tokenwarden-roles"], "teacher");
    assert_eq!(headers["x-tokenwarden-student-only"], "false");
    assert_eq!(headers["x-tokenwarden-token-id"], s.tess_read.id.to_string());
    assert_eq!(headers["x-tokenwarden-scopes"], "gradebook:read");

    // A client cannot forge the identity: nginx sets those headers, it does not append.
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/grades/1", nginx.port))
        .bearer_auth(&s.tess_read.secret)
        .header("X-Tokenwarden-Login", "admin")
        .header("X-Tokenwarden-Roles", "admin")
        .send()
        .await
        .unwrap();
    let seen = received(&res.text().await.unwrap());
    assert_eq!(seen["headers"]["x-tokenwarden-login"], "tess");
    assert_eq!(seen["headers"]["x-tokenwarden-roles"], "teacher");

    // The client's Traefik-style headers never reach tokenwarden (the configuration
    // removes them): nginx's own describe the request.
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/grades/7", nginx.port))
        .bearer_auth(&s.tess_read.secret)
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Uri", "/grades/7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a read-only token's POST");
    assert!(
        res.headers()["x-tokenwarden-error"].to_str().unwrap().contains("gradebook:write"),
        "judged as a POST"
    );
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/grades/7", nginx.port))
        .bearer_auth(&s.tess_read.secret)
        .header("X-Forwarded-Method", "DELETE")
        .header("X-Forwarded-Uri", "/admin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "removed, so not a second request either");

    // A missing scope: 403 with tokenwarden's reason and challenge (found in review: the
    // challenge was lost), and nothing reaches the service.
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/grades/7", nginx.port))
        .bearer_auth(&s.tess_read.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers()["x-tokenwarden-error"].to_str().unwrap().contains("gradebook:write"));
    assert_eq!(
        one_challenge(res.headers()),
        "Bearer realm=\"gradebook\", error=\"insufficient_scope\", scope=\"gradebook:write\""
    );
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/grades/7", nginx.port))
        .bearer_auth(&s.tess_write.secret)
        .json(&serde_json::json!({"grade": "A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "with the write scope");

    // No token, mangled, expired, pending, a student-only user's past its date: 401 with
    // the Bearer challenge. Each case its own token, each valid before its case applied.
    let mut mangled = s.tess_read.secret.clone().into_bytes();
    mangled[8] = if mangled[8] == b'a' { b'b' } else { b'a' };
    let mangled = String::from_utf8(mangled).unwrap();
    let expired = s.app.issue_token("tess", Some(30), &["gradebook:read"]);
    let student_past = s.app.issue_token("sam", Some(30), &["gradebook:read"]);
    let pending = s.app.issue_token("tess", None, &["gradebook:read"]);
    for t in [&expired, &student_past, &pending] {
        assert_eq!(
            through(nginx.port, "/grades/7", Some(&t.secret)).await.0,
            StatusCode::OK,
            "valid at first"
        );
    }
    crate::services::let_expire(&s.app, &expired);
    crate::services::let_expire(&s.app, &student_past);
    {
        use diesel::prelude::*;
        use tokenwarden::db::schema::access_tokens;
        let mut conn = tokenwarden::db::connect(&s.app.database_url).unwrap();
        diesel::update(access_tokens::table.find(pending.id))
            .set(access_tokens::workflow_state.eq("pending"))
            .execute(&mut conn)
            .unwrap();
    }
    for (what, token) in [
        ("no token", None),
        ("mangled", Some(mangled.as_str())),
        ("expired", Some(expired.secret.as_str())),
        ("a student-only user's, past its date", Some(student_past.secret.as_str())),
        ("pending", Some(pending.secret.as_str())),
    ] {
        let (status, headers, _) = through(nginx.port, "/grades/7", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        // Found in review: nginx sent it twice.
        assert!(one_challenge(&headers).starts_with("Bearer"), "{what}: the challenge");
    }

    // Regenerated (through a token that holds what it regenerates: rule 13): the old
    // secret is refused, the new one works.
    let regenerator = s.app.issue_token(
        "tess",
        None,
        &["gradebook:read", "gradebook:write", "url:PUT|/api/v1/users/:user_id/tokens/:id"],
    );
    let res = s
        .app
        .api(&regenerator.secret)
        .put_form(&format!("/api/v1/users/self/tokens/{}", s.tess_write.id), &[("token[regenerate]", "1")])
        .await;
    let new = res.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        through(nginx.port, "/grades/1", Some(&s.tess_write.secret)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(through(nginx.port, "/grades/1", Some(&new)).await.0, StatusCode::OK);

    // Revoked through the admin page: refused on the very next request.
    let tess = s.app.user_id("tess");
    let res = s.admin.post_form(&format!("/admin/users/{tess}/tokens/{}/revoke", s.tess_read.id), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(through(nginx.port, "/grades/1", Some(&s.tess_read.secret)).await.0, StatusCode::UNAUTHORIZED);

    // A suspended owner: every token of theirs is refused.
    assert_eq!(through(nginx.port, "/grades/1", Some(&new)).await.0, StatusCode::OK);
    let res = s.admin.post_form(&format!("/admin/users/{tess}/suspend"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(through(nginx.port, "/grades/1", Some(&new)).await.0, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn caddy_with_forward_auth_lets_through_only_what_tokenwarden_vouches_for() {
    let s = crate::services::school().await;
    let echo = Echo::start().await;
    let caddy = Caddy::start(port_of(&s.app), echo.port, "gradebook").await;

    let (status, _, body) = through(caddy.port, "/grades/7?term=fall", Some(&s.tess_read.secret)).await;
    assert_eq!(status, StatusCode::OK);
    let seen = received(&body);
    assert_eq!(seen["path"], "/grades/7?term=fall");
    assert_eq!(seen["headers"]["x-tokenwarden-login"], "tess");
    assert_eq!(seen["headers"]["x-tokenwarden-scopes"], "gradebook:read");
    // Forged identity headers are replaced.
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/grades/1", caddy.port))
        .bearer_auth(&s.tess_read.secret)
        .header("X-Tokenwarden-Login", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(received(&res.text().await.unwrap())["headers"]["x-tokenwarden-login"], "tess");
    // Refusals come back as tokenwarden gave them.
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/grades/7", caddy.port))
        .bearer_auth(&s.tess_read.secret)
        .json(&serde_json::json!({"grade": "A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers()["x-tokenwarden-error"].to_str().unwrap().contains("gradebook:write"));
    assert!(one_challenge(res.headers()).contains("error=\"insufficient_scope\""));
    // The client's nginx-style headers never reach tokenwarden (the Caddyfile removes
    // them): Caddy's own describe the request.
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/grades/7", caddy.port))
        .bearer_auth(&s.tess_write.secret)
        .header("X-Original-Method", "DELETE")
        .header("X-Original-URI", "/admin")
        .json(&serde_json::json!({"grade": "A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "removed, so not a second request");
    assert_eq!(received(&res.text().await.unwrap())["method"], "POST");
    // Odd spellings of a path are judged in every reading.
    let (status, _, _) = through(caddy.port, "/grades/%2e%2e/admin", Some(&s.tess_write.secret)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = through(caddy.port, "/grades/7", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(one_challenge(&headers).starts_with("Bearer"));
    // Revoked: refused on the very next request.
    let tess = s.app.user_id("tess");
    let res = s.admin.post_form(&format!("/admin/users/{tess}/tokens/{}/revoke", s.tess_read.id), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(through(caddy.port, "/grades/7", Some(&s.tess_read.secret)).await.0, StatusCode::UNAUTHORIZED);
}

/// The README shows the configurations the tests run, as they are in `docs/gateways`.
#[test]
fn the_readme_shows_the_gateway_configurations_the_tests_run() {
    let readme = include_str!("../../README.md");
    for (fence, file) in [
        ("```nginx\n", include_str!("../../docs/gateways/nginx.conf")),
        ("```caddyfile\n", include_str!("../../docs/gateways/Caddyfile")),
    ] {
        let block = readme
            .split(fence)
            .nth(1)
            .and_then(|rest| rest.split("\n```\n").next())
            .unwrap_or_else(|| panic!("no {fence} block in the README"));
        assert_eq!(format!("{block}\n"), file, "the README's {fence} block and docs/gateways differ");
    }
}

/// The one `WWW-Authenticate` header of an answer (a client reads two as two challenges).
fn one_challenge(headers: &reqwest::header::HeaderMap) -> String {
    let all: Vec<_> = headers.get_all("www-authenticate").iter().collect();
    assert_eq!(all.len(), 1, "one challenge: {all:?}");
    all[0].to_str().unwrap().to_owned()
}
