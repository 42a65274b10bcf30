//! `@Name` in a note tells that member: by full name (`@Layla Nasser`), or by first
//! name when no other member shares it (`@Layla`), case-insensitively. A rep, who sees
//! only their own records, is told only of a record they own; nobody is told of their
//! own mention.

use crate::auth::model::Role;
use crate::crm::model::Entity;
use crate::db::Tx;
use crate::error::AppError;
use crate::request::Principal;
use uuid::Uuid;

/// Whether `text` (lower-cased) holds `@tag` ending at a word boundary.
fn tagged(text: &str, tag: &str) -> bool {
    let needle = format!("@{tag}");
    text.match_indices(&needle).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric())
    })
}

/// Who of `members` (id, name) the text mentions.
pub fn mentioned(text: &str, members: &[(Uuid, String)]) -> Vec<Uuid> {
    if !text.contains('@') {
        return Vec::new();
    }
    let text = text.to_lowercase();
    let first = |name: &str| name.split_whitespace().next().unwrap_or("").to_lowercase();
    members
        .iter()
        .filter(|(_, name)| {
            let full = name.trim().to_lowercase();
            let given = first(name);
            let unique = members.iter().filter(|(_, n)| first(n) == given).count() == 1;
            (!full.is_empty() && tagged(&text, &full))
                || (unique && !given.is_empty() && tagged(&text, &given))
        })
        .map(|(id, _)| *id)
        .collect()
}

/// Notifies the members a note on `entity` `id` mentions.
pub async fn notify(
    tx: &mut Tx,
    p: &Principal,
    entity: Entity,
    id: Uuid,
    owner: Option<Uuid>,
    body: &str,
) -> Result<(), AppError> {
    if !body.contains('@') {
        return Ok(());
    }
    let members: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT u.id, u.name, m.role FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE m.status = 'ACTIVE'",
    )
    .fetch_all(&mut **tx)
    .await?;
    let names: Vec<(Uuid, String)> = members.iter().map(|(i, n, _)| (*i, n.clone())).collect();
    let excerpt: String = body.chars().take(140).collect();
    for user in mentioned(body, &names) {
        let role = members
            .iter()
            .find(|(i, _, _)| *i == user)
            .and_then(|(_, _, r)| Role::parse(r));
        let sees = role != Some(Role::Sales) || owner == Some(user);
        if user == p.user_id || !sees {
            continue;
        }
        sqlx::query(
            "INSERT INTO notifications (tenant_id, id, user_id, kind, body, link)
             VALUES ($1, gen_random_uuid(), $2, 'MENTION', $3, $4)",
        )
        .bind(p.tenant_id)
        .bind(user)
        .bind(format!("{} mentioned you: {excerpt}", p.name))
        .bind(entity.path(id))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_and_unique_first_names_are_mentions() {
        let layla = Uuid::from_u128(1);
        let karim = Uuid::from_u128(2);
        let karima = Uuid::from_u128(3);
        let omar = Uuid::from_u128(4);
        let members = vec![
            (layla, "Layla Nasser".to_string()),
            (karim, "Karim Adel".to_string()),
            (karima, "Karim Saleh".to_string()),
            (omar, "عمر فاروق".to_string()),
        ];
        assert_eq!(mentioned("@layla can you call?", &members), vec![layla]);
        assert_eq!(mentioned("ask @Karim Adel.", &members), vec![karim]);
        // Two Karims: the first name alone names nobody.
        assert!(mentioned("ask @Karim", &members).is_empty());
        assert_eq!(mentioned("@عمر فاروق راجع السعر", &members), vec![omar]);
        // A longer word is not a mention, nor is an email address.
        assert!(mentioned("@laylanasser", &members).is_empty());
        assert!(mentioned("layla@example.com", &members).is_empty());
        assert!(mentioned("write to sales@layla.com", &members).is_empty());
    }
}
