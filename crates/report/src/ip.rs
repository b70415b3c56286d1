//! The report on an address (DescribeIpReport): the records on the address itself and on every
//! listed network that contains it, judged by the same verdict model as names, against the
//! allowlisted networks that contain it (public resolvers, CDNs, cloud ranges).

use std::net::IpAddr;

use serde::Serialize;
use threatintel_model::{IpNetwork, IpRecord, NetworkRegistration, Timestamp};
use threatintel_store::{NetworkAllowHit, ResolvedName};

use crate::engine::{intelligences, threat_types, Intelligence, ReportEngine, ThreatTypeSummary};
use crate::fields::FieldSet;
use crate::verdict::{decide, score, Relation, Verdict};
use crate::ReportError;

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpReportRequest {
    pub ip: IpAddr,
    pub fields: FieldSet,
    /// The report time: records are judged as of this instant.
    pub at: Timestamp,
    /// Also list the names that resolved to the address (the native API's list; one more read).
    pub with_lists: bool,
}

/// Where an address is and who announces it, from the databases the user supplies
/// ([`Geolocator`](crate::Geolocator)); every field is `""` where they say nothing (or none is
/// configured). Place names are the databases' English names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IpLocation {
    pub idc_name: String,
    pub isp: String,
    pub country: String,
    pub province: String,
    pub city: String,
    /// The announcing AS number, digits only.
    pub asn: String,
    pub asn_label: String,
}

/// The verdict on an address.
pub type IpVerdict = Verdict<IpRecord, NetworkAllowHit>;

/// The full, typed report on an address with the explanation of its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NativeIpReport {
    pub ip: IpAddr,
    pub report_time: Timestamp,
    #[serde(skip)]
    pub fields: FieldSet,
    pub verdict: IpVerdict,
    pub location: IpLocation,
    /// The listed networks wider than the address that contain it, most specific first.
    pub networks: Vec<IpNetwork>,
    /// The registration of every stored network that contains the address (RIR WHOIS, RDAP),
    /// most specific first; `Whois` shows the first.
    pub registrations: Vec<NetworkRegistration>,
    pub threat_types: Vec<ThreatTypeSummary>,
    pub intelligences: Vec<Intelligence>,
    /// With `with_lists`: the names that resolved to the address (passive DNS), the first
    /// `native_list_limit` in name order.
    pub resolved_names: Vec<ResolvedName>,
}

impl ReportEngine {
    /// Judges `request.ip` from the records of every stored network that contains it, and
    /// locates it.
    pub fn ip_report(&self, request: &IpReportRequest) -> Result<NativeIpReport, ReportError> {
        let reader = self.store().reader()?;
        let hits = reader.ip_records(request.ip)?;
        let allowed = reader.network_allowlist(request.ip)?;
        let host = IpNetwork::host(request.ip);
        let mut networks: Vec<IpNetwork> = Vec::new();
        let records = hits
            .iter()
            .filter_map(|hit| {
                let network = hit.record.network;
                let relation = if network == host {
                    Relation::Own
                } else {
                    if networks.last() != Some(&network) {
                        networks.push(network);
                    }
                    Relation::WithinNetwork { network }
                };
                score(self.verdict_config(), hit, relation, request.at)
            })
            .collect();
        let verdict = decide(self.verdict_config(), records, allowed);
        let registrations = reader.network_registrations(request.ip)?;
        let resolved_names = if request.with_lists {
            reader.names_resolving_to(request.ip, self.report_config().native_list_limit)?
        } else {
            Vec::new()
        };
        Ok(NativeIpReport {
            ip: request.ip,
            report_time: request.at,
            fields: request.fields,
            threat_types: threat_types(&verdict.records),
            intelligences: intelligences(&verdict.records),
            networks,
            registrations,
            resolved_names,
            verdict,
            location: self.geolocator().locate(request.ip),
        })
    }
}
