//! eventstream: a single-binary, durable gRPC event-streaming server.
//!
//! Layers, top to bottom: [`api`] (gRPC ⇄ domain), [`engine`] (topics, group commit,
//! subscriptions), [`storage`] (the sled-backed log). [`server::run`] wires them together;
//! [`telemetry`] names the metrics they record and serves them; [`auth`] decides who may do what.

pub mod api;
pub mod auth;
pub mod client;
pub mod config;
pub mod engine;
mod errors;
pub mod model;
pub mod server;
pub mod storage;
pub mod telemetry;
pub mod tls;

pub use api::pb;
