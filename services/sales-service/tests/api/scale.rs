//! Cost that does not grow with the data: what the store reads for a page of a listing, a
//! poll of the outbox and the backlog count, counted from DynamoDB's own answers
//! (`ScannedCount`: the items a Query or Scan read, what DynamoDB bills), with far more
//! data in the tables than the page.
use std::time::Duration;

use common::paging::CursorKeys;
use common::timestamp::Timestamp;
use sales_service::domain::{CustomerRecord, OrderRecord, OutboxRecord, SmsStatus};
use sales_service::store::{DynamoSalesStore, OrderFilter, Outbox, SalesStore};
use test_support::emulator::{counted_dynamodb, ItemsRead};

use crate::helpers::{spawn_app_with, TestApp};

/// An app without a dispatcher (nothing moves under the test), and a store on its tables
/// whose reads are counted.
async fn counted_store() -> (TestApp, DynamoSalesStore, ItemsRead) {
    let app = spawn_app_with(|config| config.outbox.enabled = false).await;
    let (client, items_read) = counted_dynamodb().await;
    let store = DynamoSalesStore::new(
        client,
        &app.config.common.table_prefix,
        &CursorKeys::ephemeral(),
    );
    (app, store, items_read)
}

fn customer(n: usize, created_at: Timestamp) -> CustomerRecord {
    CustomerRecord {
        id: uuid::Uuid::now_v7().to_string(),
        code: format!("CUS-{n:06}"),
        name: format!("Buyer {n}"),
        phone_number: format!("+2547110{n:05}"),
        email: None,
        created_at: created_at.sortable(),
    }
}

/// An order of `customer` at `ordered_at`, with its SMS due at `due`.
fn order(
    customer: &CustomerRecord,
    ordered_at: Timestamp,
    due: Timestamp,
) -> (OrderRecord, OutboxRecord) {
    let id = uuid::Uuid::now_v7().to_string();
    let order = OrderRecord {
        id: id.clone(),
        customer_id: customer.id.clone(),
        customer_code: customer.code.clone(),
        item: "Rice".into(),
        amount: "1.00".into(),
        currency: "KES".into(),
        ordered_at: ordered_at.sortable(),
        sms_status: SmsStatus::Pending,
        sms_attempts: 0,
        sms_error: None,
        sms_sent_at: None,
        sms_message_id: None,
        sms_updated_at: None,
    };
    let sms = OutboxRecord::new(
        id,
        customer.phone_number.clone(),
        "Hi".into(),
        due.unix_millis(),
    );
    (order, sms)
}

/// Seeds `count` orders spread over `customers`, one a second apart from `start` (the
/// newest last); each SMS is due `due_in` after its order. Returns the order ids, oldest
/// first.
async fn seed_orders(
    store: &DynamoSalesStore,
    customers: &[CustomerRecord],
    count: usize,
    start: Timestamp,
    due_in: Duration,
) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        let at = start + Duration::from_secs(n as u64);
        let (order, sms) = order(&customers[n % customers.len()], at, at + due_in);
        store.insert_order(&order, Some(&sms), None).await.unwrap();
        ids.push(order.id);
    }
    ids
}

async fn seed_customers(
    store: &DynamoSalesStore,
    count: usize,
    start: Timestamp,
) -> Vec<CustomerRecord> {
    let mut customers = Vec::new();
    for n in 0..count {
        let customer = customer(n, start + Duration::from_secs(n as u64));
        store.insert_customer(&customer, None).await.unwrap();
        customers.push(customer);
    }
    customers
}

const BATCH: usize = 25;

fn ago(duration: Duration) -> Timestamp {
    Timestamp::from(time::OffsetDateTime::now_utc() - duration)
}

#[tokio::test]
async fn a_poll_of_the_outbox_reads_no_more_than_its_batch_whatever_the_backlog() {
    let (_app, store, items_read) = counted_store().await;
    let now = Timestamp::now();
    let customers = seed_customers(&store, 3, now).await;
    let empty = store.due(now.unix_millis(), BATCH).await.unwrap();
    assert!(empty.is_empty());
    let read_when_empty = items_read.take();

    // 240 SMS waiting for a retry an hour from now (a provider outage), 40 due now.
    let hour_ago = ago(Duration::from_secs(3600));
    seed_orders(&store, &customers, 240, hour_ago, Duration::from_secs(7200)).await;
    seed_orders(&store, &customers, 40, hour_ago, Duration::ZERO).await;
    items_read.take();
    let due = store
        .due(Timestamp::now().unix_millis(), BATCH)
        .await
        .unwrap();
    let read_with_backlog = items_read.take();
    assert_eq!(due.len(), BATCH, "a full batch of the 40 due");
    assert!(
        read_with_backlog <= BATCH as i64 && read_when_empty <= BATCH as i64,
        "a poll reads at most its batch: {read_with_backlog} items with 280 queued, \
         {read_when_empty} with none"
    );
}

