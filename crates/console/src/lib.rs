//! The analyst's console: HTML pages rendered on the server from native reports and store
//! summaries. Pure functions (no HTTP, no store access, no clock): the API crate reads what a
//! page needs, calls the page's function and serves the markup; every page reads without
//! JavaScript (the one embedded script only sorts tables in place).
//!
//! [`layout`] is the frame every page shares (navigation, language switch, the sign-out form);
//! [`search`] turns a pasted list into queries and renders the results table and its CSV;
//! [`domain`] is the report page with the explanation of the verdict; [`chart`] draws the SVG
//! charts; [`pages`] holds the dashboard, sources, sign-in and import pages; [`text`] the two
//! languages.

pub mod chart;
pub mod domain;
pub mod layout;
pub mod pages;
pub mod search;
pub mod text;

pub use layout::Page;

/// The stylesheet, served at `/console/assets/console.css`.
pub const CSS: &str = include_str!("../assets/console.css");
/// The table sorter, served at `/console/assets/console.js` (the project's own code).
pub const JS: &str = include_str!("../assets/console.js");
