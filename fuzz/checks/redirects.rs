//! Where the app sends a browser: a sign-in's `next` (`on_this_site`) and a `Referer` or
//! `HX-Current-URL` to go back to (`local_path`). Neither may lead off the site.

use super::{assert_local_path, text};
use tokenwarden::routes::{local_path, on_this_site};

pub fn check(data: &[u8]) {
    let s = text(data);
    let s = s.as_ref();

    if let Some(path) = on_this_site(s) {
        assert_local_path("on_this_site", s, &path);
        // What it gives is a reference to itself: following it again goes to the same place.
        assert_eq!(on_this_site(&path).as_deref(), Some(path.as_str()), "on_this_site({s:?})");
    }

    if let Some(path) = local_path(s) {
        assert_local_path("local_path", s, &path);
        assert!(!path.contains('#'), "local_path({s:?}) = {path:?} keeps a fragment");
        assert_eq!(on_this_site(&path).as_deref(), Some(path.as_str()), "local_path({s:?}) = {path:?}");
    }
    // A referer on any host of this site's own scheme gives the same path as the bare path.
    if let Some(rest) = s.strip_prefix('/')
        && let Some(path) = local_path(&format!("http://this-site.invalid/{rest}"))
    {
        assert_local_path("local_path", s, &path);
    }
}
