//! One CSV row checked against the rules of its kind of record and turned into the
//! values that will be stored. The same check serves the preview and the import, so
//! the preview shows exactly what the import will do.

use super::model::Field;
use super::sheet::Row;
use crate::crm::access::Scope;
use crate::crm::model::Entity;
use crate::crm::phone::{self, PhoneError};
use crate::i18n::{t, tf, Locale};
use std::collections::HashMap;
use uuid::Uuid;

/// The longest name, title, company, city... a cell may hold (record names are
/// limited to 200 characters by the schema; the rest follow for consistency).
const MAX_TEXT: usize = 200;
const MAX_TAG: usize = 50;
const MAX_TAGS: usize = 20;
use crate::crm::records::model::LeadStatus;
pub use crate::crm::records::model::LEAD_STATUSES;
/// Tags travel to SQL joined by this character, which [`tags`] never lets through.
pub const TAG_JOIN: char = '\u{1F}';

/// Everything a row is checked against.
pub struct RowRules<'a> {
    pub entity: Entity,
    /// One entry per column of the file.
    pub mapping: &'a [Option<Field>],
    /// The tenant's country, for phone numbers written without a country code.
    pub region: Option<&'a str>,
    /// Active members of the tenant by lower-cased email.
    pub members: &'a HashMap<String, Uuid>,
    /// Who the importing member may give records to.
    pub scope: &'a Scope,
    pub locale: Locale,
}

/// A row's values as they will be stored; `None` and empty mean "no value".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Values {
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub title: Option<String>,
    /// A company name, resolved to a company when written.
    pub company: Option<String>,
    /// A bare host name: `example.com`.
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub status: Option<String>,
    pub score: Option<i32>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub owner: Option<Uuid>,
    pub owner_email: Option<String>,
}

impl Values {
    /// The value of a stored text column (the score as text, cast by the SQL).
    pub fn text(&self, field: Field) -> Option<String> {
        match field {
            Field::Name | Field::FirstName | Field::LastName => self.name.clone(),
            Field::Email => self.email.clone(),
            Field::Phone => self.phone.clone(),
            Field::Title => self.title.clone(),
            Field::Company => self.company.clone(),
            Field::Domain => self.domain.clone(),
            Field::Industry => self.industry.clone(),
            Field::City => self.city.clone(),
            Field::Country => self.country.clone(),
            Field::Status => self.status.clone(),
            Field::Score => self.score.map(|s| s.to_string()),
            Field::Source => self.source.clone(),
            Field::Tags => (!self.tags.is_empty()).then(|| self.tags.join(", ")),
            Field::Owner => self.owner_email.clone(),
        }
    }

    /// Tags as one string for an `UNNEST` of text (arrays of arrays do not unnest).
    pub fn joined_tags(&self) -> String {
        self.tags.join(&TAG_JOIN.to_string())
    }

