//! Everything specific to one database, a folder each: connecting, reading the catalog,
//! applying a plan by that database's crash-safety rules, its history table and its
//! migration lock. What is the same for every database lives outside this folder.

pub mod mysql;
pub mod postgres;
pub mod sqlite;
