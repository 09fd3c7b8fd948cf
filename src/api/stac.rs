//! The STAC API over the imagery catalogue, under /api/v1/stac. A
//! department user sees its own collection only; pilots and administrators
//! see every department's.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use geo::BoundingRect;
use serde_json::{json, Value};

use super::error::{parse_body, ApiError};
use crate::auth::{Caller, Role};
use crate::dispatcher::Dispatcher;
use crate::stac::{self, Search, SearchError};
use crate::store::{CatalogueQuery, DepartmentRow};

type QueryResult = Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>;

/// The catalogue's root URL as the caller reached it.
fn root(headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}/api/v1/stac")
}

fn geo_json(value: Value) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/geo+json")],
        Json(value),
    )
        .into_response()
}

fn search_error(e: SearchError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_search",
        e.message,
        Some(e.field),
    )
}

async fn visible_departments(
    dispatcher: &Dispatcher,
    caller: &Caller,
) -> Result<Vec<DepartmentRow>, ApiError> {
    let all = dispatcher
        .store()
        .departments()
        .await
        .map_err(ApiError::internal)?;
    Ok(all.into_iter().filter(|d| caller.may_see(&d.id)).collect())
}

fn region_extent(dispatcher: &Dispatcher) -> [f64; 4] {
    dispatcher
        .region()
        .boundary
        .bounding_rect()
        .map_or([-180.0, -90.0, 180.0, 90.0], |r| {
            [r.min().x, r.min().y, r.max().x, r.max().y]
        })
}

pub async fn landing(_caller: Caller, headers: HeaderMap) -> Response {
    Json(stac::landing(&root(&headers))).into_response()
}

pub async fn conformance(_caller: Caller) -> Response {
    Json(json!({ "conformsTo": stac::CONFORMANCE })).into_response()
}

pub async fn collections(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let root = root(&headers);
    let extent = region_extent(&dispatcher);
    let collections: Vec<Value> = visible_departments(&dispatcher, &caller)
        .await?
        .iter()
        .map(|d| stac::collection(&root, d, extent))
        .collect();
    Ok(Json(json!({
        "collections": collections,
        "links": [
            {"rel": "self", "href": format!("{root}/collections"), "type": "application/json"},
            {"rel": "root", "href": root, "type": "application/json"},
        ]
    }))
    .into_response())
}

pub async fn collection(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let department = visible_departments(&dispatcher, &caller)
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| ApiError::not_found("collection", &id))?;
    Ok(Json(stac::collection(
        &root(&headers),
        &department,
        region_extent(&dispatcher),
    ))
    .into_response())
}

pub async fn item(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    headers: HeaderMap,
    Path((collection, item)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let rows = if caller.may_see(&collection) {
        dispatcher
            .store()
            .catalogue(&CatalogueQuery {
                departments: Some(vec![collection.clone()]),
                ids: Some(vec![item.clone()]),
                ..CatalogueQuery::default()
            })
            .await
            .map_err(ApiError::internal)?
    } else {
        Vec::new()
    };
    let row = rows
        .first()
        .ok_or_else(|| ApiError::not_found("item", &item))?;
    let attitude = dispatcher
        .store()
        .image_attitude(&row.image_id)
        .await
        .map_err(ApiError::internal)?;
    Ok(geo_json(stac::item(
        &root(&headers),
        row,
        attitude.as_ref(),
    )))
}

/// Runs a search the caller is allowed: its collections are cut down to
/// the ones it may see.
async fn run(
    dispatcher: &Dispatcher,
    caller: &Caller,
    root: &str,
    search: &Search,
    post: bool,
) -> Result<Response, ApiError> {
    let visible: Vec<String> = match caller.role {
        Role::Department => caller.department.iter().cloned().collect(),
        Role::Pilot | Role::Admin => Vec::new(),
    };
    let departments = match (&search.collections, caller.role) {
        (Some(asked), Role::Department) => Some(
            asked
                .iter()
                .filter(|c| visible.contains(c))
                .cloned()
                .collect(),
        ),
        (Some(asked), _) => Some(asked.clone()),
        (None, Role::Department) => Some(visible),
        (None, _) => None,
    };
    let rows = dispatcher
        .store()
        .catalogue(&CatalogueQuery {
            departments,
            ids: search.ids.clone(),
            bbox: search.index_bbox(),
            from_ms: search.from_ms,
            to_ms: search.to_ms,
        })
        .await
        .map_err(ApiError::internal)?;
    let matched: Vec<_> = rows.into_iter().filter(|r| search.matches(r)).collect();
    let shown: Vec<_> = matched
        .iter()
        .skip(search.offset)
        .take(search.limit)
        .collect();
    let ids: Vec<String> = shown.iter().map(|r| r.image_id.clone()).collect();
    let attitudes = dispatcher
        .store()
        .image_attitudes(&ids)
        .await
        .map_err(ApiError::internal)?;
    let page: Vec<Value> = shown
        .iter()
        .map(|r| stac::item(root, r, attitudes.get(&r.image_id)))
        .collect();
    let mut links = vec![json!({"rel": "root", "href": root, "type": "application/json"})];
    if search.offset + search.limit < matched.len() {
        links.push(if post {
            json!({"rel": "next", "href": format!("{root}/search"), "type": "application/geo+json", "method": "POST", "body": search.next_body(), "merge": false})
        } else {
            json!({"rel": "next", "href": format!("{root}/search?{}", search.next_query()), "type": "application/geo+json", "method": "GET"})
        });
    }
    Ok(geo_json(json!({
        "type": "FeatureCollection",
        "features": page.clone(),
        "numberMatched": matched.len(),
        "numberReturned": page.len(),
        "links": links,
    })))
}

pub async fn search_get(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    headers: HeaderMap,
    query: QueryResult,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(super::query_error)?;
    let search = Search::from_query(&query).map_err(search_error)?;
    run(&dispatcher, &caller, &root(&headers), &search, false).await
}

pub async fn search_post(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let search = Search::from_body(&body).map_err(search_error)?;
    run(&dispatcher, &caller, &root(&headers), &search, true).await
}

/// A collection's items: a search limited to that collection.
pub async fn items(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    headers: HeaderMap,
    Path(collection): Path<String>,
    query: QueryResult,
) -> Result<Response, ApiError> {
    if !caller.may_see(&collection) {
        return Err(ApiError::not_found("collection", &collection));
    }
    let Query(mut query) = query.map_err(super::query_error)?;
    query.insert("collections".into(), collection);
    let search = Search::from_query(&query).map_err(search_error)?;
    run(&dispatcher, &caller, &root(&headers), &search, false).await
}
