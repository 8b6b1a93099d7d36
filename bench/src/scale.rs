//! Scale mode (`bench --scale`): does what a request costs grow with the data? Each
//! service's read routes are measured at growing table sizes (users, customers, orders,
//! provider records: 1k, 10k, 100k by default; sync runs a tenth of that), and the SMS
//! dispatcher's idle poll at growing outbox backlogs (0, 1k, 10k). Per route and size:
//! server CPU per request, AWS calls, items read and returned, and the read and write
//! units DynamoDB would bill, from the emulator's meter.
//!
//! The tables grow by copying one item each service wrote through its own API
//! ([`bulk`](crate::bulk)). The sales-service whose routes are measured runs without its
//! dispatcher, so nothing in the background reads while a route is measured; a second
//! one, with its dispatcher, runs only while the polls are measured, with every service
//! idle, so everything read then is the dispatcher's. Its SMS provider is a closed port
//! (an outage): the backlog stays.
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::StatusCode;
use tokio::time::Instant;

use crate::bulk::{self, Template, Times};
use crate::emulator::{Counts, EmulatorStats};
use crate::fixture::{order, TENANT};
use crate::load::{self, Target};
use crate::procs::free_addr;
use crate::run::{Run, Started};
use crate::settings::ScalePlan;

/// One route at one table size, per request.
pub struct ScaleRow {
    pub service: &'static str,
    pub route: String,
    pub size: usize,
    pub requests: u64,
    pub errors: String,
    pub cpu_us: f64,
    pub aws_calls: f64,
    pub dynamodb: Counts,
    pub p50_ms: f64,
}

/// The idle dispatcher at one backlog: its reads per poll.
pub struct PollRow {
    pub backlog: usize,
    pub polls: f64,
    pub window: Duration,
    /// Reads per poll (the Query or Scan calls that find due SMS).
    pub per_poll: Counts,
    /// The backlog gauge's counting reads in the window, per call (`None`: none ran).
    pub gauge: Option<Counts>,
    /// `GET /api/v1/sales/sms/backlog` at this backlog (`None`: not on this build).
    pub route: Option<ScaleRow>,
}

pub struct Scale {
    pub rows: Vec<ScaleRow>,
    pub polls: Vec<PollRow>,
    /// Routes this build does not serve (yet): their first answer was a 400, 404 or 405.
    pub missing: Vec<String>,
    /// Table, items written, seconds: what growing the tables took.
    pub seeding: Vec<(String, usize, f64)>,
    /// What each table stores, at the end of the run.
    pub storage: Vec<Storage>,
}

/// One table's items and bytes, and those of its indexes (the emulator's
/// `/__emulator/sizes`, item sizes counted as DynamoDB counts them).
pub struct Storage {
    pub table: String,
    pub items: f64,
    pub bytes: f64,
    /// Index entries and their projected bytes, all indexes together.
    pub index_entries: f64,
    pub index_bytes: f64,
}

/// DynamoDB's storage overhead per item, and per index entry.
pub const ITEM_OVERHEAD: f64 = 100.0;

impl Storage {
    /// Bytes DynamoDB bills per item of this table, its index entries included: the MB
    /// that a million such items take.
    pub fn billed_bytes_per_item(&self) -> f64 {
        let items = self.items.max(1.0);
        (self.bytes
            + ITEM_OVERHEAD * self.items
            + self.index_bytes
            + ITEM_OVERHEAD * self.index_entries)
            / items
    }
}

async fn storage(run: &Run) -> anyhow::Result<Vec<Storage>> {
    let sizes: serde_json::Value = run
        .http
        .get(format!(
            "{}/__emulator/sizes?prefix={}",
            run.emulator, run.prefix
        ))
        // Sizing every item of 100k-item tables in the emulator's Python takes a while.
        .timeout(Duration::from_secs(600))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let number = |value: &serde_json::Value| value.as_f64().unwrap_or_default();
    Ok(sizes
        .as_object()
        .into_iter()
        .flatten()
        .map(|(table, size)| {
            let indexes = size["indexes"].as_object().into_iter().flatten();
            let (index_entries, index_bytes) =
                indexes.fold((0.0, 0.0), |(entries, bytes), (_, index)| {
                    (
                        entries + number(&index["items"]),
                        bytes + number(&index["bytes"]),
                    )
                });
            Storage {
                table: table.trim_start_matches(&run.prefix).to_owned(),
                items: number(&size["items"]),
                bytes: number(&size["bytes"]),
                index_entries,
                index_bytes,
            }
        })
        .collect())
}

