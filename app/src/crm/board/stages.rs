//! Editing a pipeline's stages: names, colours, kinds, probabilities and order. A stage
//! that still holds deals cannot be removed; the message says how many to move first.

use super::model::{StageInfo, StageKind};
use crate::error::AppError;
use crate::ui::{tr, Alert};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One row of the stage editor; `id` is `None` for a new stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageEdit {
    pub id: Option<Uuid>,
    pub name: String,
    pub color: String,
    pub kind: StageKind,
    pub probability: i32,
}

#[server(input = Json)]
pub async fn save_stages(pipeline_id: Uuid, stages: Vec<StageEdit>) -> Result<(), AppError> {
    use crate::request::{env, respond};
    respond(async { ssr::save_stages(&env()?, pipeline_id, &stages).await }).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::audit::{self, AuditEntry};
    use crate::auth::model::Permission;
    use crate::db::new_id;
    use crate::i18n::tf;
    use crate::request::Env;

    fn valid_color(c: &str) -> bool {
        c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit())
    }

    pub async fn save_stages(
        env: &Env,
        pipeline_id: Uuid,
        stages: &[StageEdit],
    ) -> Result<(), AppError> {
        let p = env.require(Permission::TenantSettings)?;
        if stages.is_empty() || stages.len() > 20 {
            return Err(AppError::field("stages", env.t("stages.count")));
        }
        for (i, s) in stages.iter().enumerate() {
            let name = s.name.trim();
            if name.is_empty() || name.chars().count() > 60 {
                return Err(AppError::field(
                    &format!("stage.{i}"),
                    env.t("stages.name_required"),
                ));
            }
            if !valid_color(&s.color) || !(0..=100).contains(&s.probability) {
                return Err(AppError::field(
                    &format!("stage.{i}"),
                    env.t("stages.invalid"),
                ));
            }
        }
        let mut tx = env.tx(p).await?;
        let existing: Vec<(Uuid, String, i64)> = sqlx::query_as(
            "SELECT s.id, s.name, (SELECT count(*) FROM deals d WHERE d.stage_id = s.id)
               FROM stages s WHERE s.pipeline_id = $1 FOR UPDATE OF s",
        )
        .bind(pipeline_id)
        .fetch_all(&mut *tx)
        .await?;
        if existing.is_empty() {
            return Err(AppError::NotFound(env.t("board.no_pipeline")));
        }
        if stages
            .iter()
            .filter_map(|s| s.id)
            .any(|id| !existing.iter().any(|(e, _, _)| *e == id))
        {
            return Err(AppError::field("stages", env.t("stages.unknown")));
        }
        for (id, name, deals) in &existing {
            if *deals > 0 && !stages.iter().any(|s| s.id == Some(*id)) {
                return Err(AppError::field(
                    "stages",
                    tf(
                        env.locale(),
                        "stages.has_deals",
                        &[("stage", name.clone()), ("count", deals.to_string())],
                    ),
                ));
            }
        }
        let kept: Vec<Uuid> = stages.iter().filter_map(|s| s.id).collect();
        sqlx::query("DELETE FROM stages WHERE pipeline_id = $1 AND NOT (id = ANY($2))")
            .bind(pipeline_id)
            .bind(&kept)
            .execute(&mut *tx)
            .await?;
        // Positions are unique per pipeline but checked at commit, so rows can swap.
        for (i, s) in stages.iter().enumerate() {
            let position = i as i32 + 1;
            match s.id {
                Some(id) => {
                    sqlx::query(
                        "UPDATE stages SET name = $2, color = $3, kind = $4, probability = $5, position = $6 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(s.name.trim())
                    .bind(&s.color)
                    .bind(s.kind)
                    .bind(s.probability)
                    .bind(position)
                    .execute(&mut *tx)
                    .await
                    ?;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO stages (tenant_id, id, pipeline_id, name, color, kind, probability, position)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(p.tenant_id)
                    .bind(new_id())
                    .bind(pipeline_id)
                    .bind(s.name.trim())
                    .bind(&s.color)
                    .bind(s.kind)
                    .bind(s.probability)
                    .bind(position)
                    .execute(&mut *tx)
                    .await
                    ?;
                }
            }
        }
        // Deals in a stage whose kind changed follow it.
        sqlx::query(
            "UPDATE deals d SET status = s.kind, version = d.version + 1,
                    lost_reason = CASE WHEN s.kind = 'LOST' THEN coalesce(d.lost_reason, '—') END
               FROM stages s WHERE s.id = d.stage_id AND s.pipeline_id = $1 AND d.status <> s.kind",
        )
        .bind(pipeline_id)
        .execute(&mut *tx)
        .await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("pipeline.stages_saved", "pipeline", Some(pipeline_id)).after(
                serde_json::json!(stages.iter().map(|s| &s.name).collect::<Vec<_>>()),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The stage editor, opened from the board by admins.
#[component]
pub fn StageEditor(
    pipeline_id: Uuid,
    stages: Vec<StageInfo>,
    on_saved: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let rows = RwSignal::new(
        stages
            .into_iter()
            .map(|s| StageEdit {
                id: Some(s.id),
                name: s.name,
                color: s.color,
                kind: s.kind,
                probability: s.probability,
            })
            .collect::<Vec<_>>(),
    );
    let error = RwSignal::new(None::<String>);
    let save = Action::new(move |stages: &Vec<StageEdit>| {
        let stages = stages.clone();
        async move { save_stages(pipeline_id, stages).await }
    });
    Effect::new(move || match save.value().get() {
        Some(Ok(())) => on_saved(),
        Some(Err(e)) => error.set(Some(e.to_string())),
        None => {}
    });
    let kinds = [StageKind::Open, StageKind::Won, StageKind::Lost];
    view! {
        <form class="card space-y-2" data-testid="stage-editor" on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            error.set(None);
            save.dispatch(rows.get_untracked());
        }>
            <h2 class="card-title">{tr("stages.title")}</h2>
            {move || rows.get().into_iter().enumerate().map(|(i, s)| {
                let count = rows.with_untracked(Vec::len);
                view! {
                    <div class="flex flex-wrap items-center gap-2" data-testid="stage-row">
                        <label class="sr-only" for=format!("st-name-{i}")>{tr("stages.name")}</label>
                        <input id=format!("st-name-{i}") class="input max-w-48" prop:value=s.name.clone()
                            on:change=move |ev| rows.update(|r| r[i].name = event_target_value(&ev))/>
                        <label class="sr-only" for=format!("st-color-{i}")>{tr("stages.color")}</label>
                        <input id=format!("st-color-{i}") type="color" class="h-9 w-12" prop:value=s.color.clone()
                            on:change=move |ev| rows.update(|r| r[i].color = event_target_value(&ev))/>
                        <label class="sr-only" for=format!("st-kind-{i}")>{tr("stages.kind")}</label>
                        <select id=format!("st-kind-{i}") class="input max-w-32"
                            on:change=move |ev| {
                                let k = StageKind::parse(&event_target_value(&ev)).unwrap_or(StageKind::Open);
                                rows.update(|r| r[i].kind = k);
                            }>
                            {kinds.into_iter().map(|k| view! { <option value=k.code() selected=k == s.kind>{tr(&format!("status.{}", k.code()))}</option> }).collect_view()}
                        </select>
                        <label class="sr-only" for=format!("st-prob-{i}")>{tr("stages.probability")}</label>
                        <input id=format!("st-prob-{i}") type="number" min="0" max="100" class="input max-w-24" prop:value=s.probability.to_string()
                            on:change=move |ev| rows.update(|r| r[i].probability = event_target_value(&ev).parse().unwrap_or(0))/>
                        <button type="button" class="btn-icon" aria-label=tr("stages.up") disabled=i == 0
                            on:click=move |_| rows.update(|r| r.swap(i, i - 1))>"↑"</button>
                        <button type="button" class="btn-icon" aria-label=tr("stages.down") disabled=i + 1 == count
                            on:click=move |_| rows.update(|r| r.swap(i, i + 1))>"↓"</button>
                        <button type="button" class="btn btn-danger-ghost" on:click=move |_| rows.update(|r| { r.remove(i); })>{tr("records.delete")}</button>
                    </div>
                }
            }).collect_view()}
            <div class="flex gap-2">
                <button type="button" class="btn btn-ghost" on:click=move |_| rows.update(|r| r.push(StageEdit {
                    id: None, name: String::new(), color: "#64748b".into(), kind: StageKind::Open, probability: 50,
                }))>{tr("stages.add")}</button>
                <button type="submit" class="btn btn-primary">{tr("common.save")}</button>
            </div>
            <Alert message=error/>
        </form>
    }
}
