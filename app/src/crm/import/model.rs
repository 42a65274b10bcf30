//! Types the import page, the job page and the server share.

use crate::crm::model::Entity;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The kinds of record a CSV file can create. Deals belong to a pipeline stage and are
/// made on the board, not in bulk.
pub const IMPORTABLE: [Entity; 3] = [Entity::Contact, Entity::Company, Entity::Lead];

/// A field of a record a CSV column can fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Field {
    Name,
    /// First and last name columns are joined into the name when no column holds the
    /// whole name (spreadsheets exported from phones and other CRMs split them).
    FirstName,
    LastName,
    Email,
    Phone,
    Title,
    /// A company's name: linked to the tenant's company of that name, created if none.
    Company,
    Domain,
    Industry,
    City,
    Country,
    Status,
    Score,
    Source,
    Tags,
    /// The email of the member who will own the record.
    Owner,
}

impl Field {
    pub const ALL: [Field; 16] = [
        Field::Name,
        Field::FirstName,
        Field::LastName,
        Field::Email,
        Field::Phone,
        Field::Title,
        Field::Company,
        Field::Domain,
        Field::Industry,
        Field::City,
        Field::Country,
        Field::Status,
        Field::Score,
        Field::Source,
        Field::Tags,
        Field::Owner,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::Title => "title",
            Field::Company => "company",
            Field::Domain => "domain",
            Field::Industry => "industry",
            Field::City => "city",
            Field::Country => "country",
            Field::Status => "status",
            Field::Score => "score",
            Field::Source => "source",
            Field::Tags => "tags",
            Field::Owner => "owner",
        }
    }

    pub fn parse(code: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.code() == code)
    }

    /// The locale key of the field's label (also the column header of exports).
    pub fn label_key(self) -> String {
        format!("import.field.{}", self.code())
    }

    /// The fields a file of `entity` may fill, in the order forms and exports show them.
    pub fn for_entity(entity: Entity) -> &'static [Field] {
        match entity {
            Entity::Contact => &[
                Field::Name,
                Field::FirstName,
                Field::LastName,
                Field::Email,
                Field::Phone,
                Field::Title,
                Field::Company,
                Field::Tags,
                Field::Owner,
            ],
            Entity::Company => &[
                Field::Name,
                Field::Domain,
                Field::Industry,
                Field::City,
                Field::Country,
                Field::Phone,
                Field::Tags,
                Field::Owner,
            ],
            Entity::Lead => &[
                Field::Name,
                Field::FirstName,
                Field::LastName,
                Field::Email,
                Field::Phone,
                Field::Company,
                Field::Status,
                Field::Score,
                Field::Source,
                Field::Tags,
                Field::Owner,
            ],
            Entity::Deal => &[],
        }
    }

    /// Header spellings that mean this field, compared after [`header_key`]. English,
    /// Arabic, and the languages of the markets the seeds come from.
    fn synonyms(self, entity: Entity) -> &'static [&'static str] {
        match self {
            // For a company file the company's name is the record's name.
            Field::Name if entity == Entity::Company => &[
                "name",
                "company",
                "companyname",
                "organization",
                "organisation",
                "account",
                "accountname",
                "business",
                "الاسم",
                "اسم",
                "الشركة",
                "اسمالشركة",
                "empresa",
                "nome",
                "nom",
                "nume",
                "firma",
            ],
            Field::Name => &[
                "name",
                "fullname",
                "contact",
                "contactname",
                "leadname",
                "person",
                "الاسم",
                "اسم",
                "الاسمالكامل",
                "nome",
                "nomecompleto",
                "nom",
                "nume",
                "nombre",
            ],
            Field::FirstName => &[
                "firstname",
                "givenname",
                "first",
                "forename",
                "الاسمالأول",
                "الاسمالاول",
                "prenom",
                "prenume",
                "primeironome",
            ],
            Field::LastName => &[
                "lastname",
                "surname",
                "familyname",
                "last",
                "اسمالعائلة",
                "العائلة",
                "nomdefamille",
                "sobrenome",
                "apellido",
            ],
            Field::Email => &[
                "email",
                "emailaddress",
                "mail",
                "emails",
                "البريد",
                "البريدالإلكتروني",
                "البريدالالكتروني",
                "الايميل",
                "الإيميل",
                "correo",
                "courriel",
            ],
            Field::Phone => &[
                "phone",
                "phonenumber",
                "phoneno",
                "mobile",
                "mobilephone",
                "mobilenumber",
                "cell",
                "cellphone",
                "tel",
                "telephone",
                "whatsapp",
                "الهاتف",
                "هاتف",
                "الجوال",
                "جوال",
                "رقمالهاتف",
                "رقمالجوال",
                "موبايل",
                "telefone",
                "telefon",
                "celular",
            ],
            Field::Title => &[
                "title",
                "jobtitle",
                "position",
                "role",
                "المسمىالوظيفي",
                "الوظيفة",
                "المنصب",
                "cargo",
                "functie",
            ],
            Field::Company => &[
                "company",
                "companyname",
                "organization",
                "organisation",
                "account",
                "employer",
                "الشركة",
                "اسمالشركة",
                "empresa",
                "firma",
            ],
            Field::Domain => &[
                "domain",
                "website",
                "web",
                "url",
                "site",
                "homepage",
                "الموقع",
                "الموقعالإلكتروني",
                "النطاق",
            ],
            Field::Industry => &[
                "industry",
                "sector",
                "القطاع",
                "المجال",
                "setor",
                "industrie",
            ],
            Field::City => &["city", "town", "المدينة", "cidade", "oras", "ville"],
            Field::Country => &["country", "الدولة", "البلد", "pais", "tara", "pays"],
            Field::Status => &["status", "leadstatus", "stage", "الحالة", "situacao"],
            Field::Score => &[
                "score",
                "leadscore",
                "rating",
                "التقييم",
                "الدرجة",
                "pontuacao",
            ],
            Field::Source => &[
                "source",
                "leadsource",
                "channel",
                "origin",
                "المصدر",
                "origem",
            ],
            Field::Tags => &[
                "tags",
                "tag",
                "labels",
                "label",
                "الوسوم",
                "وسوم",
                "etiquetas",
            ],
            Field::Owner => &[
                "owner",
                "owneremail",
                "assignedto",
                "assignee",
                "salesrep",
                "rep",
                "المسؤول",
                "المالك",
                "responsavel",
            ],
        }
    }
}

