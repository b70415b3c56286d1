//! The enricher: what is due, the queue, the workers, the limits, and the record of every
//! lookup (the native report's `enrichment` section). The record is kept in memory and in the
//! store (`LookupState`, committed with the lookup's evidence), so a restarted enricher knows
//! what was fetched when, and what failed.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use parking_lot::Mutex;
use serde::Serialize;
use threatintel_model::{
    DnsRelation, DomainName, DomainQuery, Evidence, RelationKind, Resolution, Timestamp,
};
use threatintel_store::{LookupState, Store};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};

use crate::bootstrap::Bootstrap;
use crate::config::secs_to_duration;
use crate::dns::{DnsAnswer, DnsClient};
use crate::metrics::Metrics;
use crate::rdap::{server_of, RdapClient};
use crate::registration::Answer;
use crate::sink::Sink;
use crate::tls::TlsClient;
use crate::whois::WhoisClient;
use crate::{safety, EnrichConfig, EnrichError, Kind, Mode};

/// The time source (tests move it past TTLs).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Entries kept in the lookup record before those no longer due are pruned.
const MAX_RECORDED: usize = 1 << 20;

/// How a lookup ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An answer was stored.
    Stored,
    /// Fresh evidence was already in the store (imported, or fetched by an earlier run).
    InStore,
    /// Not registered / no such name.
    NotFound,
    RateLimited,
    /// The address was not one the service connects to.
    Refused,
    Timeout,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::InStore => "in_store",
            Outcome::NotFound => "not_found",
            Outcome::RateLimited => "rate_limited",
            Outcome::Refused => "refused",
            Outcome::Timeout => "timeout",
            Outcome::Failed => "failed",
        }
    }

    const ALL: [Outcome; 7] = [
        Outcome::Stored,
        Outcome::InStore,
        Outcome::NotFound,
        Outcome::RateLimited,
        Outcome::Refused,
        Outcome::Timeout,
        Outcome::Failed,
    ];

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }

    fn is_failure(self) -> bool {
        !matches!(self, Outcome::Stored | Outcome::InStore | Outcome::NotFound)
    }
}

/// One lookup: what was fetched, when, from which server, and any error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fetch {
    pub kind: Kind,
    pub name: DomainName,
    pub at: Timestamp,
    pub server: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Records stored from the answer.
    pub records: usize,
    pub latency_ms: u64,
    /// When the name is looked up again.
    pub next_due: Timestamp,
    /// Consecutive failures (backoff doubles with each).
    #[serde(skip)]
    failures: u32,
}

impl Fetch {
    /// The record as the store keeps it.
    fn state(&self) -> LookupState {
        LookupState {
            name: self.name.clone(),
            topic: Slot::of(self.kind).as_str().into(),
            kind: self.kind.as_str().into(),
            at: self.at,
            server: self.server.clone(),
            outcome: self.outcome.as_str().into(),
            error: self.error.clone(),
            records: self.records as u64,
            latency_ms: self.latency_ms,
            next_due: self.next_due,
            failures: self.failures,
        }
    }

    /// A stored record; `None` when it names a kind or outcome this build does not know.
    fn from_state(state: LookupState) -> Option<Self> {
        Some(Self {
            kind: state.kind.parse().ok()?,
            outcome: Outcome::parse(&state.outcome)?,
            name: state.name,
            at: state.at,
            server: state.server,
            error: state.error,
            records: state.records as usize,
            latency_ms: state.latency_ms,
            next_due: state.next_due,
            failures: state.failures,
        })
    }
}

/// What is looked up for a name: its registration (RDAP or WHOIS, of the registrable domain),
/// its DNS, its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    Registration,
    Dns,
    Tls,
}

impl Slot {
    const ALL: [Slot; 3] = [Slot::Registration, Slot::Dns, Slot::Tls];

    fn of(kind: Kind) -> Self {
        match kind {
            Kind::Rdap | Kind::Whois => Slot::Registration,
            Kind::Dns => Slot::Dns,
            Kind::Tls => Slot::Tls,
        }
    }

