//! Pooled connections never carry a transaction or a tenant into the next checkout,
//! however a unit of work is cancelled.

use crate::common::TestApp;

#[tokio::test]
async fn cancelled_work_leaves_nothing_on_a_pooled_connection() {
    let pools = TestApp::database().await;
    let app = (*pools.app.connect_options()).clone();
    let report = leadline::drill::pooled_connections(app, 1_200)
        .await
        .unwrap();
    assert_eq!(report.checks, 1_200);
    assert!(report.cancelled >= 300, "{report:?}");
    assert!(report.clean(), "{report:?}");
}
