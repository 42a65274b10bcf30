//! Facebook Lead Ads on the Graph API: tests (or a person on the dev page's API)
//! register a lead first, as someone filling a lead form would, then our server reads
//! it back with `GET /{version}/{leadgen_id}?fields=…&access_token=…`, in the Graph
//! shape, with Graph's errors for a lead it does not know or a token that may not
//! read it.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::{bearer_token, graph_error_of};

/// A lead as a lead form filled it: its Graph fields, and the Page token that may
/// read it.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct FacebookLead {
    /// The `leadgen_id` of the notification.
    pub id: String,
    /// The Page access token that may read it.
    pub access_token: String,
    #[serde(default)]
    pub created_time: Option<String>,
    /// `[{"name": "email", "values": ["…"]}, …]`, as the Graph API answers.
    #[serde(default)]
    pub field_data: Vec<Value>,
    #[serde(default)]
    pub ad_id: Option<String>,
    #[serde(default)]
    pub ad_name: Option<String>,
    #[serde(default)]
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub campaign_name: Option<String>,
    #[serde(default)]
    pub form_id: Option<String>,
    #[serde(default)]
    pub platform: Option<String>,
    /// Reads of this lead that fail first with a Graph 500 ("try again later").
    #[serde(default)]
    pub fail_times: u32,
}

#[derive(Default)]
pub(crate) struct Leads {
    by_id: HashMap<String, FacebookLead>,
    /// Every read, by lead id: what the server asked for.
    pub(crate) reads: Vec<String>,
}

impl Leads {
    pub(crate) fn add(&mut self, lead: FacebookLead) {
        self.by_id.insert(lead.id.clone(), lead);
    }
}

/// `POST /_peer/facebook/leads`: a lead form was filled.
pub(crate) async fn add_lead(
    State(shared): State<crate::http::AppState>,
    Json(lead): Json<FacebookLead>,
) -> StatusCode {
    shared.leads().add(lead);
    StatusCode::NO_CONTENT
}

/// `GET /{version}/{leadgen_id}`: the lead's fields that were asked for, for its
/// Page's token.
pub(crate) async fn get_lead(
    State(shared): State<crate::http::AppState>,
    Path((_version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let token = query
        .get("access_token")
        .map(String::as_str)
        .or_else(|| bearer_token(&headers));
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return graph_error_of(
            StatusCode::BAD_REQUEST,
            "OAuthException",
            2500,
            "An active access token must be used to query information about the current user.",
            None,
        );
    };
    let mut leads = shared.leads();
    leads.reads.push(id.clone());
    let unknown = || {
        graph_error_of(
            StatusCode::BAD_REQUEST,
            "GraphMethodException",
            100,
            &format!("Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
            None,
        )
    };
    let Some(lead) = leads.by_id.get_mut(&id) else {
        return unknown();
    };
    if lead.access_token != token {
        return graph_error_of(
            StatusCode::BAD_REQUEST,
            "OAuthException",
            190,
            "Invalid OAuth access token - Cannot parse access token",
            None,
        );
    }
    if lead.fail_times > 0 {
        lead.fail_times -= 1;
        return graph_error_of(
            StatusCode::INTERNAL_SERVER_ERROR,
            "OAuthException",
            2,
            "An unexpected error has occurred. Please retry your request later.",
            None,
        );
    }
    let all = json!({
        "id": lead.id,
        "created_time": lead.created_time,
        "field_data": lead.field_data,
        "ad_id": lead.ad_id,
        "ad_name": lead.ad_name,
        "campaign_id": lead.campaign_id,
        "campaign_name": lead.campaign_name,
        "form_id": lead.form_id,
        "platform": lead.platform,
    });
    // Graph answers the id and the fields asked for, leaving out those without a value.
    let asked: Vec<&str> = query
        .get("fields")
        .map(|f| f.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let mut answer = serde_json::Map::new();
    answer.insert("id".into(), all["id"].clone());
    for field in asked {
        if let Some(value) = all.get(field).filter(|v| !v.is_null()) {
            answer.insert(field.to_string(), value.clone());
        }
    }
    Json(Value::Object(answer)).into_response()
}
