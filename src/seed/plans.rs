//! The demo's two drawings, so its plans show walls, corridors and plots under the
//! coloured units: floor 12 of Nile Towers and the Sahel Villas site plan, drawn to
//! match the shapes the seed links to units (DEMO_INVENTORY in mod.rs), and the two
//! projects' cover pictures.

use app::files::FileStore;
use sqlx::{Postgres, Transaction};
use std::fmt::Write;
use uuid::Uuid;

/// Floor 12: 8 × 5 flats of 140 × 150 px behind 10 px walls, a corridor, lifts and a
/// north arrow, on 1240 × 860 px.
fn tower() -> String {
    let mut svg = String::from(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1240 860" font-family="sans-serif">
<rect width="1240" height="860" fill="#fbfaf7"/>
<rect x="10" y="10" width="1220" height="820" fill="none" stroke="#334155" stroke-width="8"/>
"##,
    );
    for row in 0..5 {
        for col in 0..8 {
            let (x, y) = (20 + col * 150, 20 + row * 160);
            let _ = writeln!(
                svg,
                r##"<rect x="{x}" y="{y}" width="140" height="150" fill="#ffffff" stroke="#475569" stroke-width="3"/><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#94a3b8" stroke-width="2"/><rect x="{}" y="{}" width="30" height="4" fill="#fbfaf7"/>"##,
                x + 70,
                y + 10,
                x + 70,
                y + 90,
                x + 55,
                y + 148,
            );
        }
    }
    svg.push_str(
        r##"<rect x="1205" y="380" width="20" height="90" fill="#e2e8f0" stroke="#475569" stroke-width="2"/>
<text x="1215" y="430" font-size="12" text-anchor="middle" fill="#334155" transform="rotate(90 1215 430)">Lifts</text>
<path d="M1180 800 l10 -30 l10 30 l-10 -8 z" fill="#334155"/><text x="1190" y="820" font-size="14" text-anchor="middle" fill="#334155">N</text>
<line x1="40" y1="845" x2="165" y2="845" stroke="#334155" stroke-width="3"/><text x="170" y="849" font-size="12" fill="#334155">10 m</text>
</svg>
"##,
    );
    svg
}

/// Sahel Villas: two rows of three 280 × 240 px plots along a road, the sea below.
fn villas() -> String {
    let mut svg = String::from(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 620" font-family="sans-serif">
<rect width="1000" height="620" fill="#f3f1e7"/>
<rect x="0" y="290" width="1000" height="20" fill="#d6d3c4"/>
<rect x="0" y="585" width="1000" height="35" fill="#bfdbfe"/>
<text x="500" y="607" font-size="14" text-anchor="middle" fill="#1e3a8a">Mediterranean</text>
"##,
    );
    for row in 0..2 {
        for col in 0..3 {
            let (x, y) = (40 + col * 310, 40 + row * 280);
            let _ = writeln!(
                svg,
                r##"<rect x="{x}" y="{y}" width="280" height="240" fill="#eef5e9" stroke="#4d7c0f" stroke-width="2" stroke-dasharray="8 4"/><rect x="{}" y="{}" width="160" height="120" fill="#ffffff" stroke="#475569" stroke-width="3"/><circle cx="{}" cy="{}" r="22" fill="#a5f3fc" stroke="#0e7490"/>"##,
                x + 40,
                y + 50,
                x + 235,
                y + 190,
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// A project's cover: a skyline for the tower, dunes and sea for the villas.
fn cover(project: &str) -> String {
    let (sky, ground, shapes) = if project == "Nile Towers" {
        (
            "#bfdbfe",
            "#1e3a8a",
            r##"<rect x="70" y="40" width="60" height="140" fill="#334155"/><rect x="150" y="70" width="50" height="110" fill="#475569"/><rect x="220" y="20" width="70" height="160" fill="#1f2937"/>"##,
        )
    } else {
        (
            "#fde68a",
            "#0e7490",
            r##"<path d="M0 150 Q80 110 160 150 T320 150 V180 H0 Z" fill="#f59e0b"/><rect x="120" y="110" width="60" height="40" fill="#f8fafc"/>"##,
        )
    };
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200" viewBox="0 0 320 200"><rect width="320" height="200" fill="{sky}"/>{shapes}<rect y="180" width="320" height="20" fill="{ground}"/></svg>"##
    )
}

/// Stores the drawings and points the demo's plans at them, and the projects' covers.
pub(super) async fn store(
    tx: &mut Transaction<'_, Postgres>,
    tenant_id: Uuid,
    files: &FileStore,
) -> Result<(), String> {
    let plans: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT f.id, f.name FROM floor_plans f WHERE f.tenant_id = $1")
            .bind(tenant_id)
            .fetch_all(&mut **tx)
            .await
            .map_err(|e| format!("demo plans: {e}"))?;
    for (id, name) in plans {
        let (drawing, kind) = match name.as_str() {
            "Floor 12" => (tower(), "FLOOR"),
            _ => (villas(), "SITE"),
        };
        // Through the same checks as an upload, so the demo shows what uploads keep.
        let checked = app::inventory::plan_file::check(drawing.as_bytes())
            .map_err(|e| format!("demo plan {name}: {e:?}"))?;
        let key = format!("tenants/{tenant_id}/plans/{id}/1.svg");
        let size = checked.bytes.len() as i32;
        files
            .put(&key, checked.bytes)
            .await
            .map_err(|e| format!("demo plan {name}: {e}"))?;
        sqlx::query(
            "UPDATE floor_plans SET kind = $2, file_key = $3, content_type = 'image/svg+xml', file_bytes = $4,
                    file_version = 1 WHERE id = $1",
        )
        .bind(id)
        .bind(kind)
        .bind(&key)
        .bind(size)
        .execute(&mut **tx)
        .await
        .map_err(|e| format!("demo plan {name}: {e}"))?;
    }
    let projects: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, name FROM projects WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_all(&mut **tx)
            .await
            .map_err(|e| format!("demo projects: {e}"))?;
    for (id, name) in projects {
        let checked = app::inventory::plan_file::check(cover(&name).as_bytes())
            .map_err(|e| format!("demo cover {name}: {e:?}"))?;
        let key = format!("tenants/{tenant_id}/projects/{id}/cover-1.svg");
        files
            .put(&key, checked.bytes)
            .await
            .map_err(|e| format!("demo cover {name}: {e}"))?;
        sqlx::query(
            "UPDATE projects SET cover_key = $2, cover_type = 'image/svg+xml', cover_version = 1 WHERE id = $1",
        )
        .bind(id)
        .bind(&key)
        .execute(&mut **tx)
        .await
        .map_err(|e| format!("demo cover {name}: {e}"))?;
    }
    Ok(())
}
