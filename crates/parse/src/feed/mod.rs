//! Threat feeds and allowlists: STIX, MISP, CSV exports, plain lists, warninglists, top-site lists.
