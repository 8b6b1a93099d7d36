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
use crate::emulator::{storage, Counts, EmulatorStats, Storage};
use crate::fixture::{order, TENANT};
use crate::load::{self, Target};
use crate::outbox::{check_due_shards, due_shard_of_order, watch_polls};
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
        let watched = watch_polls(run, sales(run, true)?, &outbox, size, plan.poll_window).await?;
        let mut poll = PollRow {
            backlog: size,
            polls: watched.polls,
            window: watched.window,
            per_poll: watched.per_poll,
            gauge: watched.gauge,
            route: None,
        };
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
        storage: storage(&run.http, &run.emulator, &run.prefix)
            .await
            .unwrap_or_else(|error| {
                eprintln!("bench --scale: no storage figures: {error:#}");
                Vec::new()
            }),
    })
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
