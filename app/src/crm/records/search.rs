//! One search box across names, emails, phones and companies.

use super::model::*;
use super::ssr::*;
use crate::crm::access::push_filter;
use crate::crm::model::{Entity, RecordFilter};
use crate::error::AppError;
use crate::request::Env;
use sqlx::{QueryBuilder, Row};

/// One search box across names, emails, phones and companies; typos tolerated.
/// Longer search text than this is refused: no name or email is longer, and each
/// character costs trigram work.
pub const MAX_SEARCH_CHARS: usize = 200;

pub(super) fn search_text_fits(env: &Env, q: &str) -> Result<(), AppError> {
    if q.chars().count() <= MAX_SEARCH_CHARS {
        return Ok(());
    }
    Err(AppError::field(
        "q",
        crate::i18n::tf(
            env.locale(),
            "validation.too_long",
            &[("n", MAX_SEARCH_CHARS.to_string())],
        ),
    ))
}

pub async fn search(env: &Env, q: &str) -> Result<SearchHits, AppError> {
    let q = q.trim();
    search_text_fits(env, q)?;
    let (p, mut tx, scope) = open(env).await?;
    if q.is_empty() {
        return Ok(SearchHits::default());
    }
    let mut hits = Vec::new();
    for entity in Entity::ALL {
        let mut query = QueryBuilder::new(format!(
            "SELECT r.id, r.{} AS name FROM {} r WHERE r.tenant_id = ",
            entity.name_column(),
            entity.table()
        ));
        query.push_bind(p.tenant_id);
        scope.push(&mut query, "r.owner_id");
        push_filter(
            &mut query,
            entity,
            &RecordFilter {
                q: q.to_string(),
                ..RecordFilter::default()
            },
        );
        query
            .push(" ORDER BY word_similarity(search_norm(")
            .push_bind(q.to_string())
            .push("), r.search) DESC, r.id LIMIT 8");
        for r in query.build().fetch_all(&mut *tx).await? {
            hits.push(Link {
                entity,
                id: r.try_get("id")?,
                name: r.try_get("name")?,
            });
        }
    }
    tx.commit().await?;
    Ok(SearchHits { hits })
}