/// The tables that grow, named as the services name them.
fn table(run: &Run, name: &str) -> String {
    format!("{}{name}", run.prefix)
}

/// How long a measured service waits for the emulator. At 100k items moto walks the whole
/// table for each index Query (about a second each, more on a busy machine), where
/// DynamoDB reads one page: with the services' default AWS timeouts (4 s an attempt,
/// 10 s a call) some requests were abandoned and retried, and moto's work on the
/// abandoned attempts was counted against the next request. Waiting long enough makes
/// every measured request one answer from exactly the queries the service sends.
pub const PATIENT_AWS: [(&str, &str); 3] = [
    ("AWS_ATTEMPT_TIMEOUT_SECONDS", "60"),
    ("AWS_OPERATION_TIMEOUT_SECONDS", "120"),
    ("REQUEST_TIMEOUT_SECONDS", "150"),
];

/// `spec` with [`PATIENT_AWS`].
fn patient(
    (spec, addr): (crate::procs::Spec, std::net::SocketAddr),
) -> (crate::procs::Spec, std::net::SocketAddr) {
    let spec = PATIENT_AWS
        .iter()
        .fold(spec, |spec, (name, value)| spec.env(name, *value));
    (spec, addr)
}

/// A sales-service that does not dispatch, or one that does, both in an SMS outage.
fn sales(
    run: &Run,
    dispatcher: bool,
) -> anyhow::Result<(crate::procs::Spec, std::net::SocketAddr)> {
    let (spec, addr) = patient(run.sales_spec(&run.services)?);
    let closed = free_addr()?;
    Ok((
        spec.env("OUTBOX_DISPATCHER_ENABLED", dispatcher.to_string())
            .env("OUTBOX_POLL_SECONDS", "1")
            .env("AFRICASTALKING_BASE_URL", format!("http://{closed}"))
            .name(if dispatcher {
                "sales-service-dispatcher"
            } else {
                "sales-service"
            }),
        addr,
    ))
}

struct Routes<'a> {
    user: &'a Started,
    sales: &'a Started,
    integration: &'a Started,
    session: String,
    admin: String,
    sales_token: String,
    integrations: String,
    customer: String,
    order: String,
}

impl Routes<'_> {
    /// Every route measured at each size: reads first, the order write last.
    fn targets(&self) -> Vec<(&'static str, &Started, String, Target)> {
        let user = |path: &str, token: &str| Target::get(self.user.addr, path).bearer(token);
        let sales = |path: &str| Target::get(self.sales.addr, path).bearer(&self.sales_token);
        let integration = |path: &str| {
            Target::get(self.integration.addr, path)
                .bearer(&self.integrations)
                .header("x-tenant-id", TENANT)
        };
        let mut routes = vec![
            (
                "user-service",
                self.user,
                "GET /users".to_owned(),
                user("/users", &self.session),
            ),
            (
                "user-service",
                self.user,
                "GET /user/{name}".to_owned(),
                user("/user/bench", &self.session),
            ),
            (
                "user-service",
                self.user,
                "GET /admin/accounts?limit=20".to_owned(),
                user("/admin/accounts?limit=20", &self.admin),
            ),
        ];
        for path in [
            "/api/v1/sales/orders".to_owned(),
            format!("/api/v1/sales/orders?customer={}", self.customer),
            "/api/v1/sales/orders?sms_status=pending".to_owned(),
            format!("/api/v1/sales/orders/{}", self.order),
            "/api/v1/sales/customers".to_owned(),
            "/ap1/v1/sales/customers/".to_owned(),
            "/ap1/v1/sales/orders/".to_owned(),
        ] {
            let label = format!(
                "GET {}",
                path.replace(&self.customer, "{id}")
                    .replace(&self.order, "{id}")
            );
            routes.push(("sales-service", self.sales, label, sales(&path)));
        }
        for path in [
            "/providers/list_providers?limit=20",
            "/providers/list_providers?name=Dr",
            "/providers/list_sync_runs",
            "/tenants",
        ] {
            routes.push((
                "integration-service",
                self.integration,
                format!("GET {path}"),
                integration(path),
            ));
        }
        routes.push((
            "sales-service",
            self.sales,
            "POST /api/v1/sales/orders".to_owned(),
            Target::post_json(
                self.sales.addr,
                "/api/v1/sales/orders",
                &order(&self.customer),
            )
            .bearer(&self.sales_token)
            .expect(StatusCode::CREATED),
        ));
        routes
    }
}

