//! `multipart/form-data` bodies, the shape of a form with a file: read whole (they are
//! bounded before they are read) by the CSRF check and by the page that takes the upload.

use actix_web::http::header::{self, HeaderMap};
use actix_web::web::Bytes;
use futures_util::StreamExt;

/// The largest multipart body taken: the people import's file, lines pasted beside it, and
/// the form's few small fields.
pub const MAX_BODY_BYTES: usize = 2 * crate::domain::people_import::MAX_BYTES + 64 * 1024;

/// One field of the form.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    /// The name of the file a file field carried (as the browser gives it).
    pub file_name: Option<String>,
    pub data: Bytes,
}

/// Whether a request with these headers carries a multipart form.
pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Why a body could not be read as a multipart form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// A field is larger than the limit: its name.
    TooLarge(String),
    /// Not a well-formed multipart body.
    Malformed(String),
}

/// The fields of a whole multipart `body`, each at most `part_limit` bytes.
pub async fn parts(headers: &HeaderMap, body: Bytes, part_limit: usize) -> Result<Vec<Part>, Unreadable> {
    let stream = futures_util::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(body) });
    let mut form = actix_multipart::Multipart::new(headers, stream);
    let mut out = Vec::new();
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| Unreadable::Malformed(e.to_string()))?;
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.content_disposition().and_then(|d| d.get_filename()).map(str::to_owned);
        let data = match field.bytes(part_limit).await {
            Ok(Ok(data)) => data,
            Ok(Err(e)) => return Err(Unreadable::Malformed(e.to_string())),
            Err(_) => return Err(Unreadable::TooLarge(name)),
        };
        out.push(Part { name, file_name, data });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ".parse().unwrap());
        h
    }

    const BODY: &str = "--XyZ\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nabc\r\n\
                        --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\n\
                        Content-Type: text/csv\r\n\r\nlogin,name\r\nsam,Sam\r\n--XyZ--\r\n";

    #[actix_web::test]
    async fn the_fields_and_the_file_are_read() {
        assert!(is_multipart(&headers()));
        let parts = parts(&headers(), Bytes::from_static(BODY.as_bytes()), 1024).await.unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].name.as_str(), parts[0].data.as_ref()), ("csrf_token", b"abc".as_slice()));
        assert_eq!(parts[1].file_name.as_deref(), Some("people.csv"));
        assert_eq!(parts[1].data.as_ref(), b"login,name\r\nsam,Sam");
    }

    #[actix_web::test]
    async fn a_field_over_the_limit_or_a_broken_body_is_refused() {
        let too_large = parts(&headers(), Bytes::from_static(BODY.as_bytes()), 5).await;
        assert_eq!(too_large.unwrap_err(), Unreadable::TooLarge("file".into()));
        let broken = parts(&headers(), Bytes::from_static(b"--nope\r\n"), 1024).await;
        assert!(broken.is_err() || broken.unwrap().is_empty());
    }
}