    /// Folds a later row for the same record in: its non-empty values win, tags add up.
    pub fn merge(&mut self, later: Values) {
        fn take<T>(mine: &mut Option<T>, theirs: Option<T>) {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
        take(&mut self.name, later.name);
        take(&mut self.email, later.email);
        take(&mut self.phone, later.phone);
        take(&mut self.title, later.title);
        take(&mut self.company, later.company);
        take(&mut self.domain, later.domain);
        take(&mut self.industry, later.industry);
        take(&mut self.city, later.city);
        take(&mut self.country, later.country);
        take(&mut self.status, later.status);
        take(&mut self.score, later.score);
        take(&mut self.source, later.source);
        take(&mut self.owner, later.owner);
        take(&mut self.owner_email, later.owner_email);
        for tag in later.tags {
            if !self.tags.contains(&tag) {
                self.tags.push(tag);
            }
        }
    }
}

impl RowRules<'_> {
    /// The row's values, or every reason it cannot be imported.
    pub fn check(&self, row: &Row) -> Result<Values, String> {
        let locale = self.locale;
        let mut errors = Vec::new();
        let mut v = Values::default();
        let (mut first, mut last) = (None, None);
        for (i, field) in self.mapping.iter().enumerate() {
            let Some(field) = *field else { continue };
            let raw = row.cell(i);
            if raw.is_empty() {
                continue;
            }
            match field {
                Field::Name => v.name = self.text(raw, field, &mut errors),
                Field::FirstName => first = Some(raw),
                Field::LastName => last = Some(raw),
                Field::Title => v.title = self.text(raw, field, &mut errors),
                Field::Company => v.company = self.text(raw, field, &mut errors),
                Field::Industry => v.industry = self.text(raw, field, &mut errors),
                Field::City => v.city = self.text(raw, field, &mut errors),
                Field::Country => v.country = self.text(raw, field, &mut errors),
                Field::Source => v.source = self.text(raw, field, &mut errors),
                Field::Email => match email(raw) {
                    Some(e) => v.email = Some(e),
                    None => errors.push(tf(locale, "import.error.email", &[("value", raw.into())])),
                },
                Field::Phone => match phone::normalize(raw, self.region) {
                    Ok(p) => v.phone = p,
                    Err(PhoneError::Invalid) => {
                        errors.push(tf(locale, "import.error.phone", &[("value", raw.into())]))
                    }
                    Err(PhoneError::NeedsCountryCode) => errors.push(tf(
                        locale,
                        "import.error.phone_country",
                        &[("value", raw.into())],
                    )),
                },
                Field::Domain => match domain(raw) {
                    Some(d) => v.domain = Some(d),
                    None => {
                        errors.push(tf(locale, "import.error.domain", &[("value", raw.into())]))
                    }
                },
                Field::Status => match status(raw) {
                    Some(s) => v.status = Some(s),
                    None => errors.push(tf(
                        locale,
                        "import.error.status",
                        &[("value", raw.into()), ("allowed", LEAD_STATUSES.join(", "))],
                    )),
                },
                Field::Score => match score(raw) {
                    Some(s) => v.score = Some(s),
                    None => errors.push(tf(locale, "import.error.score", &[("value", raw.into())])),
                },
                Field::Tags => match tags(raw) {
                    Some(list) => v.tags = list,
                    None => errors.push(tf(
                        locale,
                        "import.error.tags",
                        &[
                            ("max", MAX_TAGS.to_string()),
                            ("length", MAX_TAG.to_string()),
                        ],
                    )),
                },
                Field::Owner => {
                    let key = raw.to_lowercase();
                    match self.members.get(&key) {
                        None => errors.push(tf(
                            locale,
                            "import.error.owner_unknown",
                            &[("value", raw.into())],
                        )),
                        Some(id) if !self.scope.allows(Some(*id)) => errors.push(tf(
                            locale,
                            "import.error.owner_not_allowed",
                            &[("value", raw.into())],
                        )),
                        Some(id) => {
                            v.owner = Some(*id);
                            v.owner_email = Some(key);
                        }
                    }
                }
            }
        }
        let mut name_too_long = v.name.is_none()
            && self.mapped(Field::Name)
            && !row.cell(self.column(Field::Name)).is_empty();
        if v.name.is_none() {
            let joined = [first, last]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            if !joined.is_empty() {
                v.name = self.text(&joined, Field::Name, &mut errors);
                name_too_long = v.name.is_none();
            }
        }
        if v.name.is_none() && !name_too_long {
            errors.insert(0, t(locale, "import.error.name_required"));
        }
        if errors.is_empty() {
            Ok(v)
        } else {
            // Each message is a sentence of its own.
            Err(errors.join(" "))
        }
    }
}

impl RowRules<'_> {
    /// A text cell as stored, or its message when it is too long.
    fn text(&self, raw: &str, field: Field, errors: &mut Vec<String>) -> Option<String> {
        let value = bounded(raw);
        if value.is_none() {
            errors.push(too_long(
                self.locale,
                &t(self.locale, &field.label_key()),
                MAX_TEXT,
            ));
        }
        value
    }

    fn mapped(&self, field: Field) -> bool {
        self.mapping.contains(&Some(field))
    }

    fn column(&self, field: Field) -> usize {
        self.mapping
            .iter()
            .position(|f| *f == Some(field))
            .unwrap_or(usize::MAX)
    }
}

