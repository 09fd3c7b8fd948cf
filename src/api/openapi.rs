//! The OpenAPI 3 description of the API, written out by hand from the
//! handlers (no derive machinery: one document, kept next to the routes it
//! describes), and a small self-contained page to read and try it.

use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok_json(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// Responses every authenticated operation may give, besides its own.
fn with_common(mut responses: Value) -> Value {
    let map = responses.as_object_mut().expect("responses object");
    map.insert(
        "401".into(),
        error_response("missing or unknown bearer token"),
    );
    map.insert(
        "403".into(),
        error_response("the caller's role may not do this"),
    );
    responses
}

fn path_id(description: &str) -> Value {
    json!({"name": "id", "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

fn json_body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

/// The media type the document is served as (what STAC's `service-desc`
/// link announces).
pub const MEDIA_TYPE: &str = "application/vnd.oai.openapi+json;version=3.0";

fn geo_json_ok(description: &str) -> Value {
    json!({"description": description, "content": {"application/geo+json": {"schema": {"type": "object", "required": ["type", "features", "links", "numberMatched", "numberReturned"], "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]}, "features": {"type": "array", "items": {"type": "object"}}, "numberMatched": {"type": "integer"}, "numberReturned": {"type": "integer"}}}}}})
}

/// Item search as query parameters (lists comma-separated, `intersects`
/// as GeoJSON text); `in_collection` adds the path's collection id.
fn stac_get_parameters(in_collection: bool) -> Value {
    let text = |name: &str, description: &str| json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}});
    let mut p = vec![
        text("bbox", "west,south,east,north (or 6 numbers with heights)"),
        text(
            "datetime",
            "RFC 3339 instant or start/end, `..` for an open end",
        ),
        text("ids", "comma-separated item ids"),
        json!({"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1}}),
        text("token", "paging token from a `next` link"),
    ];
    if in_collection {
        p.insert(0, path_id("department id"));
    } else {
        p.push(text("intersects", "GeoJSON geometry"));
        p.push(text("collections", "comma-separated collection ids"));
    }
    Value::Array(p)
}

/// The operational and STAC paths (a second `json!` keeps each macro
/// expansion within the compiler's recursion limit).
fn more_paths() -> Value {
    json!({
            "/metrics": {"get": {
                "operationId": "metrics", "security": [], "summary": "Prometheus text: tasks by state, queue wait (oldest, and a histogram until assignment), drones, flights, telemetry rate and counts, command latency to the bridge's answer, HTTP answers",
                "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}}
            }},
            "/api/v1/stac": {"get": {
                "operationId": "stacLanding", "summary": "STAC landing page (Catalog)",
                "responses": with_common(json!({"200": ok_json("the catalogue root", json!({"type": "object", "required": ["type", "stac_version", "id", "links", "conformsTo"]}))}))
            }},
            "/api/v1/stac/conformance": {"get": {
                "operationId": "stacConformance",
                "responses": with_common(json!({"200": ok_json("conformance classes", json!({"type": "object", "required": ["conformsTo"], "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}}}))}))
            }},
            "/api/v1/stac/collections": {"get": {
                "operationId": "stacCollections", "summary": "One collection per department the caller may see",
                "responses": with_common(json!({"200": ok_json("collections", json!({"type": "object", "required": ["collections", "links"], "properties": {"collections": {"type": "array", "items": {"type": "object"}}}}))}))
            }},
            "/api/v1/stac/collections/{id}": {"get": {
                "operationId": "stacCollection", "parameters": [path_id("department id")],
                "responses": with_common(json!({"200": ok_json("the collection", json!({"type": "object", "required": ["type", "id", "links"]})), "404": error_response("no such collection, or not the caller's")}))
            }},
            "/api/v1/stac/collections/{id}/items": {"get": {
                "operationId": "stacItems", "parameters": stac_get_parameters(true),
                "responses": with_common(json!({"200": geo_json_ok("the collection's items"), "400": error_response("a search parameter is invalid"), "404": error_response("no such collection, or not the caller's")}))
            }},
            "/api/v1/stac/collections/{id}/items/{item}": {"get": {
                "operationId": "stacItem",
                "parameters": [path_id("department id"), {"name": "item", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": with_common(json!({"200": {"description": "the item", "content": {"application/geo+json": {"schema": {"type": "object", "required": ["type", "id", "geometry", "properties", "links", "assets"]}}}}, "404": error_response("no such item, or not the caller's")}))
            }},
            "/api/v1/stac/search": {
                "get": {
                    "operationId": "stacSearchGet", "parameters": stac_get_parameters(false),
                    "responses": with_common(json!({"200": geo_json_ok("matching items, newest first"), "400": error_response("a search parameter is invalid")}))
                },
                "post": {
                    "operationId": "stacSearchPost",
                    "requestBody": json_body(json!({"type": "object", "properties": {
                        "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6},
                        "intersects": {"type": "object"},
                        "datetime": {"type": "string"},
                        "collections": {"type": "array", "items": {"type": "string"}},
                        "ids": {"type": "array", "items": {"type": "string"}},
                        "limit": {"type": "integer", "minimum": 1},
                        "token": {"type": "string"}
                    }})),
                    "responses": with_common(json!({"200": geo_json_ok("matching items, newest first"), "400": error_response("a search parameter is invalid")}))
                }
            }
    })
}

pub fn document() -> Value {
    let mut doc = paths_and_components();
    // Built in parts: one `json!` for the whole document exceeds the
    // macro's recursion limit.
    let parts = [
        more_paths(),
        restriction_paths(),
        check_paths(),
        pilot_paths(),
        fleet_paths(),
        zone_paths(),
        super::me::paths(),
    ];
    if let Some(paths) = doc["paths"].as_object_mut() {
        for part in parts {
            if let Value::Object(more) = part {
                paths.extend(more);
            }
        }
    }
    if let (Some(schemas), Value::Object(more)) = (
        doc["components"]["schemas"].as_object_mut(),
        fleet_schemas(),
    ) {
        schemas.extend(more);
    }
    doc
}

/// Alerts and taking a drone over (pilots; alerts also administrators).
fn pilot_paths() -> Value {
    let time = json!({"type": "string", "format": "date-time"});
    let maybe_time = json!({"type": "string", "format": "date-time", "nullable": true});
    let alert = json!({"type": "object",
    "required": ["id", "drone_id", "kind", "message", "raised_at", "cleared_at", "acknowledged_by", "acknowledged_at"],
    "properties": {
        "id": {"type": "string"}, "drone_id": {"type": "string"},
        "kind": {"type": "string", "enum": ["off_route", "in_zone", "near_zone", "outside_area", "failsafe", "fence_breach", "link_lost", "bridge_offline", "airspace_conflict"]},
        "message": {"type": "string"}, "raised_at": time, "cleared_at": maybe_time.clone(),
        "acknowledged_by": {"type": "string", "nullable": true}, "acknowledged_at": maybe_time
    }});
    let takeover = json!({"type": "object", "required": ["drone", "taken_over_by", "state"], "properties": {
        "drone": {"type": "string"}, "taken_over_by": {"type": "string", "nullable": true},
        "state": {"type": "string", "enum": ["taken_over", "released"]},
        "command_id": {"type": "string", "nullable": true}, "audit_seq": {"type": "integer"}}});
    json!({
        "/api/v1/alerts": {"get": {
            "operationId": "listAlerts", "summary": "Alerts, open ones by default (pilots and administrators)",
            "parameters": [{"name": "state", "in": "query", "required": false, "schema": {"type": "string", "enum": ["open", "all"]}}],
            "responses": with_common(json!({
                "200": ok_json("alerts, newest first", json!({"type": "object", "required": ["alerts"], "properties": {"alerts": {"type": "array", "items": alert.clone()}}})),
                "400": error_response("a query parameter is invalid")
            }))
        }},
        "/api/v1/alerts/{id}/acknowledge": {"post": {
            "operationId": "acknowledgeAlert", "summary": "Acknowledge an alert; repeating it keeps the first acknowledgement (audited)",
            "parameters": [path_id("alert id")],
            "responses": with_common(json!({
                "200": ok_json("the alert", alert),
                "404": error_response("no such alert")
            }))
        }},
        "/api/v1/drones/{id}/takeover": {"post": {
            "operationId": "takeOverDrone",
            "summary": "A pilot takes the drone over: the dispatcher stops commanding it and assigns it nothing; in the air it is told to hold (audited, with the command's outcome)",
            "parameters": [path_id("drone id")],
            "responses": with_common(json!({
                "200": ok_json("taken over", takeover.clone()),
                "404": error_response("no such drone"),
                "409": error_response("another pilot holds it"),
                "503": error_response("the MQTT broker did not take the hold command")
            }))
        }},
        "/api/v1/drones/{id}/release": {"post": {
            "operationId": "releaseDrone", "summary": "Hand a taken-over drone back to the dispatcher (audited)",
            "parameters": [path_id("drone id")],
            "responses": with_common(json!({
                "200": ok_json("released", takeover),
                "404": error_response("no such drone"),
                "409": error_response("nobody holds it")
            }))
        }}
    })
}

/// Recurring series, drones' service states, docks and flight-time shares.
fn fleet_schemas() -> Value {
    json!({
        "Recurrence": {"type": "object", "required": ["every", "until"], "additionalProperties": false,
            "description": "Fly the task again every day or week: occurrence k flies in `window` shifted by k periods, as a task of its own created 48 h before its window opens, until no window opens after `until` (at most 366 days after the first). The window must give start and end and be no longer than the period.",
            "properties": {"every": {"type": "string", "enum": ["daily", "weekly"]}, "until": {"type": "string", "format": "date-time"}}},
        "Series": {"type": "object", "required": ["id", "department_id", "request", "state", "next_occurrence", "created_at_ms", "updated_at_ms"], "properties": {
            "id": {"type": "string"}, "department_id": {"type": "string"}, "request": {"type": "object"},
            "state": {"type": "string", "enum": ["active", "finished", "cancelled"]},
            "next_occurrence": {"type": "integer"}, "created_at_ms": {"type": "integer"}, "updated_at_ms": {"type": "integer"},
            "reason": {"type": "string", "nullable": true}}},
        "SeriesCreated": {"type": "object", "required": ["series", "tasks"], "properties": {
            "series": {"$ref": "#/components/schemas/Series"},
            "tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}}}},
        "DroneService": {"type": "object", "required": ["id", "dock_id", "payloads", "service", "service_reason", "online", "flying", "task_ids"], "properties": {
            "id": {"type": "string"}, "dock_id": {"type": "string"}, "payloads": {"type": "array", "items": {"type": "string"}},
            "service": {"type": "string", "enum": ["in_service", "maintenance", "lost"]},
            "service_reason": {"type": "string", "nullable": true},
            "online": {"type": "boolean"}, "flying": {"type": "boolean"},
            "task_ids": {"type": "array", "items": {"type": "string"}},
            "battery_pct": {"type": "number", "nullable": true}, "lat_deg": {"type": "number", "nullable": true}, "lon_deg": {"type": "number", "nullable": true}}}
    })
}

fn fleet_paths() -> Value {
    let series = json!({"$ref": "#/components/schemas/Series"});
    let task = json!({"$ref": "#/components/schemas/Task"});
    let drone = json!({"$ref": "#/components/schemas/DroneService"});
    json!({
        "/api/v1/series": {"get": {
            "operationId": "listSeries", "summary": "Recurring tasks: a department's own, or all for pilots and admins",
            "responses": with_common(json!({"200": ok_json("series, oldest first", json!({"type": "object", "required": ["series"], "properties": {"series": {"type": "array", "items": series.clone()}}}))}))
        }},
        "/api/v1/series/{id}": {"get": {
            "operationId": "getSeries", "parameters": [path_id("series id")],
            "responses": with_common(json!({
                "200": ok_json("the series and the tasks its occurrences became", json!({"type": "object", "required": ["series", "tasks"], "properties": {"series": series.clone(), "tasks": {"type": "array", "items": task.clone()}}})),
                "404": error_response("no such series, or another department's")
            }))
        }},
        "/api/v1/series/{id}/cancel": {"post": {
            "operationId": "cancelSeries", "summary": "Cancel a recurring task (its department only): no more occurrences, queued ones cancelled",
            "parameters": [path_id("series id")],
            "responses": with_common(json!({
                "200": ok_json("the series, now cancelled, and the tasks cancelled with it", json!({"type": "object", "required": ["series", "cancelled_tasks"], "properties": {"series": series.clone(), "cancelled_tasks": {"type": "array", "items": {"type": "string"}}}})),
                "404": error_response("no such series, or another department's"),
                "409": error_response("the series is already cancelled")
            }))
        }},
        "/api/v1/drones": {"get": {
            "operationId": "listDrones", "summary": "Every drone with its payloads and service state; departments see only their own task ids",
            "responses": with_common(json!({"200": ok_json("the drones", json!({"type": "object", "required": ["drones"], "properties": {"drones": {"type": "array", "items": drone.clone()}}}))}))
        }},
        "/api/v1/drones/{id}/service": {"put": {
            "operationId": "putDroneService", "summary": "Put a drone in or out of service (admins; pilots may set maintenance or lost). A drone declared lost has what it was flying re-queued. Audited.",
            "parameters": [path_id("drone id")],
            "requestBody": json_body(json!({"type": "object", "required": ["state"], "additionalProperties": false, "properties": {
                "state": {"type": "string", "enum": ["in_service", "maintenance", "lost"]},
                "reason": {"type": "string", "nullable": true, "maxLength": 500}}})),
            "responses": with_common(json!({
                "200": ok_json("the drone, and the tasks re-queued", json!({"type": "object", "required": ["drone", "requeued"], "properties": {"drone": drone.clone(), "requeued": {"type": "array", "items": {"type": "string"}}}})),
                "400": error_response("body is not a service change"),
                "404": error_response("no such drone"),
                "422": error_response("unknown state, or a reason too long")
            }))
        }},
        "/api/v1/docks": {"get": {
            "operationId": "listDocks", "summary": "The region's docks and the drones based on each",
            "responses": with_common(json!({"200": ok_json("the docks", json!({"type": "object", "required": ["docks"], "properties": {"docks": {"type": "array", "items": {"type": "object", "required": ["id", "name", "lat", "lon", "alt_msl_m", "drones"], "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "lat": {"type": "number"}, "lon": {"type": "number"}, "alt_msl_m": {"type": "number"},
                "drones": {"type": "array", "items": {"type": "string"}}}}}}}))}))
        }},
        "/api/v1/fleet/shares": {"get": {
            "operationId": "listShares", "summary": "Each department's share of flight time and what it flew over the last 7 days (pilots, admins)",
            "responses": with_common(json!({"200": ok_json("shares", json!({"type": "object", "required": ["period_days", "departments"], "properties": {
                "period_days": {"type": "integer"},
                "departments": {"type": "array", "items": {"type": "object", "required": ["department_id", "share", "entitled_fraction", "used_s", "used_fraction"], "properties": {
                    "department_id": {"type": "string"}, "share": {"type": "number"}, "entitled_fraction": {"type": "number"}, "used_s": {"type": "number"}, "used_fraction": {"type": "number"}}}}}}))}))
        }},
        "/api/v1/fleet/shares/{id}": {"put": {
            "operationId": "putShare", "summary": "Set a department's share of flight time, a weight normalised over departments (admins; null for the default 1). Audited.",
            "parameters": [path_id("department id")],
            "requestBody": json_body(json!({"type": "object", "required": ["share"], "additionalProperties": false, "properties": {"share": {"type": "number", "nullable": true, "minimum": 0, "maximum": 1000}}})),
            "responses": with_common(json!({
                "200": ok_json("the share set", json!({"type": "object", "required": ["department_id", "share"], "properties": {"department_id": {"type": "string"}, "share": {"type": "number"}}})),
                "400": error_response("body is not a share"),
                "404": error_response("no such department"),
                "422": error_response("share out of range")
            }))
        }}
    })
}

/// The pre-submit airspace check.
fn check_paths() -> Value {
    let line = json!({"type": "object", "required": ["type", "coordinates"], "properties": {
        "type": {"type": "string", "enum": ["LineString"]},
        "coordinates": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}}});
    let conflict = json!({"type": "object", "required": ["leg", "zone_id", "zone_kind", "blocking", "explanation", "leg_geometry"], "properties": {
        "leg": {"type": "integer", "minimum": 1}, "zone_id": {"type": "string"}, "zone_kind": {"type": "string"},
        "blocking": {"type": "boolean"}, "explanation": {"type": "string"}, "leg_geometry": line.clone()}});
    json!({
        "/api/v1/airspace/check": {"post": {
            "operationId": "checkAirspace",
            "summary": "The airspace check of a task request before it is submitted: the flight the dispatcher would plan now and every conflict of its legs with the zones in force. Stores nothing",
            "requestBody": json_body(json!({"$ref": "#/components/schemas/TaskRequest"})),
            "responses": with_common(json!({
                "200": ok_json("the verdict", json!({"type": "object", "required": ["ok", "route", "conflicts", "explanation"], "properties": {
                    "ok": {"type": "boolean"}, "route": line, "conflicts": {"type": "array", "items": conflict},
                    "explanation": {"type": "string"}}})),
                "400": error_response("body is not a task request"),
                "422": error_response("the request is invalid or no flight can be planned for it")
            }))
        }}
    })
}

/// Zones: export, import (all or nothing), delete an imported one.
fn zone_paths() -> Value {
    let collection = json!({"type": "object", "required": ["type", "features"], "properties": {
        "type": {"type": "string"}, "features": {"type": "array", "items": {"type": "object"}}}});
    let imported = json!({"type": "object", "required": ["imported"], "properties": {
        "imported": {"type": "array", "items": {"type": "string"}}}});
    json!({
        "/api/v1/zones": {
            "get": {
                "operationId": "exportZones",
                "summary": "The region map's zones and the imported ones as GeoJSON, each with its band, time, kind and source (pilots, admins)",
                "responses": with_common(json!({
                    "200": {"description": "a FeatureCollection", "content": {"application/geo+json": {"schema": collection}}}
                }))
            },
            "post": {
                "operationId": "importZones",
                "summary": "Import a zone file (admins): ED-269 JSON, GeoJSON or a QGroundControl .plan, told apart by content; stored and in force at once, all or nothing",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": with_common(json!({
                    "201": ok_json("stored and in force", imported),
                    "400": error_response("the body is not text"),
                    "422": error_response("nothing imported; every problem is listed (also as error.problems)")
                }))
            }
        },
        "/api/v1/zones/{id}": {"delete": {
            "operationId": "deleteZone", "summary": "Delete an imported zone (admins)",
            "parameters": [path_id("zone id")],
            "responses": with_common(json!({
                "204": {"description": "deleted, no longer in force"},
                "404": error_response("no imported zone with that id"),
                "409": error_response("a map zone or a restriction, not deleted here")
            }))
        }}
    })
}

/// Temporary restrictions (kept apart: one `json!` for the whole document
/// exceeds the macro's recursion limit).
fn restriction_paths() -> Value {
    let created = json!({"type": "object", "required": ["restrictions", "affected_flights"], "properties": {
        "restrictions": {"type": "array", "items": {"type": "string"}},
        "affected_flights": {"type": "array", "items": {"type": "object", "required": ["drone", "legs"],
            "properties": {"drone": {"type": "string"}, "legs": {"type": "array", "items": {"type": "integer"}}}}}}});
    let collection = json!({"type": "object", "required": ["type", "features"], "properties": {
        "type": {"type": "string"}, "features": {"type": "array", "items": {"type": "object"}}}});
    json!({
        "/api/v1/restrictions": {
            "get": {
                "operationId": "listRestrictions", "summary": "Temporary restrictions in force, as GeoJSON",
                "responses": with_common(json!({
                    "200": {"description": "a FeatureCollection", "content": {"application/geo+json": {"schema": collection}}}
                }))
            },
            "post": {
                "operationId": "createRestrictions",
                "summary": "Put zones in force now (admins): a GeoJSON FeatureCollection, ED-269 or QGroundControl plan; answers with the flights in the air they meet",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": with_common(json!({
                    "201": ok_json("created", created),
                    "400": error_response("the body is not text"),
                    "409": error_response("a zone with that id exists"),
                    "422": error_response("a zone is invalid; every problem is listed")
                }))
            }
        },
        "/api/v1/restrictions/{id}": {"delete": {
            "operationId": "deleteRestriction", "summary": "Lift a temporary restriction (admins)",
            "parameters": [path_id("restriction id")],
            "responses": with_common(json!({
                "204": {"description": "lifted"},
                "404": error_response("no such restriction")
            }))
        }}
    })
}

fn paths_and_components() -> Value {
    let task = json!({"$ref": "#/components/schemas/Task"});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "skyshare dispatcher API",
            "version": "1",
            "description": "Shared-drone dispatch. Live streams (not described here, they never end): GET /api/v1/live/ws (WebSocket; a browser may offer its token as the subprotocol `bearer.<token>` beside `skyshare.v1`) and /api/v1/live/sse (Server-Sent Events), JSON messages of type drone, task, alert (pilots and administrators) or lagged. A client whose socket accepts nothing for 10 s is disconnected (WebSocket: close code 1008, reason `too slow: ...`). Bearer tokens belong to users with one role: department (its own tasks, flights and imagery), pilot (every flight; drone commands, take-over; alerts), admin (departments, quotas, users, tokens, audit log). Another department's ids read as 404."
        },
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": {
                "operationId": "healthz", "security": [], "summary": "The process answers",
                "responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": {"type": "string"}}}}}
            }},
            "/readyz": {"get": {
                "operationId": "readyz", "security": [], "summary": "The store answers",
                "responses": {"200": {"description": "ready", "content": {"text/plain": {"schema": {"type": "string"}}}}, "503": error_response("the database does not answer")}
            }},
            "/api/v1/tasks": {
                "post": {
                    "operationId": "createTask", "summary": "Submit a task (department users)",
                    "requestBody": json_body(json!({"$ref": "#/components/schemas/TaskRequest"})),
                    "responses": with_common(json!({
                        "201": ok_json("stored as queued; a request with a recurrence answers with its series and the occurrences created so far", json!({"oneOf": [task.clone(), {"$ref": "#/components/schemas/SeriesCreated"}]})),
                        "400": error_response("body is not a task request"),
                        "409": error_response("the department's quota of unfinished tasks is reached"),
                        "422": error_response("the task is invalid or refused (airspace, reach, sensors)")
                    }))
                },
                "get": {
                    "operationId": "listTasks", "summary": "Tasks: a department's own, or all for pilots and admins",
                    "responses": with_common(json!({
                        "200": ok_json("tasks, newest first", json!({"type": "object", "required": ["tasks"], "properties": {"tasks": {"type": "array", "items": task.clone()}}}))
                    }))
                }
            },
            "/api/v1/tasks/{id}": {"get": {
                "operationId": "getTask", "parameters": [path_id("task id")],
                "responses": with_common(json!({
                    "200": ok_json("the task", task.clone()),
                    "404": error_response("no such task, or another department's")
                }))
            }},
            "/api/v1/tasks/{id}/cancel": {"post": {
                "operationId": "cancelTask", "summary": "Cancel a queued task (its department only)",
                "parameters": [path_id("task id")],
                "responses": with_common(json!({
                    "200": ok_json("the task, now cancelled", task.clone()),
                    "404": error_response("no such task, or another department's"),
                    "409": error_response("the task is no longer queued")
                }))
            }},
            "/api/v1/images": {"get": {
                "operationId": "listImages",
                "parameters": [{"name": "task", "in": "query", "required": true, "schema": {"type": "string"}}],
                "responses": with_common(json!({
                    "200": ok_json("the task's photos the caller may see", json!({"type": "object", "required": ["task", "images"], "properties": {"task": {"type": "string"}, "images": {"type": "array", "items": {"$ref": "#/components/schemas/Image"}}}})),
                    "400": error_response("no task given")
                }))
            }},
            "/api/v1/fleet": {"get": {
                "operationId": "fleet", "summary": "Every drone; departments see only their own task ids on them",
                "responses": with_common(json!({"200": ok_json("the fleet", json!({"type": "object", "required": ["drones"], "properties": {"drones": {"type": "array", "items": {"$ref": "#/components/schemas/Drone"}}}}))}))
            }},
            "/api/v1/flights": {"get": {
                "operationId": "flights", "summary": "Drones flying tasks the caller may see",
                "responses": with_common(json!({"200": ok_json("flights", json!({"type": "object", "required": ["flights"], "properties": {"flights": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/Drone"}, {"type": "object", "properties": {"route": {"type": "object", "nullable": true, "description": "planned route, GeoJSON LineString"}}}]}}}}))}))
            }},
            "/api/v1/drones/{id}/commands": {"post": {
                "operationId": "droneCommand", "summary": "Pause, resume, return or land a drone (pilots)",
                "parameters": [path_id("drone id")],
                "requestBody": json_body(json!({"type": "object", "required": ["command"], "additionalProperties": false, "properties": {"command": {"type": "string", "enum": ["pause", "resume", "return_to_launch", "land"]}}})),
                "responses": with_common(json!({
                    "202": ok_json("published; the bridge's answer is appended to the audit log", json!({"type": "object", "required": ["drone", "command", "command_id", "state", "audit_seq"], "properties": {"drone": {"type": "string"}, "command": {"type": "string"}, "command_id": {"type": "string"}, "state": {"type": "string", "enum": ["sent"]}, "audit_seq": {"type": "integer"}}})),
                    "400": error_response("body is not a command"),
                    "404": error_response("no such drone"),
                    "503": error_response("the MQTT broker did not take the command")
                }))
            }},
            "/api/v1/departments": {"get": {
                "operationId": "listDepartments",
                "responses": with_common(json!({"200": ok_json("departments with quotas", json!({"type": "object", "required": ["departments"], "properties": {"departments": {"type": "array", "items": {"$ref": "#/components/schemas/Department"}}}}))}))
            }},
            "/api/v1/departments/{id}": {"put": {
                "operationId": "putDepartment", "summary": "Create or update a department and its quota (admins)",
                "parameters": [path_id("department id")],
                "requestBody": json_body(json!({"type": "object", "required": ["name"], "additionalProperties": false, "properties": {"name": {"type": "string"}, "max_open_tasks": {"type": "integer", "minimum": 0, "nullable": true}}})),
                "responses": with_common(json!({
                    "200": ok_json("the department", json!({"$ref": "#/components/schemas/Department"})),
                    "400": error_response("body is not a department"),
                    "422": error_response("invalid id, name or quota")
                }))
            }},
            "/api/v1/users": {"get": {
                "operationId": "listUsers",
                "responses": with_common(json!({"200": ok_json("users", json!({"type": "object", "required": ["users"], "properties": {"users": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}}}))}))
            }},
            "/api/v1/users/{id}": {"put": {
                "operationId": "putUser", "summary": "Create or update a user (admins)",
                "parameters": [path_id("user id")],
                "requestBody": json_body(json!({"type": "object", "required": ["name", "role"], "additionalProperties": false, "properties": {"name": {"type": "string"}, "role": {"type": "string", "enum": ["department", "pilot", "admin"]}, "department_id": {"type": "string", "nullable": true}}})),
                "responses": with_common(json!({
                    "200": ok_json("the user", json!({"$ref": "#/components/schemas/User"})),
                    "400": error_response("body is not a user"),
                    "422": error_response("invalid id, role or department")
                }))
            }},
            "/api/v1/users/{id}/tokens": {
                "post": {
                    "operationId": "issueToken", "summary": "A new token for the user, shown once (admins)",
                    "parameters": [path_id("user id")],
                    "responses": with_common(json!({
                        "201": ok_json("the token", json!({"type": "object", "required": ["user_id", "token"], "properties": {"user_id": {"type": "string"}, "token": {"type": "string"}}})),
                        "404": error_response("no such user")
                    }))
                },
                "delete": {
                    "operationId": "revokeTokens", "summary": "Revoke every token of the user (admins)",
                    "parameters": [path_id("user id")],
                    "responses": with_common(json!({
                        "200": ok_json("how many were revoked", json!({"type": "object", "required": ["user_id", "revoked"], "properties": {"user_id": {"type": "string"}, "revoked": {"type": "integer"}}})),
                        "404": error_response("no such user")
                    }))
                }
            },
            "/api/v1/audit": {"get": {
                "operationId": "audit", "summary": "The audit log, oldest first (admins)",
                "parameters": [
                    {"name": "after", "in": "query", "required": false, "schema": {"type": "integer", "format": "int64"}},
                    {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "format": "int64"}}
                ],
                "responses": with_common(json!({
                    "200": ok_json("audit lines", json!({"type": "object", "required": ["entries"], "properties": {"entries": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}}}})),
                    "400": error_response("a parameter is not an integer")
                }))
            }}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message", "where"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "where": {"type": "string", "nullable": true}}}}},
                "TaskRequest": {"type": "object", "required": ["kind", "geometry", "alt_m", "sensor"], "additionalProperties": false, "properties": {
                    "kind": {"type": "string", "enum": ["point_inspection", "area_survey", "corridor_survey"]},
                    "geometry": {"type": "object", "required": ["type", "coordinates"], "additionalProperties": false, "properties": {"type": {"type": "string", "enum": ["Point", "Polygon", "LineString"]}, "coordinates": {"type": "array"}}},
                    "alt_m": {"type": "number"},
                    "sensor": {"type": "string", "enum": ["visible", "thermal", "multispectral", "loudspeaker"]},
                    "priority": {"type": "string", "enum": ["routine", "urgent", "emergency"]},
                    "radius_m": {"type": "number"},
                    "photos": {"type": "integer", "minimum": 0, "maximum": 4294967295u64},
                    "width_m": {"type": "number", "nullable": true},
                    "overlap": {"type": "object", "nullable": true, "required": ["side", "front"], "additionalProperties": false, "properties": {"side": {"type": "number"}, "front": {"type": "number"}}},
                    "window": {"type": "object", "nullable": true, "additionalProperties": false, "properties": {"start": {"type": "string", "format": "date-time", "nullable": true}, "end": {"type": "string", "format": "date-time", "nullable": true}}},
                    "recurrence": {"allOf": [{"$ref": "#/components/schemas/Recurrence"}], "nullable": true}
                }},
                "Task": {"type": "object", "required": ["id", "department_id", "kind", "request", "state", "created_at_ms", "updated_at_ms"], "properties": {
                    "id": {"type": "string"}, "department_id": {"type": "string"}, "kind": {"type": "string"}, "request": {"type": "object"},
                    "state": {"type": "string", "enum": ["queued", "assigned", "in_flight", "completed", "failed", "cancelled"]},
                    "reason": {"type": "string", "nullable": true}, "drone_id": {"type": "string", "nullable": true},
                    "created_at_ms": {"type": "integer"}, "updated_at_ms": {"type": "integer"},
                    "progress_seq": {"type": "integer", "nullable": true}, "progress_total": {"type": "integer", "nullable": true}
                }},
                "Image": {"type": "object", "required": ["id", "task_id", "department_id", "drone_id", "captured_at_ms", "lat_deg", "lon_deg"], "properties": {
                    "id": {"type": "string"}, "task_id": {"type": "string"}, "department_id": {"type": "string"}, "drone_id": {"type": "string"},
                    "image_index": {"type": "integer"}, "captured_at_ms": {"type": "integer"}, "lat_deg": {"type": "number"}, "lon_deg": {"type": "number"},
                    "alt_msl_m": {"type": "number"}, "alt_rel_m": {"type": "number"}, "file_url": {"type": "string", "nullable": true}
                }},
                "Drone": {"type": "object", "required": ["id", "dock_id", "sensors", "online", "task_ids"], "properties": {
                    "id": {"type": "string"}, "dock_id": {"type": "string"}, "sensors": {"type": "array", "items": {"type": "string"}},
                    "online": {"type": "boolean"}, "telemetry": {"type": "object", "nullable": true},
                    "task_id": {"type": "string", "nullable": true}, "task_ids": {"type": "array", "items": {"type": "string"}},
                    "seconds_since_telemetry": {"type": "number", "nullable": true},
                    "taken_over": {"type": "object", "nullable": true, "description": "the pilot holding it and since when", "properties": {"pilot": {"type": "string"}, "since": {"type": "string", "format": "date-time"}}}
                }},
                "Department": {"type": "object", "required": ["id", "name"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "max_open_tasks": {"type": "integer", "nullable": true}}},
                "User": {"type": "object", "required": ["id", "name", "role", "created_at_ms"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "role": {"type": "string", "enum": ["department", "pilot", "admin"]}, "department_id": {"type": "string", "nullable": true}, "created_at_ms": {"type": "integer"}}},
                "AuditEntry": {"type": "object", "required": ["seq", "at_ms", "actor", "role", "action", "target", "detail", "result"], "properties": {"seq": {"type": "integer"}, "at_ms": {"type": "integer"}, "actor": {"type": "string"}, "role": {"type": "string"}, "action": {"type": "string"}, "target": {"type": "string"}, "detail": {}, "result": {"type": "string"}}}
            }
        }
    })
}

/// A page that reads /api/v1/openapi.json and lets one call each operation
/// with a token; everything it needs is in this file (no CDN).
pub const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>skyshare API</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}
details{border:1px solid #ccc;border-radius:4px;margin:.4em 0;padding:.3em .6em}
summary{cursor:pointer} code{background:#f4f4f4} textarea{width:100%;height:8em;font-family:monospace}
pre{background:#f4f4f4;padding:.5em;overflow:auto;max-height:20em} .m{font-weight:bold;display:inline-block;width:4.5em}
</style></head><body>
<h1>skyshare API</h1>
<p><label>Bearer token <input id="token" size="60" autocomplete="off"></label></p>
<p id="about"></p><div id="ops"></div>
<script>
"use strict";
function el(tag, attrs, text){const e=document.createElement(tag);Object.assign(e,attrs||{});if(text!==undefined)e.textContent=text;return e;}
async function call(method, path, params, body, out){
  let url=path; const query=new URLSearchParams();
  for(const [p,input] of params){const v=input.value; if(p.in==="path")url=url.replace("{"+p.name+"}",encodeURIComponent(v)); else if(v!=="")query.set(p.name,v);}
  if([...query].length)url+="?"+query;
  const headers={}; const token=document.getElementById("token").value.trim();
  if(token)headers["Authorization"]="Bearer "+token;
  const init={method:method.toUpperCase(),headers};
  if(body){headers["Content-Type"]="application/json";init.body=body.value;}
  try{const r=await fetch(url,init);const text=await r.text();let shown=text;try{shown=JSON.stringify(JSON.parse(text),null,2);}catch(e){}
    out.textContent=r.status+" "+r.statusText+"\n\n"+shown;}catch(e){out.textContent=String(e);}
}
fetch("/api/v1/openapi.json").then(r=>r.json()).then(doc=>{
  document.getElementById("about").textContent=doc.info.description||"";
  const ops=document.getElementById("ops");
  for(const [path,item] of Object.entries(doc.paths)){for(const [method,op] of Object.entries(item)){
    const d=el("details"); const s=el("summary"); s.append(el("span",{className:"m"},method.toUpperCase()),el("code",{},path)," "+(op.summary||op.operationId||""));
    d.append(s); const params=[];
    for(const p of op.parameters||[]){const input=el("input",{});const l=el("label",{},p.name+" ("+p.in+") ");l.append(input);d.append(el("div",{}),l);params.push([p,input]);}
    let body=null; if(op.requestBody){body=el("textarea");body.value="{}";d.append(el("div",{},"JSON body"),body);}
    const out=el("pre"); const b=el("button",{},"Send"); b.onclick=()=>call(method,path,params,body,out);
    d.append(el("div"),b,out);
    const codes=el("div",{},"Answers: "+Object.entries(op.responses).map(([c,r])=>c+" "+r.description).join("; "));
    d.append(codes); ops.append(d);
  }}
});
</script></body></html>
"#;