pub async fn run(run: &mut Run, plan: &ScalePlan) -> anyhow::Result<Scale> {
    let client = crate::emulator::dynamodb(&run.emulator).await;
    eprintln!("bench --scale: starting the services (sales-service without its dispatcher)");
    let (user, _) = run
        .start_measured(patient(run.user_spec(&run.services)?))
        .await?;
    let (sales_started, _) = run.start_measured(sales(run, false)?).await?;
    let (integration, _) = run
        .start_measured(patient(run.integration_spec(&run.services)?))
        .await?;

    eprintln!("bench --scale: one item of each kind through the APIs (the templates)");
    let session = run.seed_users(user.addr).await?;
    let admin = run.login(user.addr, "admin", "admin-password-1").await?;
    run.sign_up(user.addr, TEMPLATE_USER, "template-password-1")
        .await?;
    let sales_token = run
        .access_token("api://sales", "sales:read sales:write")
        .await?;
    let integrations = run
        .access_token("api://integrations", "integrations:read integrations:write")
        .await?;
    let customer = run.seed_sales(sales_started.addr, &sales_token).await?;
    let order = run
        .create_order(sales_started.addr, &sales_token, &customer)
        .await?;
    run.sync_providers(integration.addr, &integrations).await?;

    let key = |name: &str, value: &str| {
        [(name.to_owned(), AttributeValue::S(value.to_owned()))]
            .into_iter()
            .collect()
    };
    let outbox = table(run, sales_service::store::OUTBOX_TABLE);
    let templates = vec![
        Template::read(
            &client,
            &table(run, user_service::store::USERS_TABLE),
            key("username", TEMPLATE_USER),
            "username",
            Times::Older,
        )
        .await?,
        Template::read(
            &client,
            &table(run, sales_service::store::CUSTOMERS_TABLE),
            key("id", &customer),
            "id",
            Times::Older,
        )
        .await?,
        Template::read(
            &client,
            &table(run, sales_service::store::ORDERS_TABLE),
            key("id", &order),
            "id",
            Times::Older,
        )
        .await?,
        Template::any(
            &client,
            &table(run, integration_service::store::PROVIDERS_TABLE),
            "provider_id",
            Times::Older,
        )
        .await?,
    ];
    let runs = Template::any(
        &client,
        &table(run, integration_service::store::SYNC_RUNS_TABLE),
        "run_id",
        Times::Older,
    )
    .await?;
    let backlog = Template::any(&client, &outbox, "order_id", Times::Waiting)
        .await?
        .deriving(due_shard_of_order);
    check_due_shards(&client, &outbox).await?;
    // The seed's orders left SMS due now: the backlog is only the waiting copies.
    bulk::clear(&client, &outbox, &["order_id"]).await?;

    let mut seeding = Vec::new();
    let mut routes = Routes {
        user: &user,
        sales: &sales_started,
        integration: &integration,
        session,
        admin,
        sales_token,
        integrations,
        customer,
        order,
    };
    let mut missing = Vec::new();
    let backlog_route =
        Target::get(sales_started.addr, "/api/v1/sales/sms/backlog").bearer(&routes.sales_token);
    let mut rows = Vec::new();

    eprintln!("bench --scale: the dispatcher's polls at each backlog");
    let mut polls = Vec::new();
    let mut grown = 0;
    for &size in &plan.backlogs {
        seeding.push(grow(&client, &backlog, grown, size).await?);
        grown = size;
        let mut poll = watch_polls(run, size, plan.poll_window).await?;
        if !missing.iter().any(|route| route == BACKLOG_ROUTE) {
            poll.route = measure(
                run,
                plan,
                "sales-service",
                &sales_started,
                BACKLOG_ROUTE,
                &backlog_route,
                size,
                &mut missing,
            )
            .await?;
        }
        polls.push(poll);
    }

    let mut current = 0;
    for &size in &plan.sizes {
        for template in &templates {
            seeding.push(grow(&client, template, current, size).await?);
        }
        seeding.push(grow(&client, &runs, current / 10, size / 10).await?);
        current = size;
        // Growing 100k items takes longer than an access token lives: fresh ones per size.
        routes.sales_token = run
            .access_token("api://sales", "sales:read sales:write")
            .await?;
        routes.integrations = run
            .access_token("api://integrations", "integrations:read integrations:write")
            .await?;
        for (service, started, route, target) in &routes.targets() {
            if missing.contains(route) {
                continue;
            }
            if let Some(row) = measure(
                run,
                plan,
                service,
                started,
                route,
                target,
                size,
                &mut missing,
            )
            .await?
            {
                rows.push(row);
            }
        }
    }
    for started in [user, sales_started, integration] {
        started.proc.stop().await;
    }
    Ok(Scale {
        rows,
        polls,
        missing,
        seeding,
        storage: storage(run).await.unwrap_or_else(|error| {
            eprintln!("bench --scale: no storage figures: {error:#}");
            Vec::new()
        }),
    })
}

