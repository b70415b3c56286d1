//! Live enrichment in the API: a report first asks the enricher (background: the name is
//! queued; inline: the report waits up to the budget), `POST /api/v1/domains/{domain}/refresh`
//! looks a name up at once, and the native report carries an `enrichment` section (what was
//! fetched, when, from which server, any error).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use serde_json::{json, Value};
use threatintel_enrich::Kind;
use threatintel_model::{DomainName, DomainQuery};

use crate::error::{new_request_id, ApiError};
use crate::native::{authorise, finish, json_response, query_of};
use crate::AppState;

/// Lets the enricher see the query before the report is built (nothing without one).
pub(crate) async fn before_report(state: &AppState, query: &DomainQuery) {
    if let Some(enricher) = &state.enricher {
        enricher.before_report(query).await;
    }
}

/// The native report's `enrichment` section: the latest lookup of each kind.
pub(crate) fn section(state: &AppState, name: &DomainName) -> Value {
    match &state.enricher {
        Some(enricher) => json!({
            "mode": enricher.mode(),
            "fetches": enricher.enrichment(name),
        }),
        None => json!({ "mode": "off", "fetches": [] }),
    }
}

/// `POST /api/v1/domains/{domain}/refresh?kinds=rdap,dns`: looks the name up now (TTLs
/// ignored; pauses after a 429 and address safety still apply) and answers what was fetched.
pub async fn refresh(
    State(state): State<Arc<AppState>>,
    domain: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let id = new_request_id();
    let (parts, _) = request.into_parts();
    let result = async {
        let params = authorise(&state, &parts, b"").await?;
        let query = query_of(domain.map(|Path(d)| d).map_err(|e| e.body_text()))?;
        let kinds = match params.get("kinds") {
            None | Some("") => Kind::ALL.to_vec(),
            Some(list) => list
                .split(',')
                .map(str::parse)
                .collect::<Result<Vec<Kind>, _>>()
                .map_err(|reason| ApiError::invalid("kinds", reason))?,
        };
        let enricher = state
            .enricher
            .as_ref()
            .ok_or(ApiError::ServiceUnavailable)?;
        if !enricher.looks_up(&query) {
            return Err(ApiError::invalid(
                "domain",
                "the name is in a zone of enrich.never and is never looked up",
            ));
        }
        let fetched = enricher.refresh(&query, &kinds).await;
        Ok(json_response(&json!({
            "request_id": id,
            "domain": query.name(),
            "fetched": fetched,
        })))
    }
    .await;
    finish(&state, "native_refresh", started, &id, result)
}
