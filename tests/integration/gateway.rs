//! A real nginx in front of a service, asking tokenwarden with `auth_request` — the
//! configuration the README gives, generated on free ports — and the same cases against
//! `/auth/verify` with the header conventions of Traefik, Caddy and Envoy.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

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
            actix_web::App::new().default_service(actix_web::web::to(|req: actix_web::HttpRequest| async move {
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
            }))
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `http {}` body that the README documents for nginx, with the ports filled in.
pub fn nginx_site(listen: u16, tokenwarden: u16, upstream: u16, slug: &str) -> String {
    include_str!("../../docs/gateways/nginx.conf")
        .replace("listen 80;", &format!("listen 127.0.0.1:{listen};"))
        .replace("http://127.0.0.1:8080", &format!("http://127.0.0.1:{tokenwarden}"))
        .replace("http://127.0.0.1:9000", &format!("http://127.0.0.1:{upstream}"))
        .replace("service=gradebook", &format!("service={slug}"))
}

impl Nginx {
    /// Starts nginx in the foreground on a free port, in front of `upstream`, asking the
    /// tokenwarden at `tokenwarden` about service `slug`.
    pub async fn start(tokenwarden: u16, upstream: u16, slug: &str) -> Nginx {
        let dir = std::env::temp_dir().join(format!("tw-nginx-{}", tokenwarden::domain::token_secret::random_base62(10)));
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
        panic!("nginx did not start: {}", std::fs::read_to_string(nginx._dir.0.join("logs/error.log")).unwrap_or_default());
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
pub async fn through(port: u16, path: &str, token: Option<&str>) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut req = reqwest::Client::new().get(format!("http://127.0.0.1:{port}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("a request through the gateway");
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.text().await.unwrap_or_default())
}