fn too_long(locale: Locale, label: &str, max: usize) -> String {
    tf(
        locale,
        "import.error.too_long",
        &[("field", label.to_string()), ("max", max.to_string())],
    )
}

/// The cell with runs of white space (a quoted newline too) made one space, if it
/// fits the limit.
fn bounded(raw: &str) -> Option<String> {
    let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    (text.chars().count() <= MAX_TEXT).then_some(text)
}

/// A cell's address, if it is one by [`mail::valid_address`] (a `mailto:` prefix is
/// dropped), with its domain in lower case.
pub fn email(raw: &str) -> Option<String> {
    let email = raw.trim().trim_start_matches("mailto:");
    let (local, domain) = email.rsplit_once('@')?;
    mail::valid_address(email).then(|| format!("{local}@{}", domain.to_lowercase()))
}

/// `https://www.Example.com/about` → `example.com`.
pub fn domain(raw: &str) -> Option<String> {
    let lower = raw.trim().to_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.strip_prefix("www.").unwrap_or(host);
    let ok = host.contains('.')
        && host.len() <= 253
        && !host.starts_with(['.', '-'])
        && !host.ends_with(['.', '-'])
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    ok.then(|| host.to_string())
}

/// A lead status, in any letter case.
pub fn status(raw: &str) -> Option<String> {
    LeadStatus::parse(&raw.trim().to_uppercase()).map(|status| status.code().to_string())
}

/// A whole number from 0 to 100 (`85`, `85.0`).
pub fn score(raw: &str) -> Option<i32> {
    let n: f64 = raw.trim().parse().ok()?;
    (n.fract() == 0.0 && (0.0..=100.0).contains(&n)).then_some(n as i32)
}

