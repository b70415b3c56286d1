//! The PostgreSQL reader: a `REPEATABLE READ READ ONLY` transaction on a pooled connection,
//! returning what the SQLite reader returns, in the same order.

use std::cell::{RefCell, RefMut};
use std::net::IpAddr;
use std::ops::ControlFlow;

use ::postgres::types::ToSql;
use ::postgres::Row;
use r2d2::PooledConnection;
use threatintel_model::{
    AllowlistEntry, Certificate, DnsRelation, DomainName, DomainQuery, IndicatorRecord, IpIntel,
    IpNetwork, IpRecord, NetworkAllowEntry, Source, Timestamp, WhoisRecord,
};

use super::{corrupt, secs, Manager, Params};
use crate::codec::{
    allowlist_kind, intel_of, ip_bytes, ip_from_bytes, ip_record_order, matching,
    network_allow_order, newest_first, relation, reliability, risk, tld_listings_sql,
    whois_listed_sql, ALLOWLIST_COLUMNS, INDICATOR_COLUMNS, IP_RECORD_COLUMNS, LOOKUP_COLUMNS,
    PHISHING_LABELS, RELATION_COLUMNS, RELATION_ORDER, SHARED_ZONES, TOP_SITES,
};
use crate::keys::{key, key_end, kind, name_from_key, scope_range};
use crate::{
    AllowlistHit, CommitMarker, EventTotal, FeedState, IndicatorHit, IpRecordHit, ListedShare,
    LookupState, NameModelInputs, NetworkAllowHit, ResolvedIp, Result, SourceSummary, StoreError,
    StoreReader, StoreStats,
};

/// The order SQLite returns a name's indicators in (its primary key), after the name.
const INDICATOR_ORDER: &str = "i.zone, i.source_id, i.threat_type, i.label";

/// The probes' networks and prefix lengths, as the `unnest` of a probe query takes them.
fn probe_params(probes: &[(IpAddr, IpNetwork)]) -> (Vec<Vec<u8>>, Vec<i16>) {
    probes
        .iter()
        .map(|(_, net)| (ip_bytes(net.addr()), i16::from(net.prefix())))
        .unzip()
}

/// The probe a row's `WITH ORDINALITY` number (from 1) names, with its index.
fn probe_at(probes: &[(IpAddr, IpNetwork)], ord: i64) -> Result<(usize, &(IpAddr, IpNetwork))> {
    usize::try_from(ord - 1)
        .ok()
        .and_then(|i| Some((i, probes.get(i)?)))
        .ok_or_else(|| corrupt(format!("probe {ord}")))
}

fn indicator_hit(row: &Row) -> Result<IndicatorHit> {
    let label: String = row.try_get(4)?;
    let confidence: Option<i16> = row.try_get(10)?;
    Ok(IndicatorHit {
        record: IndicatorRecord {
            name: name_from_key(row.try_get(0)?)?,
            zone: row.try_get(1)?,
            source: row.try_get(2)?,
            threat_type: row.try_get(3)?,
            label: (!label.is_empty()).then_some(label),
            risk: risk(row.try_get::<_, i16>(5)?.into())?,
            scenario: row.try_get(6)?,
            attack_stage: row.try_get(7)?,
            first_seen: row.try_get(8)?,
            last_seen: row.try_get(9)?,
            confidence: confidence
                .map(|c| u8::try_from(c).map_err(|_| corrupt(format!("confidence {c}"))))
                .transpose()?,
            reference: row.try_get(11)?,
            via_url: row.try_get(14)?,
        },
        reliability: reliability(row.try_get(12)?)?,
        sightings: row.try_get::<_, i64>(13)? as u64,
    })
}

/// The order SQLite returns a name's allowlist entries in (its primary key), after the name.
const ALLOWLIST_ORDER: &str = "e.list_id, e.matching";

