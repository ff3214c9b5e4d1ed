//! Control characters in text: refused in every text field, at the edge.
//!
//! NUL cannot be stored in a PostgreSQL `text` column, and other control
//! characters in names and messages confuse terminals, logs and other
//! clients. The domain types refuse them one field at a time; the checks
//! here let a transport refuse a whole JSON body or WebSocket frame before
//! any of its strings reaches a service or a store, whatever the field
//! (docs/api.md, "Errors").

/// True for control characters other than newline and tab.
pub(crate) fn is_forbidden_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Whether `text` holds a control character other than newline and tab.
pub fn has_forbidden_control(text: &str) -> bool {
    text.chars().any(is_forbidden_control)
}

/// Whether a JSON text holds, in any string, a control character other
/// than newline and tab, raw (DEL, U+0080..U+009F) or escaped (`\u0000`,
/// `\b`, `\f`, `\r`).
///
/// One pass over the bytes, allocating nothing, so it can run on every
/// frame; [`field_with_forbidden_control`] names the field afterwards.
/// Raw bytes below 0x20 are not looked at: JSON allows them only as
/// whitespace between values, never inside a string.
pub fn json_has_forbidden_control(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'\\' => match json.get(i + 1) {
                Some(b'b' | b'f' | b'r') => return true,
                Some(b'u') => {
                    let code = json
                        .get(i + 2..i + 6)
                        .and_then(|hex| std::str::from_utf8(hex).ok())
                        .and_then(|hex| u32::from_str_radix(hex, 16).ok());
                    if code
                        .and_then(char::from_u32)
                        .is_some_and(is_forbidden_control)
                    {
                        return true;
                    }
                    i += 6;
                }
                _ => i += 2,
            },
            0x7f => return true,
            // U+0080..U+009F in UTF-8.
            0xc2 if json.get(i + 1).is_some_and(|b| (0x80..=0x9f).contains(b)) => return true,
            _ => i += 1,
        }
    }
    false
}

/// The name of the first field (`content`, `member_ids[2]`) whose string
/// value, or whose key, holds a forbidden control character.
pub fn field_with_forbidden_control(value: &serde_json::Value) -> Option<String> {
    fn walk(value: &serde_json::Value, path: &str) -> Option<String> {
        match value {
            serde_json::Value::String(s) if has_forbidden_control(s) => Some(path.to_owned()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            serde_json::Value::Object(fields) => fields.iter().find_map(|(k, v)| {
                let name = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if has_forbidden_control(k) {
                    return Some(name.escape_debug().to_string());
                }
                walk(v, &name)
            }),
            _ => None,
        }
    }
    walk(value, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(json: &str) -> bool {
        json_has_forbidden_control(json.as_bytes())
    }

    #[test]
    fn escaped_nul_and_other_controls_are_found() {
        for json in [
            r#"{"a":"x\u0000y"}"#,
            r#"{"a":"\u001F"}"#,
            r#"{"a":"\u007f"}"#,
            r#"{"a":"\u0085"}"#,
            r#"{"a":"\b"}"#,
            r#"{"a":"\f"}"#,
            r#"{"a":"\r"}"#,
            "{\"a\":\"\u{7f}\"}",
            "{\"a\":\"\u{85}\"}",
        ] {
            assert!(flagged(json), "{json}");
        }
    }

    #[test]
    fn newline_tab_escaped_backslashes_and_other_text_pass() {
        for json in [
            r#"{"a":"line\nnext\tcol"}"#,
            r#"{"a":"\\u0000 is only text"}"#,
            r#"{"a":"\\\\"}"#,
            r#"{"a":"caf\u00e9 \u00a0 \ud83d\ude42"}"#,
            "{\"a\":\"é漢🙂\"}",
            "{\n\t\"a\": [1, 2]\r\n}",
        ] {
            assert!(!flagged(json), "{json}");
        }
    }

    #[test]
    fn a_truncated_escape_is_not_a_panic() {
        assert!(!flagged(r#"{"a":"\u00"#));
        assert!(!flagged("\\"));
    }

    #[test]
    fn the_field_is_named() {
        let value = serde_json::json!({"ok": "fine", "member_ids": ["a", "b\u{0}"]});
        assert_eq!(
            field_with_forbidden_control(&value).as_deref(),
            Some("member_ids[1]")
        );
        let value = serde_json::json!({"outer": {"inner": "\r"}});
        assert_eq!(
            field_with_forbidden_control(&value).as_deref(),
            Some("outer.inner")
        );
        assert_eq!(
            field_with_forbidden_control(&serde_json::json!({"a": "b\n"})),
            None
        );
    }
}