/// Tags separated by `,`, `;` or `|`, each kept once.
pub fn tags(raw: &str) -> Option<Vec<String>> {
    let mut list: Vec<String> = Vec::new();
    for tag in raw.split([',', ';', '|', '،']) {
        let tag: String = tag
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if tag.is_empty() || list.contains(&tag) {
            continue;
        }
        if tag.chars().count() > MAX_TAG {
            return None;
        }
        list.push(tag);
    }
    (list.len() <= MAX_TAGS).then_some(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules<'a>(
        entity: Entity,
        mapping: &'a [Option<Field>],
        members: &'a HashMap<String, Uuid>,
        scope: &'a Scope,
    ) -> RowRules<'a> {
        RowRules {
            entity,
            mapping,
            region: Some("EG"),
            members,
            scope,
            locale: Locale::En,
        }
    }

    fn row(cells: &[&str]) -> Row {
        Row {
            line: 2,
            cells: cells.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn sales_scope(me: Uuid) -> Scope {
        Scope {
            all: false,
            owners: vec![me],
            unassigned: true,
        }
    }

    #[test]
    fn a_good_row_is_normalised() {
        let members = HashMap::new();
        let scope = sales_scope(Uuid::nil());
        let mapping = [
            Some(Field::Name),
            Some(Field::Email),
            Some(Field::Phone),
            Some(Field::Tags),
        ];
        let r = rules(Entity::Contact, &mapping, &members, &scope);
        let v = r
            .check(&row(&[
                "  محمد   علي ",
                "Mo@Example.COM",
                "0100 123 4567",
                "vip; cairo, vip",
            ]))
            .unwrap();
        assert_eq!(v.name.as_deref(), Some("محمد علي"));
        assert_eq!(v.email.as_deref(), Some("Mo@example.com"));
        assert_eq!(v.phone.as_deref(), Some("+201001234567"));
        assert_eq!(v.tags, vec!["vip", "cairo"]);
    }

    #[test]
    fn every_problem_of_a_row_is_named() {
        let members = HashMap::new();
        let scope = sales_scope(Uuid::nil());
        let mapping = [
            Some(Field::Name),
            Some(Field::Email),
            Some(Field::Phone),
            Some(Field::Status),
            Some(Field::Score),
        ];
        let r = rules(Entity::Lead, &mapping, &members, &scope);
        let err = r
            .check(&row(&["", "not-an-email", "12", "WON", "150"]))
            .unwrap_err();
        assert!(err.starts_with("Name is required"), "{err}");
        for needle in ["not-an-email", "\"12\"", "WON", "150"] {
            assert!(err.contains(needle), "{needle} missing from: {err}");
        }
    }

    #[test]
    fn first_and_last_names_make_the_name() {
        let members = HashMap::new();
        let scope = sales_scope(Uuid::nil());
        let mapping = [Some(Field::FirstName), Some(Field::LastName)];
        let r = rules(Entity::Contact, &mapping, &members, &scope);
        assert_eq!(
            r.check(&row(&["Ada", "Lovelace"])).unwrap().name.as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            r.check(&row(&["", "Lovelace"])).unwrap().name.as_deref(),
            Some("Lovelace")
        );
        assert!(r.check(&row(&["", ""])).is_err());
    }

    #[test]
    fn owners_must_be_members_the_importer_may_assign() {
        let me = Uuid::now_v7();
        let colleague = Uuid::now_v7();
        let members = HashMap::from([
            ("me@example.com".to_string(), me),
            ("other@example.com".to_string(), colleague),
        ]);
        let scope = sales_scope(me);
        let mapping = [Some(Field::Name), Some(Field::Owner)];
        let r = rules(Entity::Contact, &mapping, &members, &scope);
        assert_eq!(
            r.check(&row(&["A", "ME@example.com"])).unwrap().owner,
            Some(me)
        );
        assert!(r
            .check(&row(&["A", "other@example.com"]))
            .unwrap_err()
            .contains("other@example.com"));
        assert!(r
            .check(&row(&["A", "nobody@example.com"]))
            .unwrap_err()
            .contains("nobody@example.com"));
        assert_eq!(r.check(&row(&["A", ""])).unwrap().owner, None);
    }

    #[test]
    fn long_text_is_refused() {
        let members = HashMap::new();
        let scope = sales_scope(Uuid::nil());
        let mapping = [Some(Field::Name), Some(Field::Company)];
        let r = rules(Entity::Contact, &mapping, &members, &scope);
        let long = "x".repeat(201);
        assert!(r.check(&row(&[&long, "Acme"])).unwrap_err().contains("200"));
        assert!(r
            .check(&row(&["Ada", &long]))
            .unwrap_err()
            .contains("Company"));
    }

    #[test]
    fn cell_rules() {
        assert_eq!(email("a@b.co").as_deref(), Some("a@b.co"));
        assert_eq!(email("mailto:A@B.Co").as_deref(), Some("A@b.co"));
        for bad in [
            "a@b", "@b.co", "a b@c.co", "a@@b.co", "a@.b.co", "a@b..co", "ab.co",
        ] {
            assert_eq!(email(bad), None, "{bad}");
        }
        assert_eq!(
            domain("https://www.Example.com/about?x").as_deref(),
            Some("example.com")
        );
        assert_eq!(domain("شركة.مصر").as_deref(), Some("شركة.مصر"));
        assert_eq!(domain("not a site"), None);
        assert_eq!(status("qualified").as_deref(), Some("QUALIFIED"));
        assert_eq!(status("won"), None);
        assert_eq!(score("85"), Some(85));
        assert_eq!(score("85.0"), Some(85));
        assert_eq!(score("85.5"), None);
        assert_eq!(score("-1"), None);
        assert_eq!(score("101"), None);
        assert_eq!(tags("a|b ; a،ج").unwrap(), vec!["a", "b", "ج"]);
        let too_many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert_eq!(tags(&too_many.join(",")), None);
        assert_eq!(tags(&"y".repeat(MAX_TAG + 1)), None);
    }

    #[test]
    fn merging_keeps_earlier_values_the_later_row_leaves_empty() {
        let mut a = Values {
            name: Some("Ada".into()),
            title: Some("CEO".into()),
            tags: vec!["x".into()],
            ..Values::default()
        };
        a.merge(Values {
            title: Some("CTO".into()),
            tags: vec!["x".into(), "y".into()],
            ..Values::default()
        });
        assert_eq!(a.name.as_deref(), Some("Ada"));
        assert_eq!(a.title.as_deref(), Some("CTO"));
        assert_eq!(a.tags, vec!["x", "y"]);
    }
}