/// A header reduced to what identifies it: lower case, letters and digits only (so
/// "E-mail Address", "email_address" and "EmailAddress" compare equal), Arabic
/// diacritics dropped.
pub fn header_key(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .filter(|c| !('\u{064B}'..='\u{065F}').contains(c) && *c != '\u{0640}')
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'ã' | 'â' => 'a',
            'é' | 'ê' => 'e',
            'í' => 'i',
            'ó' | 'õ' | 'ô' => 'o',
            'ú' => 'u',
            'ç' => 'c',
            'ă' => 'a',
            'ș' | 'ş' => 's',
            'ț' | 'ţ' => 't',
            other => other,
        })
        .collect()
}

/// The field a column with this header most likely holds, given the headers' labels in
/// every language (`labels`: header key → field, from the locale files, so a file we
/// exported maps back by itself).
pub fn guess(entity: Entity, header: &str, labels: &[(String, Field)]) -> Option<Field> {
    let key = header_key(header);
    if key.is_empty() {
        return None;
    }
    let fields = Field::for_entity(entity);
    // The name of the record first: for a company file "Company" is the name.
    fields
        .iter()
        .copied()
        .find(|f| f.synonyms(entity).contains(&key.as_str()))
        .or_else(|| {
            labels
                .iter()
                .find(|(label, f)| *label == key && fields.contains(f))
                .map(|(_, f)| *f)
        })
}

/// Guesses a field for every header, each field at most once (the first column wins).
pub fn guess_all(
    entity: Entity,
    headers: &[String],
    labels: &[(String, Field)],
) -> Vec<Option<Field>> {
    let mut taken = Vec::new();
    headers
        .iter()
        .map(|h| {
            let field = guess(entity, h, labels).filter(|f| !taken.contains(f))?;
            taken.push(field);
            Some(field)
        })
        .collect()
}

/// What to do with a row whose email or phone (a company's website or phone) matches
/// a record that already exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dedupe {
    /// Leave the existing record alone and skip the row.
    #[default]
    Skip,
    /// Fill the existing record with the row's non-empty cells.
    Update,
    /// Create a new record anyway (a contact's email stays unique, though).
    Create,
}

impl Dedupe {
    pub const ALL: [Dedupe; 3] = [Dedupe::Skip, Dedupe::Update, Dedupe::Create];

