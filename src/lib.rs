//! eventstream: a single-binary, durable gRPC event-streaming server.
//!
//! Layers, top to bottom: [`api`] (gRPC ⇄ domain), [`engine`] (topics, group commit,
//! subscriptions), [`storage`] (the sled-backed log). [`server::run`] wires them together;
//! [`telemetry`] names the metrics they record and serves them.

pub mod api;
pub mod client;
pub mod config;
pub mod engine;
pub mod model;
pub mod server;
pub mod storage;
pub mod telemetry;

pub use api::pb;