/// 32-bit FNV-1a, the hash the sales-service shards its due index by.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// The due-index shard the sales-service gives an order's outbox record (`due_shard` in
/// its `store/dynamo/outbox.rs`, private to it, so re-derived here; [`check_due_shards`]
/// holds it to what the service wrote in this very run).
fn due_shard(order_id: &str) -> u32 {
    fnv1a(order_id) % sales_service::store::DUE_SHARDS
}

/// An outbox copy in its own order's shard, as the service would have written it (the
/// template's shard on every copy put the whole backlog in one partition).
fn due_shard_of_order(item: &mut bulk::Item) {
    if let Some(AttributeValue::S(order_id)) = item.get("order_id") {
        let shard = due_shard(order_id);
        item.insert("due_shard".to_owned(), AttributeValue::N(shard.to_string()));
    }
}

/// The records whose stored `due_shard` is not [`due_shard`] of their order id.
fn misplaced(records: &[bulk::Item]) -> Vec<String> {
    records
        .iter()
        .filter_map(|record| {
            let order_id = record.get("order_id")?.as_s().ok()?;
            let stored = record.get("due_shard").and_then(|n| n.as_n().ok());
            (stored.map(String::as_str) != Some(due_shard(order_id).to_string().as_str())).then(
                || {
                    format!(
                        "{order_id}: stored {stored:?}, derived {}",
                        due_shard(order_id)
                    )
                },
            )
        })
        .collect()
}

/// Stops the run unless every outbox record the sales-service wrote (one per seeded
/// order; with four shards a wrong rule passes 21 records by chance once in 4^21) sits in
/// the shard [`due_shard`] derives.
async fn check_due_shards(client: &aws_sdk_dynamodb::Client, outbox: &str) -> anyhow::Result<()> {
    let records = client
        .scan()
        .table_name(outbox)
        .consistent_read(true)
        .send()
        .await?
        .items
        .unwrap_or_default();
    anyhow::ensure!(
        records.len() > crate::seed::SEEDED_ORDERS,
        "{outbox} holds {} records; the seed wrote one per order",
        records.len()
    );
    let wrong = misplaced(&records);
    anyhow::ensure!(
        wrong.is_empty(),
        "the bench's due shard differs from the sales-service's: {wrong:?}"
    );
    eprintln!(
        "bench --scale: the due shard the copies get matches all {} records the sales-service wrote",
        records.len()
    );
    Ok(())
}