fn allowlist_hit(row: &Row) -> Result<AllowlistHit> {
    let rank: Option<i64> = row.try_get(3)?;
    Ok(AllowlistHit {
        entry: AllowlistEntry {
            name: name_from_key(row.try_get(0)?)?,
            list: row.try_get(1)?,
            matching: matching(row.try_get(2)?)?,
            rank: rank
                .map(|r| u32::try_from(r).map_err(|_| corrupt(format!("rank {r}"))))
                .transpose()?,
        },
        kind: allowlist_kind(row.try_get(4)?)?,
    })
}

/// A read-only snapshot transaction on a pooled connection; it ends when dropped.
pub(super) struct PgReader {
    conn: RefCell<PooledConnection<Manager>>,
}

impl Drop for PgReader {
    fn drop(&mut self) {
        self.conn.get_mut().end("COMMIT");
    }
}

impl PgReader {
    /// Begins the snapshot transaction on `conn`.
    pub(super) fn begin(mut conn: PooledConnection<Manager>) -> Result<Self> {
        conn.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        Ok(Self {
            conn: RefCell::new(conn),
        })
    }

    /// Hands each row of `sql` to `visit`, mapped, as the server streams them, until the rows
    /// end or `visit` breaks.
    fn each_row<T>(
        &self,
        sql: &str,
        map: impl Fn(&Row) -> Result<T>,
        visit: &mut dyn FnMut(T) -> ControlFlow<()>,
    ) -> Result<()> {
        use ::postgres::fallible_iterator::FallibleIterator;
        let mut conn = self.conn();
        let statement = conn.statement(sql)?;
        let mut rows = conn
            .client
            .query_raw(&statement, std::iter::empty::<&(dyn ToSql + Sync)>())?;
        while let Some(row) = rows.next()? {
            if visit(map(&row)?).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn conn(&self) -> RefMut<'_, PooledConnection<Manager>> {
        self.conn.borrow_mut()
    }

    fn collect<T>(
        &self,
        sql: &str,
        params: &Params<'_>,
        map: impl Fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.conn().query(sql, params)?.iter().map(map).collect()
    }

    /// Every (address, stored network containing it) to look up, longest prefix first per
    /// address, in the order SQLite probes them.
    fn probes(&self, ips: &[IpAddr]) -> Result<Vec<(IpAddr, IpNetwork)>> {
        if ips.is_empty() {
            return Ok(Vec::new());
        }
        let prefixes: Vec<(i16, i16)> = self.collect(
            "SELECT octets, prefix FROM ip_prefixes ORDER BY octets, prefix DESC",
            &[],
            |r| Ok((r.try_get(0)?, r.try_get(1)?)),
        )?;
        let mut probes = Vec::new();
        for &ip in ips {
            let octets = if ip.is_ipv4() { 4 } else { 16 };
            for &(_, prefix) in prefixes.iter().filter(|(o, _)| *o == octets) {
                let prefix = u8::try_from(prefix).map_err(|_| corrupt("stored prefix"))?;
                let network = IpNetwork::new(ip, prefix)
                    .map_err(|e| StoreError::Corrupt(format!("stored prefix: {e}")))?;
                probes.push((ip, network));
            }
        }
        Ok(probes)
    }

    /// The address records of the probes' networks, each with its probe's index, in probe
    /// order (then source id, threat type, label, as SQLite's primary key walks them).
    fn ip_records_probed(
        &self,
        probes: &[(IpAddr, IpNetwork)],
    ) -> Result<Vec<(usize, IpRecordHit)>> {
        if probes.is_empty() {
            return Ok(Vec::new());
        }
        let (networks, lengths) = probe_params(probes);
        self.collect(
            &format!(
                "SELECT q.ord, {IP_RECORD_COLUMNS} \
                 FROM unnest($1::bytea[], $2::smallint[]) WITH ORDINALITY AS q(network, prefix, ord) \
                 JOIN ip_records r ON r.network = q.network AND r.prefix = q.prefix \
                 JOIN sources s ON s.id = r.source_id \
                 ORDER BY q.ord, r.source_id, r.threat_type, r.label"
            ),
            &[&networks, &lengths],
            |r| {
                let (i, (_, network)) = probe_at(probes, r.try_get(0)?)?;
                let label: String = r.try_get(3)?;
                let hit = IpRecordHit {
                    record: IpRecord {
                        network: *network,
                        source: r.try_get(1)?,
                        threat_type: r.try_get(2)?,
                        label: (!label.is_empty()).then_some(label),
                        risk: risk(r.try_get::<_, i16>(4)?.into())?,
                        scenario: r.try_get(5)?,
                        first_seen: r.try_get(6)?,
                        last_seen: r.try_get(7)?,
                        confidence: r
                            .try_get::<_, Option<i16>>(8)?
                            .map(|c| u8::try_from(c).map_err(|_| corrupt(format!("confidence {c}"))))
                            .transpose()?,
                        reference: r.try_get(9)?,
                    },
                    reliability: reliability(r.try_get(10)?)?,
                    sightings: r.try_get::<_, i64>(11)? as u64,
                };
                Ok((i, hit))
            },
        )
    }

    /// WHOIS records of `domain`, newest first; at most `limit` of them.
    fn whois(&self, domain: &DomainName, limit: Option<i64>) -> Result<Vec<WhoisRecord>> {
        self.collect(
            "SELECT w.record::text FROM names n JOIN whois w ON w.name_id = n.id WHERE n.rev = $1 \
             ORDER BY w.observed_at DESC LIMIT $2",
            &[&key(domain), &limit],
            |r| Ok(serde_json::from_str(r.try_get(0)?)?),
        )
    }
}

fn keys(names: &[DomainName]) -> Vec<String> {
    names.iter().map(key).collect()
}

impl StoreReader for PgReader {
    fn knows_zone(&self, zone: &DomainName) -> Result<bool> {
        let k = key(zone);
        let ancestors: Vec<String> = zone.ancestors().map(|a| key(&a)).collect();
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM names WHERE rev >= $1 AND rev < $2) \
             OR EXISTS (SELECT 1 FROM names WHERE rev = ANY($3::text[]) AND kinds & {} <> 0)",
            kind::ABOVE
        );
        Ok(self
            .conn()
            .query_one(&sql, &[&k, &key_end(&k), &ancestors])?
            .try_get(0)?)
    }

    fn indicators_at(&self, names: &[DomainName]) -> Result<Vec<IndicatorHit>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        // One query for all names, in the caller's order (duplicates included), as SQLite's
        // one query per name returns them.
        let sql = format!(
            "SELECT {INDICATOR_COLUMNS} FROM unnest($1::text[]) WITH ORDINALITY AS q(rev, ord) \
             JOIN names n ON n.rev = q.rev JOIN indicators i ON i.name_id = n.id \
             JOIN sources s ON s.id = i.source_id ORDER BY q.ord, {INDICATOR_ORDER}"
        );
        self.collect(&sql, &[&keys(names)], indicator_hit)
    }

    fn indicators_below(&self, zone: &DomainName) -> Result<Vec<IndicatorHit>> {
        self.indicators_below_first(zone, usize::MAX)
    }

    fn indicators_below_first(&self, zone: &DomainName, limit: usize) -> Result<Vec<IndicatorHit>> {
        let sql = format!(
            "SELECT {INDICATOR_COLUMNS} FROM names n JOIN indicators i ON i.name_id = n.id \
             JOIN sources s ON s.id = i.source_id \
             WHERE n.rev >= $1 AND n.rev < $2 AND n.kinds & {} <> 0 \
             ORDER BY n.rev, {INDICATOR_ORDER} LIMIT $3",
            kind::INDICATOR | kind::ZONE_INDICATOR
        );
        let k = key(zone);
        let limit = limit.min(i64::MAX as usize) as i64;
        self.collect(&sql, &[&k, &key_end(&k), &limit], indicator_hit)
    }

    fn allowlist_at(&self, names: &[DomainName]) -> Result<Vec<AllowlistHit>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {ALLOWLIST_COLUMNS} FROM unnest($1::text[]) WITH ORDINALITY AS q(rev, ord) \
             JOIN names n ON n.rev = q.rev JOIN allowlist_entries e ON e.name_id = n.id \
             JOIN allowlists l ON l.id = e.list_id WHERE l.enabled \
             ORDER BY q.ord, {ALLOWLIST_ORDER}"
        );
        self.collect(&sql, &[&keys(names)], allowlist_hit)
    }

    fn allowlist_below(&self, zone: &DomainName) -> Result<Vec<AllowlistHit>> {
        let sql = format!(
            "SELECT {ALLOWLIST_COLUMNS} FROM names n JOIN allowlist_entries e ON e.name_id = n.id \
             JOIN allowlists l ON l.id = e.list_id \
             WHERE n.rev >= $1 AND n.rev < $2 AND n.kinds & {} <> 0 AND l.enabled \
             ORDER BY n.rev, {ALLOWLIST_ORDER}",
            kind::ALLOWLIST
        );
        let k = key(zone);
        self.collect(&sql, &[&k, &key_end(&k)], allowlist_hit)
    }

    fn count_names_below(&self, zone: &DomainName) -> Result<u64> {
        let sql = format!(
            "SELECT count(*) FROM names WHERE rev > $1 AND rev < $2 AND kinds & {} <> 0",
            kind::COUNTED
        );
        let k = key(zone);
        let count: i64 = self
            .conn()
            .query_one(&sql, &[&k, &key_end(&k)])?
            .try_get(0)?;
        Ok(count as u64)
    }

    fn names_below(&self, zone: &DomainName, limit: usize) -> Result<Vec<DomainName>> {
        let sql = format!(
            "SELECT rev FROM names WHERE rev > $1 AND rev < $2 AND kinds & {} <> 0 \
             ORDER BY rev LIMIT $3",
            kind::COUNTED
        );
        let k = key(zone);
        let limit = limit.min(i64::MAX as usize) as i64;
        self.collect(&sql, &[&k, &key_end(&k), &limit], |r| {
            name_from_key(r.try_get(0)?)
        })
    }

    fn latest_whois(&self, domain: &DomainName) -> Result<Option<WhoisRecord>> {
        Ok(self.whois(domain, Some(1))?.pop())
    }

    fn whois_history(&self, domain: &DomainName) -> Result<Vec<WhoisRecord>> {
        self.whois(domain, None)
    }

    fn certificates(&self, name: &DomainName) -> Result<Vec<Certificate>> {
        let exact = key(name);
        let parent = name.parent().map(|p| key(&p)).unwrap_or_default();
        let all = self.collect(
            "SELECT c.record::text FROM certificate_names cn JOIN certificates c ON c.id = cn.cert_id \
             WHERE cn.name_id IN (SELECT id FROM names WHERE rev = $1) AND NOT cn.wildcard \
             UNION ALL \
             SELECT c.record::text FROM certificate_names cn JOIN certificates c ON c.id = cn.cert_id \
             WHERE cn.name_id IN (SELECT id FROM names WHERE rev = $2) AND cn.wildcard",
            &[&exact, &parent],
            |r| Ok(serde_json::from_str::<Certificate>(r.try_get(0)?)?),
        )?;
        Ok(newest_first(all))
    }

    fn resolved_ips(
        &self,
        scope: &DomainQuery,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<ResolvedIp>> {
        let (lo, hi) = scope_range(scope);
        self.collect(
            "SELECT r.ip, min(r.first_seen), max(r.last_seen), sum(r.count)::bigint \
             FROM names n JOIN resolutions r ON r.name_id = n.id \
             WHERE n.rev >= $1 AND n.rev < $2 AND r.last_seen >= $3 AND r.first_seen <= $4 \
             GROUP BY r.ip ORDER BY r.ip",
            &[&lo, &hi, &secs(since), &secs(until)],
            |r| {
                Ok(ResolvedIp {
                    ip: ip_from_bytes(r.try_get(0)?)?,
                    first_seen: r.try_get(1)?,
                    last_seen: r.try_get(2)?,
                    count: r.try_get::<_, i64>(3)? as u64,
                })
            },
        )
    }

    fn relations(&self, name: &DomainName) -> Result<Vec<DnsRelation>> {
        self.collect(
            &format!(
                "SELECT {RELATION_COLUMNS} FROM names n JOIN dns_relations r ON r.name_id = n.id \
                 WHERE n.rev = $1 ORDER BY {RELATION_ORDER}"
            ),
            &[&key(name)],
            |r| {
                relation(
                    name,
                    r.try_get(0)?,
                    r.try_get(1)?,
                    (r.try_get(2)?, r.try_get(3)?),
                    r.try_get(4)?,
                    r.try_get(5)?,
                )
            },
        )
    }

    fn lookups(&self, name: &DomainName) -> Result<Vec<LookupState>> {
        self.collect(
            &format!("SELECT {LOOKUP_COLUMNS} FROM lookups WHERE rev = $1 ORDER BY topic"),
            &[&key(name)],
            |r| {
                Ok(LookupState {
                    name: name.clone(),
                    topic: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    at: r.try_get(2)?,
                    server: r.try_get(3)?,
                    outcome: r.try_get(4)?,
                    error: r.try_get(5)?,
                    records: r.try_get::<_, i64>(6)? as u64,
                    latency_ms: r.try_get::<_, i64>(7)? as u64,
                    next_due: r.try_get(8)?,
                    failures: r.try_get::<_, i32>(9)? as u32,
                })
            },
        )
    }

    fn ip_intel(&self, ips: &[IpAddr]) -> Result<Vec<(IpAddr, IpIntel)>> {
        let probes = self.probes(ips)?;
        if probes.is_empty() {
            return Ok(Vec::new());
        }
        let (networks, lengths) = probe_params(&probes);
        let intel = self.collect(
            "SELECT q.ord, s.name, p.risk, p.threat_type \
             FROM unnest($1::bytea[], $2::smallint[]) WITH ORDINALITY AS q(network, prefix, ord) \
             JOIN ip_intel p ON p.network = q.network AND p.prefix = q.prefix \
             JOIN sources s ON s.id = p.source_id ORDER BY q.ord, p.source_id",
            &[&networks, &lengths],
            |r| {
                let (i, (_, network)) = probe_at(&probes, r.try_get(0)?)?;
                let intel = IpIntel {
                    network: *network,
                    source: r.try_get(1)?,
                    risk: risk(r.try_get::<_, i16>(2)?.into())?,
                    threat_type: r.try_get(3)?,
                };
                Ok((i, intel))
            },
        )?;
        // Per probe, as SQLite answers: its `ip_intel` rows, then its address records.
        let records = self.ip_records_probed(&probes)?;
        let mut out = Vec::with_capacity(intel.len() + records.len());
        let mut intel = intel.into_iter().peekable();
        let mut records = records.into_iter().peekable();
        for (i, (ip, _)) in probes.iter().enumerate() {
            while let Some((_, hit)) = intel.next_if(|(probe, _)| *probe == i) {
                out.push((*ip, hit));
            }
            while let Some((_, hit)) = records.next_if(|(probe, _)| *probe == i) {
                out.push((*ip, intel_of(hit)));
            }
        }
        Ok(out)
    }

    fn ip_records(&self, ip: IpAddr) -> Result<Vec<IpRecordHit>> {
        let probes = self.probes(&[ip])?;
        let mut out: Vec<IpRecordHit> = self
            .ip_records_probed(&probes)?
            .into_iter()
            .map(|(_, hit)| hit)
            .collect();
        ip_record_order(&mut out);
        Ok(out)
    }

    fn network_allowlist(&self, ip: IpAddr) -> Result<Vec<NetworkAllowHit>> {
        let probes = self.probes(&[ip])?;
        if probes.is_empty() {
            return Ok(Vec::new());
        }
        let (networks, lengths) = probe_params(&probes);
        let mut out = self.collect(
            "SELECT q.ord, l.name, l.kind \
             FROM unnest($1::bytea[], $2::smallint[]) WITH ORDINALITY AS q(network, prefix, ord) \
             JOIN allowlist_networks a ON a.network = q.network AND a.prefix = q.prefix \
             JOIN allowlists l ON l.id = a.list_id WHERE l.enabled",
            &[&networks, &lengths],
            |r| {
                let (_, (_, network)) = probe_at(&probes, r.try_get(0)?)?;
                Ok(NetworkAllowHit {
                    entry: NetworkAllowEntry {
                        list: r.try_get(1)?,
                        network: *network,
                    },
                    kind: allowlist_kind(r.try_get(2)?)?,
                })
            },
        )?;
        network_allow_order(&mut out);
        Ok(out)
    }

    fn event_totals(&self, scope: &DomainQuery, until: Timestamp) -> Result<Vec<EventTotal>> {
        let (lo, hi) = scope_range(scope);
        let sql = format!(
            "SELECT e.industry, e.stage, sum(e.count)::bigint, max(e.time) \
             FROM names n JOIN events e ON e.name_id = n.id \
             WHERE n.rev >= $1 AND n.rev < $2 AND n.kinds & {} <> 0 AND e.time <= $3 \
             GROUP BY e.industry, e.stage ORDER BY e.industry, e.stage",
            kind::EVENT
        );
        self.collect(&sql, &[&lo, &hi, &secs(until)], |r| {
            Ok(EventTotal {
                industry: r.try_get(0)?,
                stage: r.try_get(1)?,
                count: r.try_get::<_, i64>(2)? as u64,
                last: r.try_get(3)?,
            })
        })
    }

    fn name_model_inputs(&self) -> Result<NameModelInputs> {
        let names = |sql: &str| self.collect(sql, &[], |r| name_from_key(r.try_get(0)?));
        Ok(NameModelInputs {
            top_sites: self.collect(
                &format!("{TOP_SITES} GROUP BY n.rev ORDER BY n.rev"),
                &[],
                |r| {
                    let rank: Option<i64> = r.try_get(1)?;
                    let rank = rank
                        .map(|v| u32::try_from(v).map_err(|_| corrupt(format!("rank {v}"))))
                        .transpose()?;
                    Ok((name_from_key(r.try_get(0)?)?, rank))
                },
            )?,
            shared_zones: names(&format!("{SHARED_ZONES} NOT l.enabled ORDER BY n.rev"))?,
            zone_listings: self.collect(
                &format!(
                    "SELECT {INDICATOR_COLUMNS} FROM indicators i JOIN names n ON n.id = i.name_id \
                     JOIN sources s ON s.id = i.source_id WHERE i.zone \
                     ORDER BY n.rev, {INDICATOR_ORDER}"
                ),
                &[],
                indicator_hit,
            )?,
            phishing_labels: self.collect(PHISHING_LABELS, &[], |r| Ok(r.try_get(0)?))?,
            tld_listings: self.collect(
                &tld_listings_sql("split_part(n.rev, '.', 1)", "NOT i.zone"),
                &[],
                |r| {
                    Ok(ListedShare {
                        key: r.try_get(0)?,
                        names: r.try_get::<_, i64>(1)? as u64,
                        listed: r.try_get::<_, i64>(2)? as u64,
                    })
                },
            )?,
            nameserver_listings: NameModelInputs::nameserver_shares(self.collect(
                &whois_listed_sql("w.record::text", "NOT i.zone"),
                &[],
                |r| Ok((serde_json::from_str(r.try_get(0)?)?, r.try_get(1)?)),
            )?),
        })
    }

    fn sources(&self) -> Result<Vec<SourceSummary>> {
        self.collect(
            "SELECT s.name, s.reliability, s.default_threat_type, s.last_import, coalesce(c.n, 0) \
             FROM sources s LEFT JOIN (SELECT source_id, count(*) AS n FROM indicators GROUP BY source_id) c \
             ON c.source_id = s.id ORDER BY s.name",
            &[],
            |r| {
                Ok(SourceSummary {
                    source: Source {
                        name: r.try_get(0)?,
                        reliability: reliability(r.try_get(1)?)?,
                        default_threat_type: r.try_get(2)?,
                    },
                    last_import: r.try_get(3)?,
                    indicators: r.try_get::<_, i64>(4)? as u64,
                })
            },
        )
    }

    fn stats(&self) -> Result<StoreStats> {
        let row = self.conn().query_one(
            "SELECT (SELECT count(*) FROM names), (SELECT count(*) FROM sources), \
             (SELECT count(*) FROM indicators), (SELECT count(*) FROM allowlists), \
             (SELECT count(*) FROM allowlist_entries), (SELECT count(*) FROM whois), \
             (SELECT count(*) FROM certificates), (SELECT count(*) FROM resolutions), \
             (SELECT count(*) FROM ip_intel), (SELECT count(*) FROM events)",
            &[],
        )?;
        let count = |i: usize| -> Result<u64> { Ok(row.try_get::<_, i64>(i)? as u64) };
        Ok(StoreStats {
            names: count(0)?,
            sources: count(1)?,
            indicators: count(2)?,
            allowlists: count(3)?,
            allowlist_entries: count(4)?,
            whois_records: count(5)?,
            certificates: count(6)?,
            resolutions: count(7)?,
            ip_intel: count(8)?,
            events: count(9)?,
        })
    }

    fn each_indicator(&self, visit: &mut dyn FnMut(IndicatorHit) -> ControlFlow<()>) -> Result<()> {
        let sql = format!(
            "SELECT {INDICATOR_COLUMNS} FROM names n JOIN indicators i ON i.name_id = n.id \
             JOIN sources s ON s.id = i.source_id WHERE n.kinds & {} <> 0 \
             ORDER BY n.rev, {INDICATOR_ORDER}",
            kind::INDICATOR | kind::ZONE_INDICATOR
        );
        self.each_row(&sql, indicator_hit, visit)
    }

    fn each_allowlist_entry(
        &self,
        visit: &mut dyn FnMut(AllowlistHit) -> ControlFlow<()>,
    ) -> Result<()> {
        let sql = format!(
            "SELECT {ALLOWLIST_COLUMNS} FROM names n JOIN allowlist_entries e ON e.name_id = n.id \
             JOIN allowlists l ON l.id = e.list_id WHERE n.kinds & {} <> 0 AND l.enabled \
             ORDER BY n.rev, {ALLOWLIST_ORDER}",
            kind::ALLOWLIST
        );
        self.each_row(&sql, allowlist_hit, visit)
    }

    fn commit_marker(&self) -> Result<CommitMarker> {
        let row = self
            .conn()
            .query_one("SELECT generation, committed_at FROM commit_marker", &[])?;
        Ok(CommitMarker {
            generation: row.try_get::<_, i64>(0)? as u64,
            committed_at: row.try_get(1)?,
        })
    }

    fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        let row = self.conn().query_opt(
            "SELECT etag, last_modified, refreshed_at FROM feed_state WHERE name = $1",
            &[&name],
        )?;
        row.map(|r| {
            Ok(FeedState {
                name: name.to_owned(),
                etag: r.try_get(0)?,
                last_modified: r.try_get(1)?,
                refreshed_at: r.try_get(2)?,
            })
        })
        .transpose()
    }
}
