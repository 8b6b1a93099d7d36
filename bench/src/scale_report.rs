//! The scale run as Markdown tables and SVG charts: per route and size what a request
//! read and cost, which routes stay flat from the smallest size to the largest, and the
//! dispatcher's poll per backlog.
use std::fmt::Write;

use crate::chart::{short, BarChart, LineChart, Series};
use crate::cost::{self, RouteCost};
use crate::scale::{Scale, ScaleRow, PATIENT_AWS};

/// Items read per request at the largest size over the smallest: at most this is flat.
pub const FLAT: f64 = 1.2;

/// A route's items read per request at the smallest and the largest size measured.
pub struct Flatness {
    pub service: &'static str,
    pub route: String,
    pub smallest: (usize, f64),
    pub largest: (usize, f64),
}

impl Flatness {
    pub fn ratio(&self) -> f64 {
        match (self.smallest.1, self.largest.1) {
            (small, large) if small <= 0.0 && large <= 0.0 => 1.0,
            (small, large) => large / small.max(f64::MIN_POSITIVE),
        }
    }

    pub fn flat(&self) -> bool {
        self.ratio() <= FLAT
    }
}

impl Scale {
    /// The routes in the order they were first measured.
    fn routes(&self) -> Vec<(&'static str, String)> {
        let mut routes: Vec<(&'static str, String)> = Vec::new();
        for row in &self.rows {
            if !routes.iter().any(|(_, route)| *route == row.route) {
                routes.push((row.service, row.route.clone()));
            }
        }
        routes
    }

    fn rows_of<'a>(&'a self, route: &'a str) -> impl Iterator<Item = &'a ScaleRow> + 'a {
        self.rows.iter().filter(move |row| row.route == route)
    }

    pub fn flatness(&self) -> Vec<Flatness> {
        self.routes()
            .into_iter()
            .filter_map(|(service, route)| {
                let rows: Vec<&ScaleRow> = self.rows_of(&route).collect();
                let smallest = rows.iter().min_by_key(|row| row.size)?;
                let largest = rows.iter().max_by_key(|row| row.size)?;
                (largest.size > smallest.size).then(|| Flatness {
                    service,
                    route: route.clone(),
                    smallest: (smallest.size, smallest.dynamodb.items_read),
                    largest: (largest.size, largest.dynamodb.items_read),
                })
            })
            .collect()
    }

    /// Whether the dispatcher's poll reads no more at the largest backlog than at the
    /// smallest; `None` without two backlogs.
    pub fn polls_flat(&self) -> Option<bool> {
        let smallest = self.polls.iter().min_by_key(|row| row.backlog)?;
        let largest = self.polls.iter().max_by_key(|row| row.backlog)?;
        (largest.backlog > smallest.backlog)
            .then_some(largest.per_poll.items_read <= smallest.per_poll.items_read)
    }