/// Non-count outbox queries before the poll window opens: the first pass's, the gauge's
/// Limit-1 ones, and the first of the second pass (one each per shard).
const POLLS_BEFORE_WINDOW: f64 = (2 * sales_service::store::DUE_SHARDS + 1) as f64;

/// Whether the first backlog count is surely over, from the non-count outbox queries
/// (first pages) seen since the dispatcher started.
fn gauge_is_over(finding_queries: f64) -> bool {
    finding_queries >= POLLS_BEFORE_WINDOW
}

pub const BACKLOG_ROUTE: &str = "GET /api/v1/sales/sms/backlog";

/// The user every directory copy is made from.
const TEMPLATE_USER: &str = "scale-template";

async fn grow(
    client: &aws_sdk_dynamodb::Client,
    template: &Template,
    from: usize,
    to: usize,
) -> anyhow::Result<(String, usize, f64)> {
    let started = Instant::now();
    if to > from {
        eprintln!("bench --scale: {}: {from} -> {to} items", template.table);
        bulk::grow(client, template, from, to).await?;
    }
    Ok((
        template.table.clone(),
        to.saturating_sub(from),
        started.elapsed().as_secs_f64(),
    ))
}

/// One route at one size: a first request (unmeasured: caches warm, and a 400, 404 or
/// 405 says the route is not on this build), then up to `plan.requests` measured.
#[allow(clippy::too_many_arguments)]
async fn measure(
    run: &Run,
    plan: &ScalePlan,
    service: &'static str,
    started: &Started,
    route: &str,
    target: &Target,
    size: usize,
    missing: &mut Vec<String>,
) -> anyhow::Result<Option<ScaleRow>> {
    let first = load::once(target).await;
    if matches!(first.map(|s| s.as_u16()), Some(400 | 404 | 405)) {
        eprintln!("bench --scale: {service} {route}: {first:?}: not on this build");
        missing.push(route.to_owned());
        return Ok(None);
    }
    let before = EmulatorStats::fetch(&run.http, &run.emulator).await?;
    let outcome = load::sequential(target, started.proc.pid(), plan.requests, plan.budget).await;
    let aws = EmulatorStats::fetch(&run.http, &run.emulator)
        .await?
        .since(&before);
    let answers = outcome.answers_with_warmup.max(1) as f64;
    let ours = |name: &str| name.starts_with(&run.prefix);
    let row = ScaleRow {
        service,
        route: route.to_owned(),
        size,
        requests: outcome.answers_with_warmup,
        errors: outcome.errors(),
        cpu_us: outcome.server_cpu.as_secs_f64() * 1e6 / answers,
        aws_calls: aws.calls() as f64 / answers,
        dynamodb: aws.dynamodb_total(ours).per(answers),
        p50_ms: outcome.percentile_ms(50.0),
    };
    eprintln!(
        "bench --scale: {size:>7} {service} {route}: {} requests, {:.0} us CPU, {:.2} AWS calls, {:.1} items read, {:.2} RCU, {:.2} WCU per request, errors {}",
        row.requests, row.cpu_us, row.aws_calls, row.dynamodb.items_read, row.dynamodb.read_units, row.dynamodb.write_units, row.errors
    );
    Ok(Some(row))
}

