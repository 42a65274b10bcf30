use leadline::{app_state, config, config::Config, open_database, outreach, seed, server};
use leadline::{web, worker};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

const USAGE: &str =
    "usage: leadline [serve | worker | migrate | seed --tenants N --users-per-tenant M | bench [outreach | http | review | inventory | billing | api | bundle] | drill [instances | sending]]";

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // A benchmark's thousands of request lines would bury its results.
    let default_filter = match args.first().map(String::as_str) {
        Some("bench" | "drill") => "warn",
        _ => "info,sqlx=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .init();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("leadline: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let config = Config::from_env()?;
    let command = args.first().map(String::as_str).unwrap_or("serve");
    if !matches!(
        command,
        "serve" | "worker" | "migrate" | "seed" | "bench" | "drill"
    ) {
        return Err(USAGE.into());
    }
    // Only what faces the internet or sends mail needs production settings; an operator
    // running `migrate` with nothing but DATABASE_URL should not be told about webhooks.
    if matches!(command, "serve" | "worker") {
        config::check_production(&config)?;
    }
    let database = open_database(&config).await?;
    let result = match command {
        "serve" => serve(&config, &database).await,
        "worker" => match outreach::start(&config).await {
            Ok((sending, _peer)) => {
                // Nothing a worker does needs the owner role.
                database.pools.owner.close().await;
                leadline::metrics::start();
                if let Some(addr) = config.worker_metrics_addr {
                    serve_worker_metrics(addr, &config, database.pools.app.clone()).await?;
                }
                worker::run_until(database.pools.app.clone(), sending, shutdown_signal()).await;
                Ok(())
            }
            Err(e) => Err(e),
        },
        "migrate" => Ok(()),
        "seed" => seed::synthetic_from_args(&database.pools, &args[1..]).await,
        _ => dev_tool(command, &args[1..], &config, &database).await,
    };
    if let Some(pg) = &database.embedded {
        pg.stop();
    }
    result
}

/// `drill` and `bench [outreach | review | inventory | billing | api | bundle | http]`: built
/// only with the `dev-tools` feature, which `cargo xtask` turns on.
#[cfg(feature = "dev-tools")]
async fn dev_tool(
    command: &str,
    args: &[String],
    config: &Config,
    database: &leadline::Database,
) -> Result<(), String> {
    use leadline::{bench, drill};
    match (command, args.first().map(String::as_str)) {
        ("drill", Some("sending")) => drill::run_sending(config, database).await,
        ("drill", Some("instances")) => drill::run_instances(config, database).await,
        ("drill", _) => drill::run(config, database).await,
        (_, Some("outreach")) => bench::outreach::run(database, config).await,
        (_, Some("review")) => bench::review::run(database, config).await,
        (_, Some("inventory")) => bench::inventory::run(database, config).await,
        (_, Some("billing")) => bench::billing::run(database, config).await,
        (_, Some("api")) => bench::api::run(database, config).await,
        (_, Some("bundle")) => {
            let (router, cookie) = bench::signed_in(config, database).await?;
            bench::bundle::print(&router, &cookie, &bench::leptos_options()?).await
        }
        (_, Some("http")) => {
            let (router, cookie) = bench::signed_in(config, database).await?;
            bench::http::run(&router, &cookie).await
        }
        _ => bench::run(config, database).await,
    }
}

#[cfg(not(feature = "dev-tools"))]
async fn dev_tool(
    command: &str,
    _: &[String],
    _: &Config,
    _: &leadline::Database,
) -> Result<(), String> {
    Err(format!(
        "`{command}` is not in this build: `cargo xtask {command}` builds and runs it"
    ))
}

/// A worker's own `/metrics`, for as long as the process runs.
async fn serve_worker_metrics(
    addr: std::net::SocketAddr,
    config: &Config,
    pool: sqlx::PgPool,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("binding LEADLINE_WORKER_METRICS_ADDR {addr}: {e}"))?;
    let router = web::worker_metrics(leadline::http_config(config), pool);
    tracing::info!("worker metrics on http://{addr}/metrics");
    tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
            tracing::error!(error = %e, "worker metrics listener");
        }
    });
    Ok(())
}

async fn serve(config: &Config, database: &leadline::Database) -> Result<(), String> {
    leadline::metrics::start();
    if config.demo_seed {
        let senders = config.dev_peer.map(|(_, smtp)| seed::DemoSenders {
            smtp,
            secret_key: *config.secret_key.bytes(),
        });
        seed::demo_if_empty(&database.pools, senders.as_ref(), &config.files).await?;
    }
    // Migrations and the seed are done: a request must never reach a connection that
    // could step around row-level security, even through a bug.
    database.pools.owner.close().await;
    let mut options = leptos::config::get_configuration(None)
        .map_err(|e| format!("leptos configuration: {e}"))?
        .leptos_options;
    options.site_addr = config.addr;
    let state = app_state(options, database, config);
    let timeouts = state.http.timeouts;
    let router = web::router(state);
    // The peer, if any, lives as long as the server.
    let (sending, _peer) = outreach::start(config).await?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| format!("binding {}: {e}", config.addr))?;
    tracing::info!("Leadline is listening on http://{}", config.addr);
    let background = config.background.then(|| {
        tokio::spawn(worker::run_until(
            database.pools.app.clone(),
            sending,
            shutdown_signal(),
        ))
    });
    server::serve(listener, router, timeouts, shutdown_signal()).await;
    if let Some(background) = background {
        background.abort();
    }
    Ok(())
}

/// Ctrl-C or SIGTERM: finish in-flight requests, then stop (and stop the private
/// database if we started it).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
