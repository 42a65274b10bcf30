//! The instances drill as a test: two `leadline serve` processes that run no
//! background work and one `leadline worker`, on this test's database.

use crate::common::*;
use leadline::drill::instances::{run, Setup};
use sqlx::ConnectOptions;

#[tokio::test]
async fn two_serving_processes_and_a_worker_share_sessions_live_updates_and_jobs() {
    let app = TestApp::spawn().await;
    app.signup("Ada", "ada@example.com", "Acme").await;
    let owner_url = app.pools.owner.connect_options().to_url_lossy().to_string();
    let setup = Setup {
        exe: env!("CARGO_BIN_EXE_leadline").into(),
        owner_url: &owner_url,
        owner: &app.pools.owner,
        secret_key_hex: "ab".repeat(32),
        email: "ada@example.com",
        password: PASSWORD,
        log_dir: std::env::temp_dir(),
    };
    let report = run(&setup).await.unwrap();
    assert_eq!(
        report.pages_ok, 100,
        "every page answered on both instances"
    );
    assert_eq!(report.heard, [20, 20], "every move reached both streams");
    assert_eq!(report.export_has_new, 10, "the worker exported B's leads");
    assert_eq!(report.export_rows, 10);
    assert_eq!(
        report.signed_out_status, 401,
        "signed out on B is signed out on A"
    );
    assert!(
        report.stream_ended_after.is_some(),
        "the open streams ended"
    );
    assert!(report.clean());
}