    pub fn render(&self) -> String {
        let setting = |name: &str| {
            PATIENT_AWS
                .iter()
                .find(|(setting, _)| *setting == name)
                .map_or("?", |(_, value)| value)
        };
        let patience = PATIENT_AWS
            .iter()
            .map(|(name, value)| format!("`{name}={value}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut out = format!(
            "\n## Scale: what a request costs as the tables grow\n\n\
             Per request, at each table size (users, customers, orders and provider records each \
             hold that many items; sync runs a tenth). Items read: what DynamoDB reads to answer \
             (Scan and Query before their filter; the emulator's meter), returned: what it \
             answers with. RCU/WCU: read and write units DynamoDB would bill for the items' \
             sizes (scripts/emulator_capacity.py). CPU: the service process, per request. \
             The services wait for the emulator up to {attempt} s an attempt and {call} s a \
             call ({patience}): at 100k items moto walks the whole table for each index Query \
             where DynamoDB reads a page, and with the default 4 s / 10 s some requests were \
             abandoned and retried, moto's work on the abandoned attempts counting against the \
             next request. So each request counts the queries the service sends, once; a 503 \
             still shows under errors.\n\n\
             | service | route | size | requests | server CPU us/req | AWS calls/req | items read/req | items returned/req | RCU/req | WCU/req | p50 ms | errors |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
            attempt = setting("AWS_ATTEMPT_TIMEOUT_SECONDS"),
            call = setting("AWS_OPERATION_TIMEOUT_SECONDS"),
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.0} | {:.2} | {:.1} | {:.1} | {:.2} | {:.2} | {:.1} | {} |",
                row.service,
                row.route,
                row.size,
                row.requests,
                row.cpu_us,
                row.aws_calls,
                row.dynamodb.items_read,
                row.dynamodb.items_returned,
                row.dynamodb.read_units,
                row.dynamodb.write_units,
                row.p50_ms,
                row.errors,
            );
        }
        out.push_str(&format!(
            "\n### Flat or not: items read per request, smallest size against largest (flat: at most {FLAT}x)\n\n\
             | service | route | smallest | largest | ratio | flat |\n| --- | --- | ---: | ---: | ---: | --- |\n"
        ));
        for flat in self.flatness() {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} at {} | {:.1} at {} | {:.2}x | {} |",
                flat.service,
                flat.route,
                flat.smallest.1,
                flat.smallest.0,
                flat.largest.1,
                flat.largest.0,
                flat.ratio(),
                if flat.flat() { "yes" } else { "**no**" },
            );
        }
        out.push_str(&self.money());
        out.push_str(
            "\n### The SMS dispatcher's idle poll, per outbox backlog\n\n\
             Every service idle but a sales-service whose dispatcher polls each second, its SMS \
             provider down; the backlog's records wait for their next attempt (10-70 min away). \
             Polls: the outbox's Query or Scan calls that look for due SMS, counted from the start of \
             the second pass on (the dispatcher counts between its first and second pass, one thing \
             at a time, so the window holds no count); the gauge: the backlog \
             count's counting queries, from the dispatcher's start.\n\n\
             `GET /api/v1/sales/sms/backlog` counts the same index up to `OUTBOX_BACKLOG_COUNT_MAX` \
             (default 1,000) and answers \"this many or more\": it reads at most that many whatever \
             the backlog.\n\n\
             | backlog | poll queries in window (one per shard a poll) | items read per poll query | RCU per poll query | gauge items read per counting query | gauge RCU per counting query | GET /sms/backlog items read/req | GET /sms/backlog RCU/req |\n\
             | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for poll in &self.polls {
            let gauge = poll.gauge.map_or(("-".to_owned(), "-".to_owned()), |g| {
                (
                    format!("{:.0}", g.items_read),
                    format!("{:.1}", g.read_units),
                )
            });
            let route = poll
                .route
                .as_ref()
                .map_or(("-".to_owned(), "-".to_owned()), |r| {
                    (
                        format!("{:.0}", r.dynamodb.items_read),
                        format!("{:.1}", r.dynamodb.read_units),
                    )
                });
            let _ = writeln!(
                out,
                "| {} | {:.0} in {:.1} s | {:.1} | {:.2} | {} | {} | {} | {} |",
                poll.backlog,
                poll.polls,
                poll.window.as_secs_f64(),
                poll.per_poll.items_read,
                poll.per_poll.read_units,
                gauge.0,
                gauge.1,
                route.0,
                route.1,
            );
        }
        if let Some(flat) = self.polls_flat() {
            let _ = writeln!(
                out,
                "\nThe poll reads {} with the largest backlog than with the smallest.",
                if flat { "no more" } else { "**more**" }
            );
        }
        if !self.missing.is_empty() {
            let _ = writeln!(
                out,
                "\nNot on this build (first answer 400, 404 or 405): {}.",
                self.missing.join(", ")
            );
        }
        out.push_str(
            "\n### Storage: what a million items of each table take\n\n\
             At the end of the run: item sizes as DynamoDB counts them, plus its 100 bytes of \
             overhead per item and per index entry (MB per million items = bytes per item).\n\n\
             | table | items | bytes per item | index entries per item | index bytes per item | billed MB per million items | $ per million items per month |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for table in &self.storage {
            let items = table.items.max(1.0);
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0} | {:.3} |",
                table.table,
                table.items,
                table.bytes / items,
                table.index_entries / items,
                table.index_bytes / items,
                table.billed_bytes_per_item(),
                cost::storage_per_million_items_month(table.billed_bytes_per_item()),
            );
        }
        let written: usize = self.seeding.iter().map(|(_, items, _)| items).sum();
        let seconds: f64 = self.seeding.iter().map(|(_, _, s)| s).sum();
        let _ = writeln!(
            out,
            "\nSeeding: {written} items copied with BatchWriteItem in {seconds:.0} s ({:.0} items/s into the emulator).",
            written as f64 / seconds.max(0.001)
        );
        out
    }

    /// Money per route at the largest size: DynamoDB units and compute per million
    /// requests, and a month at the stated load.
    fn money(&self) -> String {
        let Some(largest) = self.rows.iter().map(|row| row.size).max() else {
            return String::new();
        };
        let mut out = format!(
            "\n### Money per request (at {largest} items per table)\n\n{}\n\n\
             | service | route | RCU/req | WCU/req | CPU us/req | DynamoDB $ per million req | compute $ per million req | total $ per million req | $ per month at {} req/s |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            cost::assumptions(),
            cost::LOAD_PER_SECOND,
        );
        for row in self.rows.iter().filter(|row| row.size == largest) {
            let money = RouteCost::new(
                row.dynamodb.read_units,
                row.dynamodb.write_units,
                row.cpu_us,
            );
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {:.2} | {:.0} | {:.3} | {:.3} | {:.3} | {:.2} |",
                row.service,
                row.route,
                row.dynamodb.read_units,
                row.dynamodb.write_units,
                row.cpu_us,
                money.dynamodb,
                money.compute,
                money.per_million(),
                money.per_month(),
            );
        }
        out
    }

    /// `(file stem, SVG)`: items read, read units and CPU per request, a bar per size
    /// beside each route (a flat route shows bars of one length), and the dispatcher's
    /// poll over the backlogs.
    pub fn charts(&self) -> Vec<(String, String)> {
        let routes = self.routes();
        let mut sizes: Vec<usize> = self.rows.iter().map(|row| row.size).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let bars = |title: &str, label: &str, value: fn(&ScaleRow) -> f64| BarChart {
            title: title.to_owned(),
            value_label: label.to_owned(),
            categories: routes
                .iter()
                .map(|(service, route)| format!("{} {route}", service.trim_end_matches("-service")))
                .collect(),
            series: sizes
                .iter()
                .map(|size| {
                    let values = routes
                        .iter()
                        .map(|(_, route)| {
                            self.rows_of(route)
                                .find(|row| row.size == *size)
                                .map_or(f64::NAN, value)
                        })
                        .collect();
                    (format!("{} items per table", short(*size as f64)), values)
                })
                .collect(),
            reference: None,
            log_scale: true,
        };
        let mut charts = vec![
            (
                "scale-items-read".to_owned(),
                bars(
                    "DynamoDB items read per request, by table size",
                    "items read per request (log scale; 0: no bar)",
                    |row| row.dynamodb.items_read,
                )
                .svg(),
            ),
            (
                "scale-read-units".to_owned(),
                bars(
                    "Read units per request, by table size",
                    "RCU per request (log scale; 0: no bar)",
                    |row| row.dynamodb.read_units,
                )
                .svg(),
            ),
            (
                "scale-cpu".to_owned(),
                bars(
                    "Server CPU per request, by table size",
                    "us of CPU per request (log scale)",
                    |row| row.cpu_us,
                )
                .svg(),
            ),
        ];
        if !self.polls.is_empty() {
            let poll = LineChart {
                title: "The SMS dispatcher's idle poll and the backlog count, by outbox backlog"
                    .to_owned(),
                x_label: "SMS waiting in the outbox".to_owned(),
                y_label: "items read".to_owned(),
                log_x: false,
                log_y: false,
                series: vec![
                    Series {
                        name: "the dispatcher: items read per poll".to_owned(),
                        points: self
                            .polls
                            .iter()
                            .map(|p| (p.backlog as f64, p.per_poll.items_read))
                            .collect(),
                    },
                    Series {
                        name: "GET /sms/backlog: items read per request".to_owned(),
                        points: self
                            .polls
                            .iter()
                            .filter_map(|p| {
                                Some((p.backlog as f64, p.route.as_ref()?.dynamodb.items_read))
                            })
                            .collect(),
                    },
                ],
            };
            charts.push(("scale-dispatcher-poll".to_owned(), poll.svg()));
        }
        charts
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::emulator::Counts;
    use crate::scale::{PollRow, Scale};

    fn polls(items_read: &[(usize, f64)]) -> Scale {
        Scale {
            rows: Vec::new(),
            polls: items_read
                .iter()
                .map(|&(backlog, items_read)| PollRow {
                    backlog,
                    polls: 16.0,
                    window: Duration::from_secs(5),
                    per_poll: Counts {
                        items_read,
                        ..Counts::default()
                    },
                    gauge: None,
                    route: None,
                })
                .collect(),
            missing: Vec::new(),
            seeding: Vec::new(),
            storage: Vec::new(),
        }
    }

    #[test]
    fn a_poll_that_reads_any_more_with_the_largest_backlog_is_not_flat() {
        assert_eq!(polls(&[(0, 0.0), (10_000, 0.0)]).polls_flat(), Some(true));
        // The 0.1 items a poll query seemed to read at a backlog of 300 while the gauge's
        // reads leaked into the window: "more", not "within noise".
        assert_eq!(polls(&[(0, 0.0), (300, 0.1)]).polls_flat(), Some(false));
        assert_eq!(polls(&[(0, 0.0)]).polls_flat(), None);
    }
}
