//! `@username` mentions: found in a message's text, resolved to members.

use crate::ids::UserId;
use crate::model::MemberEntry;

/// Characters a username may hold (see `Username`).
fn username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// The lowercase usernames `@mentioned` in `text`, in order of first
/// appearance, without repeats. An `@` counts only at the start or after a
/// character that cannot be part of a username (so `bob@example.com`
/// mentions nobody); a trailing `.` or `-` ends a sentence, not a name.
pub(crate) fn mentioned_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        let starts = c == '@' && !prev.is_some_and(username_char);
        prev = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[i + 1..];
        let end = rest.find(|c: char| !username_char(c)).unwrap_or(rest.len());
        let name = rest[..end].trim_end_matches(['.', '-']);
        if name.len() >= 3 && name.len() <= 50 {
            let key = name.to_ascii_lowercase();
            if !names.contains(&key) {
                names.push(key);
            }
        }
    }
    names
}

/// The members of `members` that `text` mentions, in order, leaving out
/// `author` (nobody mentions themself) and names that are no member's.
pub(crate) fn resolve(text: &str, members: &[MemberEntry], author: UserId) -> Vec<UserId> {
    mentioned_names(text)
        .iter()
        .filter_map(|name| {
            members
                .iter()
                .find(|m| m.profile.username.eq_ignore_ascii_case(name))
                .map(|m| m.member.user_id)
        })
        .filter(|id| *id != author)
        .collect()
}

/// Whether `text` may mention anyone (a cheap test before reading the
/// member list).
pub(crate) fn may_mention(text: &str) -> bool {
    text.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_at_word_starts_and_kept_once() {
        assert_eq!(
            mentioned_names("@Bob hi @carol, and @bob again (@dave.) mail bob@example.com"),
            vec!["bob", "carol", "dave"]
        );
        assert_eq!(
            mentioned_names("@al is too short, @ alone, @@eve"),
            vec!["eve"]
        );
        assert_eq!(mentioned_names("end @zed-"), vec!["zed"]);
        assert!(mentioned_names("no mentions").is_empty());
    }
}
