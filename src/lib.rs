//! skyshare: shared-drone dispatch for a city district.
//!
//! Core without IO: [`airspace`], [`planning`], [`coverage`], [`routing`],
//! [`scheduling`]. Edges:
//! [`store`] (SQL), [`dispatcher`] (MQTT and the flight lifecycle), [`api`]
//! (HTTP), [`console`] (the web console). [`demo`] composes everything,
//! with the simulator and the bridges, in one process. See ARCHITECTURE.md.

pub mod airspace;
pub mod alerts;
pub mod api;
pub mod audit;
pub mod auth;
pub mod bench_airspace;
pub mod bench_live;
pub mod console;
pub mod coverage;
pub mod demo;
pub mod dispatcher;
pub mod fleet_service;
pub mod flight;
pub mod footprint;
pub mod instruments;
pub mod live;
pub mod planning;
pub mod recurrence;
pub mod region;
pub mod routing;
pub mod scheduling;
pub mod stac;
pub mod store;
pub mod task;
pub mod zones_cli;