    pub fn code(self) -> &'static str {
        match self {
            Dedupe::Skip => "skip",
            Dedupe::Update => "update",
            Dedupe::Create => "create",
        }
    }
}

/// What the member sent back after the upload: a column → field mapping and the
/// duplicate rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPlan {
    pub job_id: Uuid,
    /// One entry per column of the file; `None` leaves the column out.
    pub mapping: Vec<Option<Field>>,
    pub dedupe: Dedupe,
}

/// The answer to an upload: what the file holds and a first mapping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadInfo {
    pub job_id: Uuid,
    pub entity: Entity,
    pub file_name: String,
    pub rows: u32,
    /// The separator found: `,`, `;`, tab or `|`.
    pub delimiter: char,
    pub headers: Vec<String>,
    /// The first non-empty value of each column, to recognise it by.
    pub examples: Vec<String>,
    /// The member's last mapping for these headers, else a guess from the headers.
    pub mapping: Vec<Option<Field>>,
    /// Whether `mapping` came from the member's last import of this kind.
    pub remembered: bool,
}

/// What will happen to a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Create,
    Update,
    Skip,
    Fail,
}

impl Outcome {
    pub fn label_key(self) -> &'static str {
        match self {
            Outcome::Create => "import.outcome.create",
            Outcome::Update => "import.outcome.update",
            Outcome::Skip => "import.outcome.skip",
            Outcome::Fail => "import.outcome.fail",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewRow {
    /// The line of the file the row starts on.
    pub line: u64,
    /// The values as they will be stored, one per field of [`Preview::fields`].
    pub values: Vec<String>,
    pub outcome: Outcome,
    /// Why the row fails or is skipped.
    pub reason: Option<String>,
}

/// The first rows of a file as the import will write them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub fields: Vec<Field>,
    pub rows: Vec<PreviewRow>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobKind {
    Import,
    Export,
}

impl JobKind {
    pub fn parse(code: &str) -> Option<JobKind> {
        match code {
            "IMPORT" => Some(JobKind::Import),
            "EXPORT" => Some(JobKind::Export),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    /// Uploaded, not started.
    Draft,
    Queued,
    Running,
    Done,
    /// Failed for a reason the member must fix; not retried.
    Failed,
    /// Failed on our side as many times as it may be tried (dead-lettered).
    Dead,
    /// Stopped by a member; what earlier batches committed stays.
    Cancelled,
}

impl JobState {
    pub fn parse(code: &str) -> Option<JobState> {
        match code {
            "DRAFT" => Some(JobState::Draft),
            "QUEUED" => Some(JobState::Queued),
            "RUNNING" => Some(JobState::Running),
            "DONE" => Some(JobState::Done),
            "FAILED" => Some(JobState::Failed),
            "DEAD" => Some(JobState::Dead),
            "CANCELLED" => Some(JobState::Cancelled),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            JobState::Draft => "DRAFT",
            JobState::Queued => "QUEUED",
            JobState::Running => "RUNNING",
            JobState::Done => "DONE",
            JobState::Failed => "FAILED",
            JobState::Dead => "DEAD",
            JobState::Cancelled => "CANCELLED",
        }
    }

    /// Ended without finishing: a member may queue it again.
    pub fn retryable(self) -> bool {
        matches!(self, JobState::Failed | JobState::Dead)
    }

    /// Still moving: pages poll until it is not.
    pub fn active(self) -> bool {
        matches!(self, JobState::Queued | JobState::Running)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            JobState::Draft => "jobs.state.draft",
            JobState::Queued => "jobs.state.queued",
            JobState::Running => "jobs.state.running",
            JobState::Done => "jobs.state.done",
            JobState::Failed => "jobs.state.failed",
            JobState::Dead => "jobs.state.dead",
            JobState::Cancelled => "jobs.state.cancelled",
        }
    }
}

/// An import's tally, kept in `jobs.result` and updated with every batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    #[serde(default)]
    pub created: u32,
    #[serde(default)]
    pub updated: u32,
    #[serde(default)]
    pub skipped: u32,
    #[serde(default)]
    pub failed: u32,
    /// Companies made for the company names of a contact or lead file.
    #[serde(default)]
    pub companies_created: u32,
    /// Rows written to an export file.
    #[serde(default)]
    pub exported: u32,
}

/// A job as its pages show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub id: Uuid,
    pub kind: JobKind,
    pub entity: Entity,
    pub state: JobState,
    pub file_name: String,
    pub total: u32,
    pub processed: u32,
    pub counts: Counts,
    pub error: Option<String>,
    /// The failed rows of an import, with the reason per row.
    pub has_errors_file: bool,
    /// The file an export made.
    pub has_output: bool,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Attempts made so far, of at most `max_attempts`.
    pub attempts: u32,
    pub max_attempts: u32,
    /// When a retry waiting out its backoff runs.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Who started it.
    pub creator: String,
}

impl JobView {
    /// Whole percent done, for the progress bar.
    pub fn percent(&self) -> u32 {
        match (self.state, self.total) {
            (JobState::Done, _) => 100,
            (_, 0) => 0,
            _ => (u64::from(self.processed.min(self.total)) * 100 / u64::from(self.total)) as u32,
        }
    }
}

/// Where a job's file downloads from (`name`: "errors" or "output").
pub fn download_path(job: Uuid, name: &str) -> String {
    format!("/jobs/{job}/download/{name}")
}

/// The locale key naming a kind of record in the plural ("Contacts").
pub fn entity_plural_key(entity: Entity) -> &'static str {
    match entity {
        Entity::Contact => "import.entity.contacts",
        Entity::Company => "import.entity.companies",
        Entity::Lead => "import.entity.leads",
        Entity::Deal => "import.entity.deals",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_labels() -> Vec<(String, Field)> {
        Vec::new()
    }

    #[test]
    fn headers_are_recognised_in_any_spelling() {
        let headers: Vec<String> = [
            "Full Name",
            "E-mail Address",
            "Mobile",
            "Job Title",
            "Tags",
            "Notes",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            guess_all(Entity::Contact, &headers, &no_labels()),
            vec![
                Some(Field::Name),
                Some(Field::Email),
                Some(Field::Phone),
                Some(Field::Title),
                Some(Field::Tags),
                None
            ]
        );
    }

    #[test]
    fn arabic_headers_are_recognised() {
        let headers: Vec<String> = ["الاسم", "البريد الإلكتروني", "الجوال", "الشركة"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            guess_all(Entity::Contact, &headers, &no_labels()),
            vec![
                Some(Field::Name),
                Some(Field::Email),
                Some(Field::Phone),
                Some(Field::Company)
            ]
        );
    }

    #[test]
    fn a_company_file_names_the_company() {
        let headers: Vec<String> = ["Company", "Website", "Phone"].map(String::from).to_vec();
        assert_eq!(
            guess_all(Entity::Company, &headers, &no_labels()),
            vec![Some(Field::Name), Some(Field::Domain), Some(Field::Phone)]
        );
    }

    #[test]
    fn each_field_is_guessed_once_and_only_where_it_belongs() {
        let headers: Vec<String> = ["Email", "Email", "Status"].map(String::from).to_vec();
        // Contacts have no status.
        assert_eq!(
            guess_all(Entity::Contact, &headers, &no_labels()),
            vec![Some(Field::Email), None, None]
        );
        assert_eq!(
            guess_all(Entity::Lead, &headers, &no_labels())[2],
            Some(Field::Status)
        );
    }

    #[test]
    fn labels_from_the_locale_files_map_back() {
        let labels = vec![("آخرتحديث".to_string(), Field::Source)];
        assert_eq!(
            guess(Entity::Lead, "آخر تحديث", &labels),
            Some(Field::Source)
        );
        assert_eq!(guess(Entity::Contact, "آخر تحديث", &labels), None);
    }

    #[test]
    fn percent_never_exceeds_the_total() {
        let mut job = JobView {
            id: Uuid::nil(),
            kind: JobKind::Import,
            entity: Entity::Contact,
            state: JobState::Running,
            file_name: String::new(),
            total: 3,
            processed: 1,
            counts: Counts::default(),
            error: None,
            has_errors_file: false,
            has_output: false,
            created_at: Utc::now(),
            finished_at: None,
            attempts: 1,
            max_attempts: 3,
            next_attempt_at: None,
            creator: String::new(),
        };
        assert_eq!(job.percent(), 33);
        job.processed = 7;
        assert_eq!(job.percent(), 100);
        job.total = 0;
        assert_eq!(job.percent(), 0);
        job.state = JobState::Done;
        assert_eq!(job.percent(), 100);
    }
}
