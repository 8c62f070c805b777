//! hypercore's replication protocol (npm hypercore 10/11) towards readers: how hosters seed
//! the feeds they hold to stock hypercore clients (design §8, "Serving the feed").
//!
//! Layers, one file each: the encrypted transport ([`secret_stream`]), channel framing
//! ([`protomux`]), hypercore's messages ([`messages`]), the serving logic ([`seeder`]) and
//! the attestor's reads of a hoster ([`attestor`]).
//! Written here rather than taken from the datrs crates: see docs/decisions.md.

pub mod attestor;
pub mod messages;
pub mod protomux;
pub mod secret_stream;
pub mod seeder;

pub use seeder::{
	discovery_key, serve, Contact, ContactSigner, FeedSource, Limits, Served, ServedFeed,
};