    /// The topic of the slot's [`LookupState`].
    fn as_str(self) -> &'static str {
        match self {
            Slot::Registration => "registration",
            Slot::Dns => "dns",
            Slot::Tls => "tls",
        }
    }
}

#[derive(Default)]
struct Queue {
    order: VecDeque<DomainName>,
    /// Queued or being looked up; the receiver learns when the lookup is done.
    pending: HashMap<DomainName, watch::Receiver<bool>>,
    done: HashMap<DomainName, watch::Sender<bool>>,
}

struct Upstream {
    permits: Arc<Semaphore>,
    /// A 429 or "limit exceeded" keeps the server alone until then.
    paused_until: Option<Timestamp>,
}

struct Inner {
    config: EnrichConfig,
    never: Vec<DomainName>,
    store: Arc<dyn Store>,
    bootstrap: Bootstrap,
    rdap: Arc<RdapClient>,
    whois: WhoisClient,
    dns: DnsClient,
    tls: TlsClient,
    clock: Clock,
    recorded: Mutex<HashMap<(DomainName, Slot), Fetch>>,
    upstreams: Mutex<HashMap<String, Upstream>>,
    queue: Mutex<Queue>,
    wake: Notify,
    metrics: Metrics,
    sink: Sink,
}

/// Looks names up and stores what it finds. Cheap to clone; workers run on the Tokio runtime
/// it was started on.
#[derive(Clone)]
pub struct Enricher {
    inner: Arc<Inner>,
}

impl Enricher {
    /// Starts the workers (`config.concurrency` of them) on the current Tokio runtime.
    pub fn start(
        config: EnrichConfig,
        bootstrap: Bootstrap,
        store: Arc<dyn Store>,
    ) -> Result<Self, EnrichError> {
        Self::start_with_clock(config, bootstrap, store, Arc::new(Utc::now))
    }

    pub fn start_with_clock(
        config: EnrichConfig,
        bootstrap: Bootstrap,
        store: Arc<dyn Store>,
        clock: Clock,
    ) -> Result<Self, EnrichError> {
        config.validate().map_err(EnrichError::Config)?;
        let never = config
            .never
            .iter()
            .map(|z| DomainName::parse(z.trim_start_matches("*.")))
            .collect::<Result<_, _>>()
            .map_err(|e| EnrichError::Config(format!("enrich.never: {e}")))?;
        let inner = Arc::new(Inner {
            rdap: Arc::new(RdapClient::new(&config)),
            whois: WhoisClient::new(&config)?,
            dns: DnsClient::new(&config)?,
            tls: TlsClient::new(&config)?,
            sink: Sink::start(store.clone()),
            never,
            store,
            bootstrap,
            clock,
            recorded: Mutex::default(),
            upstreams: Mutex::default(),
            queue: Mutex::default(),
            wake: Notify::new(),
            metrics: Metrics::default(),
            config,
        });
        for _ in 0..inner.config.concurrency {
            tokio::spawn(worker(inner.clone()));
        }
        Ok(Self { inner })
    }

    pub fn mode(&self) -> Mode {
        self.inner.config.mode
    }

