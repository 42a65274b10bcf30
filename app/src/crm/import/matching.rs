//! How an import decides each row: checked by the entity's rules, matched against
//! existing records by email, phone or website in one query per batch, and planned as
//! created, updated, skipped or failed under the duplicate rule. Reads only, so the
//! preview uses it as the runner does.

use super::model::*;
use super::rows::{RowRules, Values};
use super::sheet::Row;
use crate::crm::access::Scope;
use crate::crm::model::Entity;
use crate::db::{new_id, Tx};
use crate::error::AppError;
use crate::i18n::t;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// A record matched by email, phone or website.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Email(String),
    Phone(String),
    Domain(String),
}

fn keys_of(entity: Entity, v: &Values) -> Vec<Key> {
    let mut keys = Vec::new();
    match entity {
        Entity::Company => keys.extend(v.domain.clone().map(Key::Domain)),
        _ => keys.extend(v.email.as_ref().map(|e| Key::Email(e.to_lowercase()))),
    }
    keys.extend(v.phone.clone().map(Key::Phone));
    keys
}

/// A record found by its keys: id, owner, email (a company's website), phone, created.
type Found = (
    Uuid,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    chrono::DateTime<chrono::Utc>,
);

#[derive(Clone, Copy, Debug)]
struct Known {
    id: Uuid,
    /// In the importing member's scope: they may skip or update it. A record out of
    /// scope is known only so a contact's unique email can be refused.
    editable: bool,
}

/// The records seen so far: looked up in the database, or made by this import.
#[derive(Default)]
pub(super) struct KeyMap {
    known: HashMap<Key, Known>,
}

impl KeyMap {
    fn remember(&mut self, entity: Entity, v: &Values, known: Known) {
        for key in keys_of(entity, v) {
            let entry = self.known.entry(key).or_insert(known);
            if !entry.editable {
                *entry = known;
            }
        }
    }

    /// Looks up the keys of `values` not seen yet: one query per batch.
    async fn load<'a>(
        &mut self,
        tx: &mut Tx,
        entity: Entity,
        scope: &Scope,
        values: impl Iterator<Item = &'a Values>,
    ) -> Result<(), AppError> {
        let (mut emails, mut phones) = (HashSet::new(), HashSet::new());
        for key in values.flat_map(|v| keys_of(entity, v)) {
            if self.known.contains_key(&key) {
                continue;
            }
            match key {
                Key::Email(e) | Key::Domain(e) => emails.insert(e),
                Key::Phone(p) => phones.insert(p),
            };
        }
        if emails.is_empty() && phones.is_empty() {
            return Ok(());
        }
        // Joins with the keys rather than `= ANY($1)`: the planner then probes the
        // indexes key by key (or hashes the keys), and never compares every record
        // with every key. `email_key` is the leakproof twin of the citext email (see
        // migration 0003).
        let sql = match entity {
            Entity::Company => {
                "SELECT r.id, r.owner_id, lower(r.domain), r.phone_e164, r.created_at
                   FROM companies r JOIN unnest($1::text[]) AS k(v) ON lower(r.domain) = k.v
                 UNION
                 SELECT r.id, r.owner_id, lower(r.domain), r.phone_e164, r.created_at
                   FROM companies r JOIN unnest($2::text[]) AS k(v) ON r.phone_e164 = k.v
                 ORDER BY 5, 1"
            }
            Entity::Lead => {
                "SELECT r.id, r.owner_id, r.email_key, r.phone_e164, r.created_at
                   FROM leads r JOIN unnest($1::text[]) AS k(v) ON r.email_key = k.v
                 UNION
                 SELECT r.id, r.owner_id, r.email_key, r.phone_e164, r.created_at
                   FROM leads r JOIN unnest($2::text[]) AS k(v) ON r.phone_e164 = k.v
                 ORDER BY 5, 1"
            }
            _ => {
                "SELECT r.id, r.owner_id, r.email_key, r.phone_e164, r.created_at
                   FROM contacts r JOIN unnest($1::text[]) AS k(v) ON r.email_key = k.v
                 UNION
                 SELECT r.id, r.owner_id, r.email_key, r.phone_e164, r.created_at
                   FROM contacts r JOIN unnest($2::text[]) AS k(v) ON r.phone_e164 = k.v
                 ORDER BY 5, 1"
            }
        };
        let mut found: Vec<Found> = sqlx::query_as(sql)
            .bind(emails.into_iter().collect::<Vec<_>>())
            .bind(phones.into_iter().collect::<Vec<_>>())
            .fetch_all(&mut **tx)
            .await?;
        // The oldest record in scope wins when several share an address: one out of
        // scope must not hide the member's own.
        found.sort_by_key(|(_, owner, ..)| !scope.allows(*owner));
        for (id, owner, email, phone, _) in found {
            let known = Known {
                id,
                editable: scope.allows(owner),
            };
            let email = email.map(|e| match entity {
                Entity::Company => Key::Domain(e),
                _ => Key::Email(e),
            });
            for key in email.into_iter().chain(phone.map(Key::Phone)) {
                self.known.entry(key).or_insert(known);
            }
        }
        Ok(())
    }
}

