//! Units from a spreadsheet: the developer's price list as CSV or Excel, read by the
//! CRM import's file reader (`crm::import::sheet`), checked row by row, previewed, and
//! applied to one project in one transaction (DECISIONS 58). A unit is matched by its
//! code: new codes are created, known ones updated, units missing from the file left
//! alone. A blank cell keeps what the unit has.

use serde::{Deserialize, Serialize};

/// A price list of a few thousand units is well under this.
pub const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;
pub const MAX_IMPORT_ROWS: usize = 5_000;
/// Errors listed in a preview; the count says how many there are in all.
pub const MAX_LISTED_ERRORS: usize = 100;

/// A unit's field a column can fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Column {
    Code,
    Type,
    Building,
    Floor,
    Size,
    Bedrooms,
    Bathrooms,
    View,
    Price,
    Currency,
    Status,
}

impl Column {
    pub const ALL: [Column; 11] = [
        Column::Code,
        Column::Type,
        Column::Building,
        Column::Floor,
        Column::Size,
        Column::Bedrooms,
        Column::Bathrooms,
        Column::View,
        Column::Price,
        Column::Currency,
        Column::Status,
    ];

    pub fn label_key(self) -> &'static str {
        match self {
            Column::Code => "inventory.import.col.code",
            Column::Type => "inventory.import.col.type",
            Column::Building => "inventory.import.col.building",
            Column::Floor => "inventory.import.col.floor",
            Column::Size => "inventory.import.col.size",
            Column::Bedrooms => "inventory.import.col.bedrooms",
            Column::Bathrooms => "inventory.import.col.bathrooms",
            Column::View => "inventory.import.col.view",
            Column::Price => "inventory.import.col.price",
            Column::Currency => "inventory.import.col.currency",
            Column::Status => "inventory.import.col.status",
        }
    }

    /// Headers spreadsheets use for the field, compared after [`normalise`]: our own
    /// names, the usual English ones and Arabic.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::Code => &[
                "code",
                "unit",
                "unit code",
                "unit no",
                "unit number",
                "unit id",
                "رقم الوحدة",
                "الوحدة",
                "كود الوحدة",
            ],
            Column::Type => &["type", "unit type", "type code", "النوع", "نوع الوحدة"],
            Column::Building => &["building", "tower", "block", "المبنى", "البرج", "العمارة"],
            Column::Floor => &["floor", "level", "floor no", "الدور", "الطابق"],
            Column::Size => &[
                "size",
                "size sqm",
                "size m2",
                "size m²",
                "area",
                "area sqm",
                "area m2",
                "area m²",
                "bua",
                "sqm",
                "m2",
                "المساحة",
                "المساحة م2",
            ],
            Column::Bedrooms => &[
                "bedrooms",
                "beds",
                "bedroom",
                "br",
                "rooms",
                "غرف النوم",
                "عدد الغرف",
            ],
            Column::Bathrooms => &["bathrooms", "baths", "bathroom", "الحمامات", "عدد الحمامات"],
            Column::View => &["view", "views", "الإطلالة", "الاطلالة"],
            Column::Price => &[
                "price",
                "list price",
                "total price",
                "price egp",
                "السعر",
                "سعر الوحدة",
            ],
            Column::Currency => &["currency", "cur", "العملة"],
            Column::Status => &["status", "availability", "الحالة"],
        }
    }

    /// The field a header names, if any.
    pub fn guess(header: &str) -> Option<Column> {
        let h = normalise(header);
        Column::ALL
            .into_iter()
            .find(|c| c.aliases().iter().any(|a| normalise(a) == h))
    }
}

/// Lower case, with punctuation, underscores and runs of spaces made one space:
/// "Unit_No." and "unit no" compare equal.
fn normalise(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '²' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    /// The line in the file (1 is the header).
    pub line: u64,
    pub message: String,
}

/// What a file would do, or did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPreview {
    pub rows: usize,
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    /// Of the updates, how many change a price (each written to the unit's history).
    pub price_changes: usize,
    /// Each header, with the field it fills (`None`: ignored).
    pub columns: Vec<(String, Option<Column>)>,
    pub errors: Vec<LineError>,
    pub error_count: usize,
    /// Sent back to apply exactly what was previewed.
    pub token: String,
    pub applied: bool,
}