    /// Before a report: queues the name if anything about it is due (background and inline
    /// modes) and, inline, waits for the lookup up to the budget. Never fails: a full queue is
    /// counted, a lookup that outlasts the budget goes on in the background.
    pub async fn before_report(&self, query: &DomainQuery) {
        let inner = &self.inner;
        if inner.config.mode == Mode::Off {
            return;
        }
        let Some(name) = safety::lookup_name(query, &inner.never) else {
            return;
        };
        if inner.config.mode == Mode::Background && inner.queue_is_full() {
            // Nothing could be queued: spare the report the reads that decide what is due.
            inner.metrics.overflow.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if !inner.is_due(&name, inner.now()) {
            return;
        }
        let Some(mut done) = inner.enqueue(name) else {
            return;
        };
        if inner.config.mode == Mode::Inline {
            let budget = Duration::from_millis(inner.config.inline_budget_ms);
            let _ = tokio::time::timeout(budget, done.wait_for(|done| *done)).await;
        }
    }

    /// Whether `query` is ever looked up (`false` under an `enrich.never` zone).
    pub fn looks_up(&self, query: &DomainQuery) -> bool {
        safety::lookup_name(query, &self.inner.never).is_some()
    }

    /// Looks `query` up now, whatever the TTLs say (limits, pauses after a 429 and safety
    /// still apply), and returns what each kind did.
    pub async fn refresh(&self, query: &DomainQuery, kinds: &[Kind]) -> Vec<Fetch> {
        match safety::lookup_name(query, &self.inner.never) {
            Some(name) => self.inner.clone().lookup(&name, kinds, true).await,
            None => Vec::new(),
        }
    }

    /// Looks up what is due about `query` (TTLs respected) and waits for it.
    pub async fn enrich_due(&self, query: &DomainQuery) -> Vec<Fetch> {
        match safety::lookup_name(query, &self.inner.never) {
            Some(name) => {
                let kinds = self.inner.config.kinds.clone();
                self.inner.clone().lookup(&name, &kinds, false).await
            }
            None => Vec::new(),
        }
    }

    /// The latest lookup of each kind about `name` (its registration under the registrable
    /// domain), for the native report.
    pub fn enrichment(&self, name: &DomainName) -> Vec<Fetch> {
        Slot::ALL
            .into_iter()
            .filter_map(|slot| self.inner.recorded_or_stored(&subject(name, slot), slot))
            .collect()
    }

    /// Names waiting for a worker.
    pub fn queue_depth(&self) -> usize {
        self.inner.queue.lock().order.len()
    }

    /// Lookups so far of `kind` that ended with `outcome`.
    pub fn fetch_count(&self, kind: Kind, outcome: Outcome) -> u64 {
        self.inner.metrics.count(kind, outcome)
    }

    /// Names dropped because the queue was full.
    pub fn overflow(&self) -> u64 {
        self.inner.metrics.overflow.load(Ordering::Relaxed)
    }

    /// The enrichment part of `/metrics`.
    pub fn render_metrics(&self) -> String {
        self.inner.metrics.render(self.queue_depth())
    }

    /// Waits until no name is queued or being looked up.
    pub async fn idle(&self) {
        loop {
            let pending: Vec<_> = self.inner.queue.lock().pending.values().cloned().collect();
            if pending.is_empty() {
                return;
            }
            for mut done in pending {
                let _ = done.wait_for(|d| *d).await;
            }
        }
    }
}

async fn worker(inner: Arc<Inner>) {
    loop {
        let next = inner.queue.lock().order.pop_front();
        let Some(name) = next else {
            inner.wake.notified().await;
            continue;
        };
        let kinds = inner.config.kinds.clone();
        inner.clone().lookup(&name, &kinds, false).await;
        let mut queue = inner.queue.lock();
        queue.pending.remove(&name);
        if let Some(done) = queue.done.remove(&name) {
            let _ = done.send(true);
        }
    }
}

impl Inner {
    fn now(&self) -> Timestamp {
        (self.clock)()
    }

    fn queue_is_full(&self) -> bool {
        self.queue.lock().order.len() >= self.config.queue_capacity
    }

