//! Reading a request's URL: query parameters and percent-escapes, which the
//! `http` crate leaves encoded (`Uri::query` is the raw query string).

use ::http::Uri;

/// query_param returns the first value of the query parameter `name` in
/// uri, decoded as browsers encode forms (`+` is a space, `%XX` a byte;
/// bytes that are not UTF-8 become U+FFFD). A parameter without `=` has
/// the value `""`; a missing one is None.
///
/// ```
/// use embly::http::{query_param, Uri};
///
/// let uri: Uri = "/api/users?email=ada%40example.com&full".parse().unwrap();
/// assert_eq!(query_param(&uri, "email").as_deref(), Some("ada@example.com"));
/// assert_eq!(query_param(&uri, "full").as_deref(), Some(""));
/// assert_eq!(query_param(&uri, "page"), None);
/// ```
pub fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if form_decode(key) == name {
            Some(form_decode(value))
        } else {
            None
        }
    })
}

/// percent_decode turns the `%XX` escapes of s (a path, or a part of one)
/// into the bytes they stand for; a `%` not followed by two hex digits is
/// kept as it is. The result is bytes, since an escape can stand for any
/// byte: a kv key, say, takes them as they are.
///
/// ```
/// use embly::http::percent_decode;
///
/// assert_eq!(percent_decode("user%2F1%20a+b"), b"user/1 a+b");
/// assert_eq!(percent_decode("100%"), b"100%");
/// ```
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn form_decode(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode(&s.replace('+', " "))).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(percent_decode(""), b"");
        assert_eq!(percent_decode("%"), b"%");
        assert_eq!(percent_decode("%4"), b"%4");
        assert_eq!(percent_decode("%41"), b"A");
        assert_eq!(percent_decode("%zz%ff"), b"%zz\xff");
        assert_eq!(form_decode("a+b%2Bc%FF"), "a b+c\u{fffd}");
        let uri: Uri = "/kv?prefix=user%2F&prefix=second&x%3Dy=1".parse().unwrap();
        assert_eq!(query_param(&uri, "prefix").as_deref(), Some("user/"));
        assert_eq!(query_param(&uri, "x=y").as_deref(), Some("1"));
        let bare: Uri = "/kv".parse().unwrap();
        assert_eq!(query_param(&bare, "prefix"), None);
    }
}
