//! Cost that does not grow with the data: what the store reads for a page of the directory
//! and of the admins' account list, counted from DynamoDB's own answers (`ScannedCount`:
//! the items a Query or Scan read, what DynamoDB bills), at two table sizes.
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use common::paging::CursorKeys;
use test_support::emulator::{counted_dynamodb, ItemsRead};
use user_service::store::{DynamoUserStore, UserStore};

use crate::helpers::{spawn_app, TestApp};

/// A store on the app's tables whose reads are counted.
async fn counted_store(app: &TestApp) -> (DynamoUserStore, ItemsRead) {
    let (client, items_read) = counted_dynamodb().await;
    let keys = CursorKeys::ephemeral();
    (
        DynamoUserStore::new(client, &app.table_prefix, &keys),
        items_read,
    )
}

/// Writes accounts `user00000`.. up to `total` (as the service writes them, `listing`
/// included), 25 to a batch.
async fn seed_accounts(app: &TestApp, from: usize, total: usize) {
    let stored = app.stored_user("admin").await.unwrap();
    let names: Vec<String> = (from..total).map(|n| format!("user{n:05}")).collect();
    for chunk in names.chunks(25) {
        let requests = chunk
            .iter()
            .map(|name| {
                let mut item = stored.clone();
                item.insert("username".into(), AttributeValue::S(name.clone()));
                item.insert("role".into(), AttributeValue::S("user".into()));
                item.insert("name".into(), AttributeValue::S(format!("{name} name")));
                item.insert(
                    "email".into(),
                    AttributeValue::S(format!("{name}@example.com")),
                );
                let put = PutRequest::builder().set_item(Some(item)).build().unwrap();
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        let output = app
            .dynamodb
            .batch_write_item()
            .request_items(format!("{}users", app.table_prefix), requests)
            .send()
            .await
            .unwrap();
        assert!(output.unprocessed_items.unwrap_or_default().is_empty());
    }
}

/// Items read for the first page and the one after it, directory and account list.
async fn items_per_page(store: &DynamoUserStore, items_read: &ItemsRead) -> [i64; 4] {
    items_read.take();
    let first = store.list_directory(20, None).await.unwrap();
    let directory_first = items_read.take();
    let second = store
        .list_directory(20, first.next.as_deref())
        .await
        .unwrap();
    let directory_second = items_read.take();
    assert_eq!((first.items.len(), second.items.len()), (20, 20));
    let first = store.list_accounts(20, None).await.unwrap();
    let accounts_first = items_read.take();
    store
        .list_accounts(20, first.next.as_deref())
        .await
        .unwrap();
    let accounts_second = items_read.take();
    [
        directory_first,
        directory_second,
        accounts_first,
        accounts_second,
    ]
}

/// Issue 27: a page reads the page, at 100 accounts as at 1,000.
#[tokio::test]
async fn a_page_reads_a_page_whatever_the_number_of_accounts() {
    let app = spawn_app().await;
    let (store, items_read) = counted_store(&app).await;
    seed_accounts(&app, 0, 100).await;
    let small = items_per_page(&store, &items_read).await;
    seed_accounts(&app, 100, 1000).await;
    let large = items_per_page(&store, &items_read).await;
    println!(
        "items read per page of 20 (directory first, next; accounts first, next): \
         100 accounts {small:?}, 1000 accounts {large:?}"
    );
    assert_eq!(small, [20; 4]);
    assert_eq!(large, [20; 4]);
}