    /// Queues `name` unless it is already pending; `None` when the queue is full.
    fn enqueue(&self, name: DomainName) -> Option<watch::Receiver<bool>> {
        let mut queue = self.queue.lock();
        if let Some(done) = queue.pending.get(&name) {
            return Some(done.clone());
        }
        if queue.order.len() >= self.config.queue_capacity {
            self.metrics.overflow.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let (sender, receiver) = watch::channel(false);
        queue.order.push_back(name.clone());
        queue.pending.insert(name.clone(), receiver.clone());
        queue.done.insert(name, sender);
        drop(queue);
        self.wake.notify_one();
        Some(receiver)
    }

    fn is_due(&self, name: &DomainName, now: Timestamp) -> bool {
        self.config
            .kinds
            .iter()
            .map(|k| Slot::of(*k))
            .any(|slot| self.slot_due(name, slot, now))
    }

    /// Whether a slot needs a lookup: its last one is past its TTL or backoff, or (first
    /// time asked) the store holds nothing fresh of its kind.
    fn slot_due(&self, name: &DomainName, slot: Slot, now: Timestamp) -> bool {
        let subject = subject(name, slot);
        if let Some(fetch) = self.recorded_or_stored(&subject, slot) {
            return now >= fetch.next_due;
        }
        match self.fresh_in_store(&subject, slot, now) {
            Some(fetch) => {
                self.record(fetch);
                false
            }
            None => true,
        }
    }

    /// The last lookup of `slot` about `subject`: the one in memory, else the one stored by an
    /// earlier run (then remembered).
    fn recorded_or_stored(&self, subject: &DomainName, slot: Slot) -> Option<Fetch> {
        if let Some(fetch) = self.recorded.lock().get(&(subject.clone(), slot)) {
            return Some(fetch.clone());
        }
        let stored = self.read(|| self.store.reader().and_then(|r| r.lookups(subject)));
        let fetch = stored
            .map_err(
                |e| tracing::warn!(name = %subject, error = %e, "reading the lookup record failed"),
            )
            .ok()?
            .into_iter()
            .filter(|state| state.topic == slot.as_str())
            .find_map(Fetch::from_state)?;
        self.record(fetch.clone());
        Some(fetch)
    }

    /// Runs store reads: in place for stores whose calls are short (SQLite), off the async
    /// workers for a store that drives its own runtime (PostgreSQL).
    fn read<T>(&self, work: impl FnOnce() -> T) -> T {
        if self.store.runs_own_runtime() {
            tokio::task::block_in_place(work)
        } else {
            work()
        }
    }

    /// A record of the evidence the store already holds for a slot, when it is within its TTL.
    fn fresh_in_store(&self, name: &DomainName, slot: Slot, now: Timestamp) -> Option<Fetch> {
        self.read(|| self.fresh_in_store_now(name, slot, now))
    }

    fn fresh_in_store_now(&self, name: &DomainName, slot: Slot, now: Timestamp) -> Option<Fetch> {
        let reader = self.store.reader().ok()?;
        let (kind, seen) = match slot {
            Slot::Registration => (Kind::Rdap, reader.latest_whois(name).ok()??.observed_at),
            Slot::Dns => (
                Kind::Dns,
                reader
                    .resolved_ips(
                        &DomainQuery::Exact(name.clone()),
                        now - self.config.ttl(Kind::Dns),
                        now,
                    )
                    .ok()?
                    .iter()
                    .map(|r| r.last_seen)
                    .max()?,
            ),
            Slot::Tls => (Kind::Tls, reader.latest_certificate(name).ok()??.seen_at),
        };
        let next_due = seen + self.config.ttl(kind);
        (now < next_due).then(|| Fetch {
            kind,
            name: name.clone(),
            at: seen,
            server: "store".into(),
            outcome: Outcome::InStore,
            error: None,
            records: 0,
            latency_ms: 0,
            next_due,
            failures: 0,
        })
    }

    fn record(&self, fetch: Fetch) {
        let mut recorded = self.recorded.lock();
        if recorded.len() >= MAX_RECORDED {
            let now = self.now();
            recorded.retain(|_, f| f.next_due > now);
        }
        recorded.insert((fetch.name.clone(), Slot::of(fetch.kind)), fetch);
    }

    /// Looks up the due (or, forced, all) `kinds` of `name`: registration and DNS at once, TLS
    /// on the addresses DNS gave (or the store's, when DNS was not due).
    async fn lookup(self: Arc<Self>, name: &DomainName, kinds: &[Kind], force: bool) -> Vec<Fetch> {
        let now = self.now();
        let wants = |slot: Slot| {
            kinds.iter().any(|k| Slot::of(*k) == slot) && (force || self.slot_due(name, slot, now))
        };
        let registration = async {
            if wants(Slot::Registration) {
                Some(self.registration(name, kinds).await)
            } else {
                None
            }
        };
        let addressed = async {
            let dns = match wants(Slot::Dns) {
                true => Some(self.ask_dns(name).await),
                false => None,
            };
            // The TLS handshake does not wait for DNS's answer to be stored.
            let addresses = dns.as_ref().map(DnsLookup::addresses);
            let store_dns = async {
                match dns {
                    Some(lookup) => Some(self.store_dns(name, lookup).await),
                    None => None,
                }
            };
            let tls = async {
                match wants(Slot::Tls) {
                    true => {
                        let addresses =
                            addresses.unwrap_or_else(|| self.stored_addresses(name, now));
                        Some(self.tls(name, &addresses).await)
                    }
                    false => None,
                }
            };
            let (dns, tls) = tokio::join!(store_dns, tls);
            dns.into_iter().chain(tls).collect::<Vec<_>>()
        };
        let (registration, mut fetches) = tokio::join!(registration, addressed);
        fetches.extend(registration);
        fetches
    }

    fn stored_addresses(&self, name: &DomainName, now: Timestamp) -> Vec<IpAddr> {
        self.read(|| self.stored_addresses_now(name, now))
    }

    fn stored_addresses_now(&self, name: &DomainName, now: Timestamp) -> Vec<IpAddr> {
        self.store
            .reader()
            .and_then(|r| {
                let since =
                    now - secs_to_duration(self.config.ttl_tls_secs.max(self.config.ttl_dns_secs));
                r.resolved_ips(&DomainQuery::Exact(name.clone()), since, now)
            })
            .map(|ips| ips.into_iter().map(|r| r.ip).collect())
            .unwrap_or_default()
    }

    /// RDAP where the bootstrap names a server for the TLD (and RDAP is wanted), WHOIS
    /// otherwise.
    async fn registration(&self, name: &DomainName, kinds: &[Kind]) -> Fetch {
        let domain = name.registrable().unwrap_or_else(|| name.clone());
        let base = kinds
            .contains(&Kind::Rdap)
            .then(|| self.bootstrap.base_for(&domain))
            .flatten();
        let started = Instant::now();
        let now = self.now();
        if let Some(base) = base {
            let server = server_of(base);
            let result = async {
                let _permit = self.upstream(&server, now).await?;
                let (rdap, base, domain) = (self.rdap.clone(), base.to_owned(), domain.clone());
                tokio::task::spawn_blocking(move || rdap.lookup(&base, &domain, now))
                    .await
                    .map_err(|e| EnrichError::Io {
                        server: server.clone(),
                        message: e.to_string(),
                    })?
            }
            .await;
            return self
                .finish_registration(Kind::Rdap, domain, server, result, started, now)
                .await;
        }
        if !kinds.contains(&Kind::Whois) {
            let error = EnrichError::NoServer {
                name: domain.to_string(),
            };
            return self
                .finish(Kind::Rdap, domain, String::new(), Err(error), started, now)
                .await;
        }
        let server = match self.whois.server_for(&domain).await {
            Ok(server) => server,
            Err(e) => {
                return self
                    .finish(
                        Kind::Whois,
                        domain,
                        self.config.whois_root.clone(),
                        Err(e),
                        started,
                        now,
                    )
                    .await
            }
        };
        let key = server.to_string();
        let result = async {
            let _permit = self.upstream(&key, now).await?;
            self.whois.lookup(&server, &domain, now).await
        }
        .await;
        self.finish_registration(Kind::Whois, domain, key, result, started, now)
            .await
    }

    async fn finish_registration(
        &self,
        kind: Kind,
        domain: DomainName,
        server: String,
        result: Result<Answer, EnrichError>,
        started: Instant,
        now: Timestamp,
    ) -> Fetch {
        let result = result.map(|answer| match answer {
            Answer::Registered(record) => Some(vec![Evidence::Whois(record)]),
            Answer::NotRegistered => None,
        });
        self.finish(kind, domain, server, result, started, now)
            .await
    }

    async fn ask_dns(&self, name: &DomainName) -> DnsLookup {
        let started = Instant::now();
        let now = self.now();
        let answer = self.dns.lookup(name).await;
        DnsLookup {
            answer,
            started,
            now,
        }
    }

    async fn store_dns(&self, name: &DomainName, lookup: DnsLookup) -> Fetch {
        let DnsLookup {
            answer,
            started,
            now,
        } = lookup;
        let result = answer.map(|answer| answer.map(|answer| dns_evidence(name, &answer, now)));
        let server = self.dns.server().to_owned();
        self.finish(Kind::Dns, name.clone(), server, result, started, now)
            .await
    }

    async fn tls(&self, name: &DomainName, addresses: &[IpAddr]) -> Fetch {
        let started = Instant::now();
        let now = self.now();
        if addresses.is_empty() {
            let result = Ok(None);
            return self
                .finish(Kind::Tls, name.clone(), String::new(), result, started, now)
                .await;
        }
        match self.tls.certificates(name, addresses, now).await {
            Ok((server, certs)) => {
                let evidence = certs
                    .into_iter()
                    .map(|c| Evidence::Certificate(Box::new(c)))
                    .collect();
                self.finish(
                    Kind::Tls,
                    name.clone(),
                    server,
                    Ok(Some(evidence)),
                    started,
                    now,
                )
                .await
            }
            Err(e) => {
                self.finish(Kind::Tls, name.clone(), String::new(), Err(e), started, now)
                    .await
            }
        }
    }

    /// Stores a lookup's evidence (`None`: nothing there) with its record, records it in
    /// memory, counts it.
    async fn finish(
        &self,
        kind: Kind,
        name: DomainName,
        mut server: String,
        result: Result<Option<Vec<Evidence>>, EnrichError>,
        started: Instant,
        now: Timestamp,
    ) -> Fetch {
        let previous = self
            .recorded
            .lock()
            .get(&(name.clone(), Slot::of(kind)))
            .map_or(0, |f| {
                if f.outcome.is_failure() {
                    f.failures
                } else {
                    0
                }
            });
        let (evidence, outcome, error, next_due) = match result {
            Ok(Some(evidence)) => (evidence, Outcome::Stored, None, now + self.config.ttl(kind)),
            Ok(None) => (
                Vec::new(),
                Outcome::NotFound,
                None,
                now + secs_to_duration(self.config.negative_ttl_secs),
            ),
            Err(e) => {
                let (outcome, wait) = self.failure(&e, previous);
                if let EnrichError::RateLimited { server: s, .. } = &e {
                    self.pause(s, now + wait);
                }
                if server.is_empty() {
                    server = server_in(&e);
                }
                tracing::info!(kind = kind.as_str(), name = %name, error = %e, "lookup failed");
                (Vec::new(), outcome, Some(e.to_string()), now + wait)
            }
        };
        let mut fetch = Fetch {
            kind,
            name,
            at: now,
            server,
            outcome,
            error,
            records: evidence.len(),
            latency_ms: started.elapsed().as_millis() as u64,
            next_due,
            failures: if outcome.is_failure() {
                previous + 1
            } else {
                0
            },
        };
        if let Err(e) = self.sink.write(evidence, fetch.state()).await {
            let (outcome, wait) = self.failure(&e, previous);
            fetch.outcome = outcome;
            fetch.records = 0;
            fetch.error = Some(e.to_string());
            fetch.next_due = now + wait;
            fetch.failures = previous + 1;
        }
        self.metrics.fetched(kind, fetch.outcome, started.elapsed());
        self.record(fetch.clone());
        fetch
    }

    /// How a failed lookup is recorded, and the wait before the next try.
    fn failure(&self, e: &EnrichError, previous: u32) -> (Outcome, chrono::Duration) {
        match e {
            EnrichError::RateLimited { retry_after, .. } => (
                Outcome::RateLimited,
                chrono::Duration::from_std(*retry_after).unwrap_or_default(),
            ),
            EnrichError::Refused { .. } => (
                Outcome::Refused,
                secs_to_duration(self.config.negative_ttl_secs),
            ),
            EnrichError::Timeout { .. } => (Outcome::Timeout, self.backoff(previous)),
            _ => (Outcome::Failed, self.backoff(previous)),
        }
    }

    /// The wait after the `(previous + 1)`-th consecutive failure.
    fn backoff(&self, previous: u32) -> chrono::Duration {
        let secs = self
            .config
            .backoff_base_secs
            .saturating_mul(1u64 << previous.min(20))
            .min(self.config.backoff_max_secs);
        secs_to_duration(secs)
    }

    /// A permit to send to `server` (at most `per_upstream` at once), or the pause a 429 set.
    async fn upstream(
        &self,
        server: &str,
        now: Timestamp,
    ) -> Result<OwnedSemaphorePermit, EnrichError> {
        let permits = {
            let mut upstreams = self.upstreams.lock();
            let upstream = upstreams
                .entry(server.to_owned())
                .or_insert_with(|| Upstream {
                    permits: Arc::new(Semaphore::new(self.config.per_upstream)),
                    paused_until: None,
                });
            if let Some(until) = upstream.paused_until.filter(|until| now < *until) {
                return Err(EnrichError::RateLimited {
                    server: server.to_owned(),
                    retry_after: (until - now).to_std().unwrap_or_default(),
                });
            }
            upstream.permits.clone()
        };
        permits.acquire_owned().await.map_err(|_| EnrichError::Io {
            server: server.to_owned(),
            message: "limiter closed".into(),
        })
    }

    fn pause(&self, server: &str, until: Timestamp) {
        if let Some(upstream) = self.upstreams.lock().get_mut(server) {
            upstream.paused_until = Some(until);
        }
    }
}

/// What DNS said about a name, not yet stored.
struct DnsLookup {
    answer: Result<Option<DnsAnswer>, EnrichError>,
    started: Instant,
    now: Timestamp,
}

impl DnsLookup {
    fn addresses(&self) -> Vec<IpAddr> {
        match &self.answer {
            Ok(Some(answer)) => answer.addresses.clone(),
            _ => Vec::new(),
        }
    }
}

/// A DNS answer as evidence: a resolution sighting per address, a relation per CNAME, NS and
/// MX target (a target that is not a host name is left out).
fn dns_evidence(name: &DomainName, answer: &DnsAnswer, now: Timestamp) -> Vec<Evidence> {
    let resolutions = answer.addresses.iter().map(|ip| {
        Evidence::Resolution(Resolution {
            name: name.clone(),
            ip: *ip,
            first_seen: now,
            last_seen: now,
            count: 1,
        })
    });
    let relations = [
        (RelationKind::Cname, &answer.cnames),
        (RelationKind::Ns, &answer.nameservers),
        (RelationKind::Mx, &answer.mx),
    ]
    .into_iter()
    .flat_map(|(kind, targets)| targets.iter().map(move |target| (kind, target)))
    .filter_map(|(kind, target)| {
        let target = DomainName::parse(target).ok()?;
        Some(Evidence::Relation(DnsRelation {
            name: name.clone(),
            kind,
            target,
            first_seen: now,
            last_seen: now,
            count: 1,
            source: Kind::Dns.as_str().into(),
        }))
    });
    resolutions.chain(relations).collect()
}

/// The name a slot is recorded under: registration data belongs to the registrable domain.
fn subject(name: &DomainName, slot: Slot) -> DomainName {
    match slot {
        Slot::Registration => name.registrable().unwrap_or_else(|| name.clone()),
        Slot::Dns | Slot::Tls => name.clone(),
    }
}

/// The server an error names, for the record.
fn server_in(e: &EnrichError) -> String {
    match e {
        EnrichError::Timeout { server }
        | EnrichError::RateLimited { server, .. }
        | EnrichError::Status { server, .. }
        | EnrichError::Io { server, .. }
        | EnrichError::TooLarge { server, .. }
        | EnrichError::Parse { server, .. } => server.clone(),
        EnrichError::Refused { address, .. } => address.to_string(),
        _ => String::new(),
    }
}