/// What the import does with one row.
pub(super) struct Planned {
    pub outcome: Outcome,
    pub values: Option<Values>,
    pub reason: Option<String>,
    /// The record created or updated.
    pub(super) target: Option<Uuid>,
}

/// Decides every row of a batch: checked, matched, and created, updated, skipped or
/// failed under the duplicate rule. Reads only; the preview uses it as it is.
pub(super) async fn plan(
    tx: &mut Tx,
    rules: &RowRules<'_>,
    keys: &mut KeyMap,
    dedupe: Dedupe,
    rows: &[Row],
) -> Result<Vec<Planned>, AppError> {
    let locale = rules.locale;
    let entity = rules.entity;
    let checked: Vec<Result<Values, String>> = rows.iter().map(|r| rules.check(r)).collect();
    keys.load(tx, entity, rules.scope, checked.iter().flatten())
        .await?;
    let planned = checked
        .into_iter()
        .map(|checked| {
            let v = match checked {
                Ok(v) => v,
                Err(reason) => {
                    return Planned {
                        outcome: Outcome::Fail,
                        values: None,
                        reason: Some(reason),
                        target: None,
                    }
                }
            };
            let row_keys = keys_of(entity, &v);
            // A match out of scope is not the member's to skip or update, and the
            // answer must not tell them what it is: the row is created as if it were
            // not there, as saving the record by hand would.
            let hit = row_keys
                .iter()
                .filter_map(|k| keys.known.get(k).copied())
                .find(|k| k.editable);
            // A contact's email is unique, in scope or not: the row can only update the
            // contact that has it (the same answer as saving the contact by hand).
            let email_taken = entity == Entity::Contact
                && row_keys
                    .first()
                    .is_some_and(|k| matches!(k, Key::Email(_)) && keys.known.contains_key(k));
            let fail = |v: Values, key: &str| Planned {
                outcome: Outcome::Fail,
                values: Some(v),
                reason: Some(t(locale, key)),
                target: None,
            };
            match (hit, dedupe) {
                (Some(_), Dedupe::Skip) => Planned {
                    outcome: Outcome::Skip,
                    values: Some(v),
                    reason: Some(t(locale, "import.reason.exists")),
                    target: None,
                },
                (Some(known), Dedupe::Update) => {
                    keys.remember(entity, &v, known);
                    Planned {
                        outcome: Outcome::Update,
                        values: Some(v),
                        reason: None,
                        target: Some(known.id),
                    }
                }
                _ if email_taken => fail(v, "import.error.email_taken"),
                _ => {
                    let id = new_id();
                    keys.remember(entity, &v, Known { id, editable: true });
                    Planned {
                        outcome: Outcome::Create,
                        values: Some(v),
                        reason: None,
                        target: Some(id),
                    }
                }
            }
        })
        .collect();
    Ok(planned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn companies_match_on_website_and_people_on_email() {
        let v = Values {
            email: Some("A@X.com".into()),
            domain: Some("x.com".into()),
            phone: Some("+14155552671".into()),
            ..Values::default()
        };
        assert_eq!(
            keys_of(Entity::Contact, &v),
            vec![
                Key::Email("a@x.com".into()),
                Key::Phone("+14155552671".into())
            ]
        );
        assert_eq!(
            keys_of(Entity::Company, &v),
            vec![
                Key::Domain("x.com".into()),
                Key::Phone("+14155552671".into())
            ]
        );
    }
}