/// Starts a sales-service with its dispatcher, every other service idle, so everything
/// read is its own. The dispatcher runs one thing at a time: a pass (one due Query per
/// shard, nothing being due), then, after the first pass and every 15 s, the backlog
/// gauge (per shard a Limit-1 Query for the oldest due time, which looks like a poll's,
/// and COUNT pages up to the cap), then a sleep of its poll interval (1 s). So the gauge
/// is over for certain once the second pass has begun: [`POLLS_BEFORE_WINDOW`] first-page
/// queries that are not counts. The gauge's reads are taken from the dispatcher's start;
/// the polls from then on, for `window` (under 15 s, so no count falls in it). Only the
/// outbox's reads count.
async fn watch_polls(run: &Run, backlog: usize, window: Duration) -> anyhow::Result<PollRow> {
    // The outbox alone: the idle services' own background reads (readiness, sync
    // schedules) are not the dispatcher's.
    let outbox = table(run, sales_service::store::OUTBOX_TABLE);
    let ours = |name: &str| name == outbox;
    let finding =
        |op: &str| (op.starts_with("Query") || op.starts_with("Scan")) && !op.ends_with(" COUNT");
    let counting = |op: &str| op.ends_with(" COUNT");
    let before = EmulatorStats::fetch(&run.http, &run.emulator).await?;
    let (dispatcher, _) = run.start_measured(sales(run, true)?).await?;
    let counted_by = Instant::now() + Duration::from_secs(120);
    let counted = loop {
        let now = EmulatorStats::fetch(&run.http, &run.emulator).await?;
        if gauge_is_over(now.clone().since(&before).first_pages(ours, finding)) {
            break now;
        }
        anyhow::ensure!(
            Instant::now() < counted_by,
            "the dispatcher did not finish its first pass and count within 120 s of its start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let started = Instant::now();
    tokio::time::sleep_until(started + window).await;
    let window = started.elapsed();
    let after = EmulatorStats::fetch(&run.http, &run.emulator).await?;
    dispatcher.proc.stop().await;
    let gauge = EmulatorStats::fetch(&run.http, &run.emulator)
        .await?
        .since(&before);
    let aws = after.since(&counted);
    let polls = aws.first_pages(ours, finding);
    let gauge_calls = gauge.first_pages(ours, counting);
    let row = PollRow {
        backlog,
        polls,
        window,
        per_poll: aws.dynamodb_where(ours, finding).per(polls),
        gauge: (gauge_calls > 0.0).then(|| gauge.dynamodb_where(ours, counting).per(gauge_calls)),
        route: None,
    };
    eprintln!(
        "bench --scale: backlog {backlog}: {polls} polls in {:.1} s, {:.1} items read and {:.2} RCU per poll; gauge: {}",
        window.as_secs_f64(),
        row.per_poll.items_read,
        row.per_poll.read_units,
        row.gauge.map_or("did not run".to_owned(), |g| format!("{:.0} items read per count", g.items_read)),
    );
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shard_hash_is_fnv_1a() {
        // Reference values: http://www.isthe.com/chongo/tech/comp/fnv/ (FNV-1a, 32 bit).
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
        assert_eq!(fnv1a("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn a_copy_lands_in_its_own_orders_shard_and_a_record_elsewhere_is_named() {
        let order_id = |n: usize| format!("0193a000-0000-7000-8000-{n:012}");
        let record = |id: &str, shard: u32| {
            bulk::Item::from([
                ("order_id".to_owned(), AttributeValue::S(id.to_owned())),
                ("due_shard".to_owned(), AttributeValue::N(shard.to_string())),
            ])
        };
        let shards: Vec<u32> = (0..64).map(|n| due_shard(&order_id(n))).collect();
        for shard in 0..sales_service::store::DUE_SHARDS {
            assert!(shards.contains(&shard), "64 orders spread over every shard");
        }
        let mut copy = record(&order_id(1), 99);
        due_shard_of_order(&mut copy);
        assert_eq!(misplaced(&[copy]), Vec::<String>::new());
        let wrong = (shards[2] + 1) % sales_service::store::DUE_SHARDS;
        let named = misplaced(&[record(&order_id(0), shards[0]), record(&order_id(2), wrong)]);
        assert_eq!(named.len(), 1, "{named:?}");
        assert!(named[0].starts_with(&order_id(2)), "{named:?}");
    }

    #[test]
    fn the_poll_window_opens_only_once_the_second_pass_has_begun() {
        // Four shards: 4 due queries of the first pass, 4 Limit-1 queries of the count,
        // then the second pass.
        assert!(!gauge_is_over(4.0), "first pass only");
        assert!(
            !gauge_is_over(8.0),
            "the count's last shard may still be counting"
        );
        assert!(gauge_is_over(9.0));
    }
}