#[tokio::test]
async fn the_backlog_is_counted_without_reading_the_whole_outbox() {
    let (_app, store, items_read) = counted_store().await;
    let now = Timestamp::now();
    let customers = seed_customers(&store, 3, now).await;
    let oldest = ago(Duration::from_secs(600));
    seed_orders(&store, &customers, 150, oldest, Duration::from_secs(3600)).await;
    items_read.take();

    let capped = store.backlog(60).await.unwrap();
    let read = items_read.take();
    assert_eq!((capped.queued, capped.more), (60, true), "{capped:?}");
    assert!(read <= 60 + 8, "counting up to 60 read {read} items of 150");
    assert_eq!(
        capped.oldest_due_ms,
        Some((oldest + Duration::from_secs(3600)).unix_millis()),
        "the earliest due time"
    );

    let all = store.backlog(1000).await.unwrap();
    assert_eq!((all.queued, all.more), (150, false), "{all:?}");
}

#[tokio::test]
async fn a_page_of_orders_or_customers_reads_one_page_newest_first() {
    let (_app, store, items_read) = counted_store().await;
    let start = ago(Duration::from_secs(3600));
    let customers = seed_customers(&store, 120, start).await;
    let orders = seed_orders(&store, &customers[..3], 150, start, Duration::ZERO).await;
    items_read.take();

    let page = store
        .orders(&OrderFilter::default(), 10, None)
        .await
        .unwrap();
    let read = items_read.take();
    let newest: Vec<&String> = orders.iter().rev().take(10).collect();
    let listed: Vec<&String> = page.items.iter().map(|order| &order.id).collect();
    assert_eq!(listed, newest, "the 10 newest orders, newest first");
    assert!(read <= 10, "a page of 10 of 150 orders read {read} items");

    let next = store
        .orders(&OrderFilter::default(), 10, page.next.as_deref())
        .await
        .unwrap();
    let newest: Vec<&String> = orders.iter().rev().skip(10).take(10).collect();
    let listed: Vec<&String> = next.items.iter().map(|order| &order.id).collect();
    assert_eq!(
        listed, newest,
        "the next page goes on where the first stopped"
    );

    items_read.take();
    let page = store.customers(10, None).await.unwrap();
    let read = items_read.take();
    let newest: Vec<&String> = customers.iter().rev().take(10).map(|c| &c.id).collect();
    let listed: Vec<&String> = page.items.iter().map(|customer| &customer.id).collect();
    assert_eq!(listed, newest, "the 10 newest customers, newest first");
    assert!(
        read <= 10,
        "a page of 10 of 120 customers read {read} items"
    );
}

#[tokio::test]
async fn orders_by_sms_status_read_one_page_and_a_customers_read_a_bounded_few() {
    let (_app, store, items_read) = counted_store().await;
    let start = ago(Duration::from_secs(3600));
    let customers = seed_customers(&store, 3, start).await;
    // 150 orders over 3 customers (n % 3), every tenth one's SMS failed.
    let mut failed = Vec::new();
    for n in 0..150 {
        let at = start + Duration::from_secs(n as u64);
        let (mut order, _) = order(&customers[n % 3], at, at);
        if n % 10 == 0 {
            order.sms_status = SmsStatus::Failed;
            failed.push((n, order.id.clone()));
        }
        store.insert_order(&order, None, None).await.unwrap();
    }
    items_read.take();

    let filter = OrderFilter {
        customer_id: None,
        sms_status: Some(SmsStatus::Failed),
    };
    let page = store.orders(&filter, 10, None).await.unwrap();
    let read = items_read.take();
    let newest: Vec<&String> = failed.iter().rev().take(10).map(|(_, id)| id).collect();
    let listed: Vec<&String> = page.items.iter().map(|order| &order.id).collect();
    assert_eq!(listed, newest, "the 10 newest failed of 150 orders");
    assert!(
        read <= 10,
        "a page of 10 failed of 150 orders read {read} items"
    );

    // Customer 0 has 50 orders, 5 of them failed (n = 0, 30, 60, 90, 120): a page of 10
    // reads at most FILTERED_READS x 10 of its orders and answers what it found there;
    // the pages together hold all five, newest first, each once.
    let filter = OrderFilter {
        customer_id: Some(customers[0].id.clone()),
        sms_status: Some(SmsStatus::Failed),
    };
    let wanted: Vec<String> = [120, 90, 60, 30, 0]
        .iter()
        .map(|n| failed.iter().find(|(m, _)| m == n).unwrap().1.clone())
        .collect();
    let (mut listed, mut cursor, mut pages, mut most_read) = (Vec::new(), None, 0, 0);
    loop {
        let page = store.orders(&filter, 10, cursor.as_deref()).await.unwrap();
        most_read = most_read.max(items_read.take());
        pages += 1;
        listed.extend(page.items.into_iter().map(|order| order.id));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(listed, wanted, "a customer's failed orders, newest first");
    assert!(
        most_read <= 40,
        "a filtered page of 10 read {most_read} items"
    );
    assert!(
        pages <= 3,
        "{pages} pages for 50 orders read 36-40 at a time"
    );
    println!(
        "orders by SMS status: a page of 10 failed of 150 orders read {read} items; \
         a customer's 5 failed of its 50 orders: {pages} pages, at most {most_read} items each"
    );
}