/// A number a spreadsheet wrote: "118", "118.5", "118,5", "1,250.75", "118 m²".
pub fn decimal(raw: &str) -> Option<f64> {
    let s: String = raw
        .trim()
        .trim_end_matches(|c: char| c.is_alphabetic() || c == '²' || c.is_whitespace())
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let s = match (s.contains(','), s.contains('.')) {
        (true, true) => s.replace(',', ""),
        // One comma and at most two digits after it is a decimal comma.
        (true, false) if s.matches(',').count() == 1 && s.rsplit(',').next()?.len() <= 2 => {
            s.replace(',', ".")
        }
        (true, false) => s.replace(',', ""),
        _ => s,
    };
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A floor as developers write it: a number, or G / GF / Ground for 0.
pub fn parse_floor(raw: &str) -> Option<i32> {
    if let Ok(n) = raw.trim().parse() {
        return Some(n);
    }
    match normalise(raw).as_str() {
        "g" | "gf" | "ground" | "ground floor" | "الأرضي" | "أرضي" => Some(0),
        _ => None,
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::audit::{self, AuditEntry};
    use crate::auth::model::Permission;
    use crate::crm::import::sheet::{self, Sheet};
    use crate::crm::import::ssr::sheet_error;
    use crate::db::{new_id, Tx};
    use crate::error::AppError;
    use crate::i18n::{t, tf, Locale};
    use crate::inventory::catalog::ssr::project_in_tenant;
    use crate::inventory::model::UnitStatus;
    use crate::request::Env;
    use std::collections::{HashMap, HashSet};
    use uuid::Uuid;

    /// A unit as the project has it.
    #[derive(sqlx::FromRow)]
    struct Known {
        id: Uuid,
        code: String,
        type_code: String,
        building: Option<String>,
        floor: Option<i32>,
        size_sqm: Option<f64>,
        bedrooms: i32,
        bathrooms: i32,
        view: Option<String>,
        price_minor: i64,
        currency: String,
        status: String,
        version: i32,
    }

    /// A unit as it will be after the import.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    struct Unit {
        code: String,
        type_code: String,
        building: Option<String>,
        floor: Option<i32>,
        size_sqm: Option<f64>,
        bedrooms: i32,
        bathrooms: i32,
        view: Option<String>,
        price_minor: i64,
        currency: String,
        status: String,
    }

    #[derive(Serialize)]
    enum Change {
        Create(Unit),
        /// The unit's id and version when previewed, and what it becomes.
        Update(Uuid, i32, Unit, bool),
    }

    /// Previews `bytes` for the project, or with `token` applies what was previewed.
    pub async fn import_units(
        env: &Env,
        project_id: &str,
        token: Option<&str>,
        bytes: &[u8],
    ) -> Result<ImportPreview, AppError> {
        let p = env.require(Permission::InventoryEdit)?;
        let l = env.locale();
        let project_id = Uuid::parse_str(project_id.trim())
            .map_err(|_| AppError::field("project_id", t(l, "inventory.upload.project")))?;
        let text = sheet::decode(bytes).map_err(|e| sheet_error(l, e))?;
        let file = Sheet::new(&text);
        let (headers, rows) = file.rows();
        let columns: Vec<(String, Option<Column>)> = {
            let mut seen = HashSet::new();
            headers
                .iter()
                .map(|h| (h.clone(), Column::guess(h).filter(|c| seen.insert(*c))))
                .collect()
        };
        let at = |c: Column| columns.iter().position(|(_, f)| *f == Some(c));
        if at(Column::Code).is_none() {
            return Err(AppError::field("file", t(l, "inventory.import.no_code")));
        }
        let rows: Vec<sheet::Row> = rows.take(MAX_IMPORT_ROWS + 1).collect();
        if rows.is_empty() {
            return Err(sheet_error(l, sheet::SheetError::NoRows));
        }
        if rows.len() > MAX_IMPORT_ROWS {
            return Err(AppError::field(
                "file",
                tf(
                    l,
                    "inventory.import.too_many",
                    &[("max", MAX_IMPORT_ROWS.to_string())],
                ),
            ));
        }

        let mut tx = env.tx(p).await?;
        project_in_tenant(env, &mut tx, project_id).await?;
        let types = unit_types(&mut tx).await?;
        // Applying locks the project's units, so nothing changes between the check of
        // the token and the writes.
        let lock = if token.is_some() { " FOR UPDATE" } else { "" };
        let known: Vec<Known> = sqlx::query_as(&format!(
            "SELECT id, code, type_code, building, floor, size_sqm::float8 AS size_sqm, bedrooms, bathrooms,
                    view, price_minor, currency::text AS currency, status, version
               FROM units WHERE project_id = $1{lock}"
        ))
        .bind(project_id)
        .fetch_all(&mut *tx)
        .await?;
        let known: HashMap<String, Known> = known
            .into_iter()
            .map(|k| (k.code.to_lowercase(), k))
            .collect();

        let may_price = p.may(Permission::InventoryManage);
        let mut errors = Vec::new();
        let mut changes = Vec::new();
        let mut seen_codes = HashMap::new();
        let (mut unchanged, mut price_changes) = (0, 0);
        for row in &rows {
            let cell = |c: Column| at(c).map(|i| row.cell(i)).filter(|v| !v.is_empty());
            let mut fail = |message: String| {
                errors.push(LineError {
                    line: row.line,
                    message,
                })
            };
            let parsed = match read_row(l, &cell, &types) {
                Ok(parsed) => parsed,
                Err(message) => {
                    fail(message);
                    continue;
                }
            };
            if let Some(first) = seen_codes.insert(parsed.code.to_lowercase(), row.line) {
                fail(tf(
                    l,
                    "inventory.import.duplicate",
                    &[("code", parsed.code.clone()), ("line", first.to_string())],
                ));
                continue;
            }
            match known.get(&parsed.code.to_lowercase()) {
                None => match parsed.create(l) {
                    Ok(unit) => changes.push(Change::Create(unit)),
                    Err(message) => fail(message),
                },
                Some(k) => {
                    let unit = match parsed.over(l, k) {
                        Ok(unit) => unit,
                        Err(message) => {
                            fail(message);
                            continue;
                        }
                    };
                    if let Err(message) = status_change(l, k, &unit) {
                        fail(message);
                        continue;
                    }
                    let now = Unit::of(k);
                    if unit == now {
                        unchanged += 1;
                        continue;
                    }
                    let repriced =
                        unit.price_minor != now.price_minor || unit.currency != now.currency;
                    if repriced && !may_price {
                        fail(tf(
                            l,
                            "inventory.import.price_forbidden",
                            &[("code", unit.code.clone())],
                        ));
                        continue;
                    }
                    price_changes += usize::from(repriced);
                    changes.push(Change::Update(k.id, k.version, unit, repriced));
                }
            }
        }
        let token_now = digest(project_id, &changes);
        let create = changes
            .iter()
            .filter(|c| matches!(c, Change::Create(_)))
            .count();
        let mut preview = ImportPreview {
            rows: rows.len(),
            create,
            update: changes.len() - create,
            unchanged,
            price_changes,
            columns,
            error_count: errors.len(),
            errors: errors.into_iter().take(MAX_LISTED_ERRORS).collect(),
            token: token_now.clone(),
            applied: false,
        };
        let Some(token) = token else {
            tx.commit().await?;
            return Ok(preview);
        };
        if preview.error_count > 0 {
            return Err(AppError::field("file", t(l, "inventory.import.fix_first")));
        }
        if token != token_now {
            return Err(AppError::Conflict(t(l, "inventory.import.stale")));
        }
        write(&mut tx, p.tenant_id, p.user_id, project_id, &changes).await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("units.imported", "projects", Some(project_id)).after(
                serde_json::json!({
                    "rows": preview.rows, "created": preview.create, "updated": preview.update,
                    "price_changes": preview.price_changes,
                }),
            ),
        )
        .await?;
        tx.commit().await?;
        preview.applied = true;
        Ok(preview)
    }

    /// The unit type codes, and each label, lower-cased, mapped to its code.
    async fn unit_types(tx: &mut Tx) -> Result<HashMap<String, String>, AppError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT code, label FROM unit_type_catalog WHERE kind = 'UNIT'
             UNION ALL SELECT code, label FROM unit_types WHERE kind = 'UNIT'",
        )
        .fetch_all(&mut **tx)
        .await?;
        let mut map = HashMap::new();
        for (code, label) in rows {
            map.insert(label.to_lowercase(), code.clone());
            map.insert(code.to_lowercase(), code);
        }
        Ok(map)
    }

    /// One row's cells, each checked; `None` where the cell is blank.
    struct Parsed {
        code: String,
        type_code: Option<String>,
        building: Option<String>,
        floor: Option<i32>,
        size_sqm: Option<f64>,
        bedrooms: Option<i32>,
        bathrooms: Option<i32>,
        view: Option<String>,
        price: Option<String>,
        currency: Option<String>,
        status: Option<UnitStatus>,
    }

    fn read_row<'a>(
        l: Locale,
        cell: &dyn Fn(Column) -> Option<&'a str>,
        types: &HashMap<String, String>,
    ) -> Result<Parsed, String> {
        let bad = |c: Column, value: &str| {
            tf(
                l,
                "inventory.import.bad_cell",
                &[
                    ("column", t(l, c.label_key())),
                    ("value", value.chars().take(40).collect()),
                ],
            )
        };
        let text = |c: Column, max: usize| -> Result<Option<String>, String> {
            match cell(c) {
                Some(v) if v.chars().count() > max || v.contains('\0') => Err(bad(c, v)),
                v => Ok(v.map(str::to_string)),
            }
        };
        let code = text(Column::Code, 40)?.ok_or_else(|| t(l, "inventory.import.code_missing"))?;
        let int =
            |c: Column, range: std::ops::RangeInclusive<i32>| -> Result<Option<i32>, String> {
                cell(c)
                    .map(|v| {
                        decimal(v)
                            .filter(|n| n.fract() == 0.0 && range.contains(&(*n as i32)))
                            .map(|n| n as i32)
                            .ok_or_else(|| bad(c, v))
                    })
                    .transpose()
            };
        let type_code = cell(Column::Type)
            .map(|v| {
                types.get(&v.trim().to_lowercase()).cloned().ok_or_else(|| {
                    tf(
                        l,
                        "inventory.import.unknown_type",
                        &[("value", v.chars().take(40).collect())],
                    )
                })
            })
            .transpose()?;
        let floor = cell(Column::Floor)
            .map(|v| {
                parse_floor(v)
                    .filter(|f| (-5..=200).contains(f))
                    .ok_or_else(|| bad(Column::Floor, v))
            })
            .transpose()?;
        let size_sqm = cell(Column::Size)
            .map(|v| {
                decimal(v)
                    .filter(|n| *n > 0.0 && *n < 100_000.0)
                    .map(|n| (n * 100.0).round() / 100.0)
                    .ok_or_else(|| bad(Column::Size, v))
            })
            .transpose()?;
        let currency = cell(Column::Currency)
            .map(|v| {
                let c = v.trim().to_uppercase();
                if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase()) {
                    Ok(c)
                } else {
                    Err(bad(Column::Currency, v))
                }
            })
            .transpose()?;
        let status = cell(Column::Status)
            .map(|v| match normalise(v).as_str() {
                "available" | "متاحة" | "متاح" => Ok(UnitStatus::Available),
                "blocked" | "محجوبة" | "موقوفة" => Ok(UnitStatus::Blocked),
                _ => Err(tf(
                    l,
                    "inventory.import.bad_status",
                    &[("value", v.chars().take(40).collect())],
                )),
            })
            .transpose()?;
        Ok(Parsed {
            code,
            type_code,
            building: text(Column::Building, 40)?,
            floor,
            size_sqm,
            bedrooms: int(Column::Bedrooms, 0..=50)?,
            bathrooms: int(Column::Bathrooms, 0..=50)?,
            view: text(Column::View, 60)?,
            price: cell(Column::Price).map(str::to_string),
            currency,
            status,
        })
    }

    /// A price cell in the unit's currency: a number as `l10n::read_number` reads it,
    /// with a currency code or sign around it ignored.
    fn price(l: Locale, raw: &str, currency: &str) -> Result<i64, String> {
        let digits = raw.trim_matches(|c: char| !c.is_numeric() && c != '.' && c != ',');
        crate::crm::money::parse(l, digits, currency)
            .filter(|p| *p >= 0 && !digits.is_empty())
            .ok_or_else(|| {
                tf(
                    l,
                    "inventory.import.bad_cell",
                    &[
                        ("column", t(l, Column::Price.label_key())),
                        ("value", raw.chars().take(40).collect()),
                    ],
                )
            })
    }

    impl Parsed {
        /// A new unit: its type and price are required.
        fn create(self, l: Locale) -> Result<Unit, String> {
            let need = |c: Column| {
                tf(
                    l,
                    "inventory.import.required",
                    &[("code", self.code.clone()), ("column", t(l, c.label_key()))],
                )
            };
            let type_code = self.type_code.clone().ok_or_else(|| need(Column::Type))?;
            let currency = self.currency.clone().unwrap_or_else(|| "EGP".into());
            let raw = self.price.clone().ok_or_else(|| need(Column::Price))?;
            Ok(Unit {
                price_minor: price(l, &raw, &currency)?,
                code: self.code,
                type_code,
                building: self.building,
                floor: self.floor,
                size_sqm: self.size_sqm,
                bedrooms: self.bedrooms.unwrap_or(0),
                bathrooms: self.bathrooms.unwrap_or(0),
                view: self.view,
                currency,
                status: self.status.unwrap_or(UnitStatus::Available).code().into(),
            })
        }

        /// A known unit with the row's non-blank cells over it.
        fn over(self, l: Locale, k: &Known) -> Result<Unit, String> {
            let currency = self.currency.unwrap_or_else(|| k.currency.clone());
            let price_minor = match self.price {
                Some(raw) => price(l, &raw, &currency)?,
                None => k.price_minor,
            };
            Ok(Unit {
                code: k.code.clone(),
                type_code: self.type_code.unwrap_or_else(|| k.type_code.clone()),
                building: self.building.or_else(|| k.building.clone()),
                floor: self.floor.or(k.floor),
                size_sqm: self.size_sqm.or(k.size_sqm),
                bedrooms: self.bedrooms.unwrap_or(k.bedrooms),
                bathrooms: self.bathrooms.unwrap_or(k.bathrooms),
                view: self.view.or_else(|| k.view.clone()),
                price_minor,
                currency,
                status: self
                    .status
                    .map(|s| s.code().to_string())
                    .unwrap_or_else(|| k.status.clone()),
            })
        }
    }

    impl Unit {
        fn of(k: &Known) -> Unit {
            Unit {
                code: k.code.clone(),
                type_code: k.type_code.clone(),
                building: k.building.clone(),
                floor: k.floor,
                size_sqm: k.size_sqm,
                bedrooms: k.bedrooms,
                bathrooms: k.bathrooms,
                view: k.view.clone(),
                price_minor: k.price_minor,
                currency: k.currency.clone(),
                status: k.status.clone(),
            }
        }
    }

    /// Held, reserved and sold units follow their deals: a file may not move them.
    fn status_change(l: Locale, k: &Known, unit: &Unit) -> Result<(), String> {
        let follows_deal = matches!(k.status.as_str(), "HELD" | "RESERVED" | "SOLD");
        if follows_deal && unit.status != k.status {
            let status = UnitStatus::parse(&k.status).map(|s| t(l, s.label_key()));
            return Err(tf(
                l,
                "inventory.import.follows_deal",
                &[
                    ("code", k.code.clone()),
                    ("status", status.unwrap_or_default().to_lowercase()),
                ],
            ));
        }
        Ok(())
    }

    fn digest(project_id: Uuid, changes: &[Change]) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(project_id.as_bytes());
        hash.update(serde_json::to_vec(changes).unwrap_or_default());
        hash.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    async fn write(
        tx: &mut Tx,
        tenant_id: Uuid,
        user_id: Uuid,
        project_id: Uuid,
        changes: &[Change],
    ) -> Result<(), AppError> {
        let mut new = Vec::new();
        let mut priced = Vec::new();
        for change in changes {
            match change {
                Change::Create(unit) => {
                    let id = new_id();
                    new.push((id, unit));
                    priced.push((id, unit.price_minor, unit.currency.clone()));
                }
                Change::Update(id, version, unit, repriced) => {
                    let updated = sqlx::query(
                        "UPDATE units SET type_code = $3, building = $4, floor = $5, size_sqm = $6::numeric,
                                bedrooms = $7, bathrooms = $8, view = $9, price_minor = $10, currency = $11,
                                status = $12, version = version + 1, updated_at = now()
                          WHERE id = $1 AND version = $2",
                    )
                    .bind(id)
                    .bind(version)
                    .bind(&unit.type_code)
                    .bind(&unit.building)
                    .bind(unit.floor)
                    .bind(unit.size_sqm)
                    .bind(unit.bedrooms)
                    .bind(unit.bathrooms)
                    .bind(&unit.view)
                    .bind(unit.price_minor)
                    .bind(&unit.currency)
                    .bind(&unit.status)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                    if updated != 1 {
                        return Err(crate::db::internal(
                            "a locked unit changed under the import",
                        ));
                    }
                    if *repriced {
                        priced.push((*id, unit.price_minor, unit.currency.clone()));
                    }
                }
            }
        }
        if !new.is_empty() {
            sqlx::query(
                "INSERT INTO units (tenant_id, id, project_id, code, type_code, building, floor, size_sqm,
                                    bedrooms, bathrooms, view, price_minor, currency, status)
                 SELECT $1, u.id, $2, u.code, u.type_code, u.building, u.floor, u.size_sqm::numeric,
                        u.bedrooms, u.bathrooms, u.view, u.price_minor, u.currency, u.status
                   FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::int[], $8::float8[],
                               $9::int[], $10::int[], $11::text[], $12::bigint[], $13::text[], $14::text[])
                        AS u (id, code, type_code, building, floor, size_sqm, bedrooms, bathrooms, view,
                              price_minor, currency, status)",
            )
            .bind(tenant_id)
            .bind(project_id)
            .bind(new.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .bind(new.iter().map(|(_, u)| u.code.clone()).collect::<Vec<_>>())
            .bind(new.iter().map(|(_, u)| u.type_code.clone()).collect::<Vec<_>>())
            .bind(new.iter().map(|(_, u)| u.building.clone()).collect::<Vec<_>>())
            .bind(new.iter().map(|(_, u)| u.floor).collect::<Vec<_>>())
            .bind(new.iter().map(|(_, u)| u.size_sqm).collect::<Vec<_>>())
            .bind(new.iter().map(|(_, u)| u.bedrooms).collect::<Vec<_>>())
            .bind(new.iter().map(|(_, u)| u.bathrooms).collect::<Vec<_>>())
            .bind(new.iter().map(|(_, u)| u.view.clone()).collect::<Vec<_>>())
            .bind(new.iter().map(|(_, u)| u.price_minor).collect::<Vec<_>>())
            .bind(new.iter().map(|(_, u)| u.currency.clone()).collect::<Vec<_>>())
            .bind(new.iter().map(|(_, u)| u.status.clone()).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        if !priced.is_empty() {
            sqlx::query(
                "INSERT INTO unit_price_history (tenant_id, id, unit_id, price_minor, currency, changed_by, reason)
                 SELECT $1, gen_random_uuid(), p.unit_id, p.price_minor, p.currency, $2, 'Spreadsheet import'
                   FROM unnest($3::uuid[], $4::bigint[], $5::text[]) AS p (unit_id, price_minor, currency)",
            )
            .bind(tenant_id)
            .bind(user_id)
            .bind(priced.iter().map(|p| p.0).collect::<Vec<_>>())
            .bind(priced.iter().map(|p| p.1).collect::<Vec<_>>())
            .bind(priced.iter().map(|p| p.2.clone()).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_recognised_in_the_ways_spreadsheets_write_them() {
        assert_eq!(Column::guess("Unit_No."), Some(Column::Code));
        assert_eq!(Column::guess(" Unit Code "), Some(Column::Code));
        assert_eq!(Column::guess("Area (m²)"), Some(Column::Size));
        assert_eq!(Column::guess("BEDS"), Some(Column::Bedrooms));
        assert_eq!(Column::guess("السعر"), Some(Column::Price));
        assert_eq!(Column::guess("Notes"), None);
    }

    #[test]
    fn numbers_read_with_either_decimal_mark_and_units_after_them() {
        assert_eq!(decimal("118"), Some(118.0));
        assert_eq!(decimal("118,5"), Some(118.5));
        assert_eq!(decimal("1,250.75"), Some(1250.75));
        assert_eq!(decimal("1,250"), Some(1250.0));
        assert_eq!(decimal("118 m²"), Some(118.0));
        assert_eq!(decimal("big"), None);
        assert_eq!(parse_floor("G"), Some(0));
        assert_eq!(parse_floor("12"), Some(12));
        assert_eq!(parse_floor("-2"), Some(-2));
        assert_eq!(parse_floor("roof"), None);
    }
}
