//! Payments fan-out: a payment service publishes `PaymentCompleted` events; an email, an
//! analytics and a fraud service each consume them independently with a durable consumer. Midway
//! the email service is killed with SIGKILL while it handles a payment, and later the server is
//! killed too; both restart. At the end every service shows it handled every payment exactly
//! once. See README.md beside this file.
//!
//! `payments-fanout [--payments N]` runs the whole story; the services run as child processes
//! of this same program (`payments-fanout consume --service NAME ...`).

#[path = "../support/server.rs"]
mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use eventstream::client::{
    BoxError, Client, DurableConsumer, RunUntil, StagedState, SubscribeOptions, event,
};
use eventstream::pb;
use serde::{Deserialize, Serialize};
use server::{ServerProcess, locate_binary};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

const TOPIC: &str = "payments";
/// Payments at or above this amount go to manual review.
const REVIEW_THRESHOLD_CENTS: u64 = 18_000;
/// The longest any single step of the story may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Parser)]
#[command(about = "Payments fan-out with durable consumers, a consumer crash and a server crash")]
struct Args {
    /// How many payments the payment service publishes (at least 3: the crashes happen a third
    /// and two thirds of the way in).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(3..))]
    payments: u32,

    /// The eventstream server binary (default: EVENTSTREAM_BIN, or the one cargo built).
    #[arg(long)]
    eventstream_bin: Option<PathBuf>,

    #[command(subcommand)]
    role: Option<Role>,
}

#[derive(Subcommand)]
enum Role {
    /// Run one consuming service until stdin closes, then catch up and exit.
    Consume {
        #[arg(long, value_enum)]
        service: Service,
        #[arg(long)]
        server: String,
        /// Where the service keeps its store (and the email service its outbox).
        #[arg(long)]
        store: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
enum Service {
    Email,
    Analytics,
    Fraud,
}

const SERVICES: [Service; 3] = [Service::Email, Service::Analytics, Service::Fraud];

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Email => "email",
            Service::Analytics => "analytics",
            Service::Fraud => "fraud",
        }
    }
}

/// The payload of a `PaymentCompleted` event.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Payment {
    payment_id: String,
    customer: String,
    card: String,
    amount_cents: u64,
}

impl Payment {
    /// The `n`th payment of the run (deterministic, so the expected totals are known).
    fn numbered(n: usize) -> Self {
        Payment {
            payment_id: format!("pay-{n:05}"),
            customer: format!("cust-{}", n % 13),
            card: format!("card-{}", n % 7),
            amount_cents: 500 + (n as u64 * 7919) % 20_000,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match args.role {
        Some(Role::Consume {
            service,
            server,
            store,
        }) => consume(service, &server, &store).await.map(|()| true),
        None => match locate_binary(args.eventstream_bin) {
            Ok(binary) => run_story(args.payments as usize, &binary).await,
            Err(error) => Err(error),
        },
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("payments-fanout: {error}");
            ExitCode::FAILURE
        }
    }
}

// ---- the consuming services (child processes) ----------------------------------------------

/// Runs `service` with a durable consumer until stdin closes (the payment service is done), then
/// handles what is left up to the end of the topic and exits.
async fn consume(service: Service, server: &str, store: &Path) -> Result<(), BoxError> {
    let db = sled::open(store.join(format!("{}.db", service.name())))?;
    let client = Client::connect_lazy(server)?;
    let consumer =
        DurableConsumer::open(client, &db, service.name(), SubscribeOptions::new(TOPIC))?;
    let outbox = store.join("outbox");
    std::fs::create_dir_all(&outbox)?;
    let mut handler = |event, state| handle(service, outbox.clone(), event, state);
    let publishing_over =
        tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()));
    tokio::select! {
        // Following live events ends only by error; the run is cancel-safe, so dropping it when
        // stdin closes loses nothing.
        outcome = consumer.run(RunUntil::Forever, &mut handler) => { outcome?; }
        _ = publishing_over => {}
    }
    consumer.run(RunUntil::CaughtUp, &mut handler).await?;
    Ok(())
}

/// Handles one payment for `service`. Changes staged in `state` commit exactly once, with the
/// consumer's position; the email goes out through the outbox, outside the store, at least once.
async fn handle(
    service: Service,
    outbox: PathBuf,
    event: pb::Event,
    state: StagedState,
) -> Result<(), BoxError> {
    let payment: Payment = serde_json::from_slice(&event.payload)?;
    // Tells the story runner which payment is in progress (it picks one to crash in).
    println!("handling {} {}", event.offset, payment.payment_id);
    match service {
        Service::Email => {
            // The email provider is outside the store, so a crash after sending but before the
            // commit sends again on restart. Keying the receipt by event id makes the resend
            // replace the first one instead of reaching the customer twice.
            let receipt = format!(
                "To {}: we received your payment {} of {} cents.\n",
                payment.customer, payment.payment_id, payment.amount_cents
            );
            std::fs::write(outbox.join(format!("{}.txt", event.id)), receipt)?;
            append_line(&outbox.join("send-attempts.log"), &payment.payment_id)?;
            // Talking to the provider takes a moment: the window a crash can land in.
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        Service::Analytics => {
            add(&state, "revenue_cents", payment.amount_cents)?;
            add(&state, "payments", 1)?;
        }
        Service::Fraud => {
            if payment.amount_cents >= REVIEW_THRESHOLD_CENTS {
                state.insert(
                    format!("review/{}", payment.payment_id),
                    event.id.as_bytes(),
                );
            }
            add(&state, &format!("card/{}", payment.card), 1)?;
        }
    }
    add(&state, &format!("handled/{}", payment.payment_id), 1)?;
    Ok(())
}

/// Adds `amount` to the counter under `key` in the staged state.
fn add(state: &StagedState, key: &str, amount: u64) -> Result<(), BoxError> {
    let current = state
        .get(key.as_bytes())?
        .map_or(0, |bytes| counter(&bytes));
    state.insert(key, (current + amount).to_be_bytes());
    Ok(())
}

fn counter(bytes: &[u8]) -> u64 {
    bytes.try_into().map_or(0, u64::from_be_bytes)
}

fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(file, "{line}")
}

// ---- the story ------------------------------------------------------------------------------

/// A running service process and the end of its stdin that, closed, tells it publishing is over.
struct ServiceProcess {
    child: Child,
    stdin: Option<ChildStdin>,
}

/// Starts `service` as a child process; its "handling" lines go to `progress`.
fn start_service(
    service: Service,
    server: &str,
    store: &Path,
    progress: mpsc::UnboundedSender<(Service, usize)>,
) -> Result<ServiceProcess, BoxError> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["consume", "--service", service.name(), "--server", server])
        .arg("--store")
        .arg(store)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            // "handling OFFSET PAYMENT_ID"
            if let Some(offset) = line.split(' ').nth(1).and_then(|n| n.parse().ok()) {
                let _ = progress.send((service, offset));
            }
        }
    });
    let stdin = child.stdin.take();
    Ok(ServiceProcess { child, stdin })
}

/// Runs the whole story; returns whether every service handled every payment exactly once.
async fn run_story(payments: usize, binary: &Path) -> Result<bool, BoxError> {
    let work = tempfile::tempdir()?;
    let mut server = ServerProcess::start(binary, &work.path().join("server")).await?;
    let url = server.url();
    println!("server: listening at {url}");
    let client = Client::connect_lazy(&url)?;
    client.create_topic(TOPIC, Default::default()).await?;

    let (progress, mut handling) = mpsc::unbounded_channel();
    let mut services = BTreeMap::new();
    for service in SERVICES {
        let store = work.path().join(service.name());
        std::fs::create_dir_all(&store)?;
        let process = start_service(service, &url, &store, progress.clone())?;
        services.insert(service, process);
    }
    println!(
        "services: email, analytics and fraud consume {TOPIC:?}, each with its own durable consumer"
    );

    let (published_tx, mut published) = tokio::sync::watch::channel(0usize);
    let publisher = tokio::spawn(publish_payments(client.clone(), payments, published_tx));
    println!("payment service: publishing {payments} PaymentCompleted events");

    // The crashes: the email service while it handles the payment a third of the way in, the
    // server once two thirds of the payments are published.
    let crash_email_at = payments / 3;
    let crash_server_at = payments * 2 / 3;
    let (mut email_crashed, mut server_crashed) = (false, false);
    let crashes = async {
        while !(email_crashed && server_crashed) {
            tokio::select! {
                Some((service, offset)) = handling.recv(), if !email_crashed => {
                    if service == Service::Email && offset >= crash_email_at {
                        let email = services.get_mut(&Service::Email).ok_or("no email service")?;
                        email.child.start_kill()?;
                        email.child.wait().await?;
                        println!("email: killed with SIGKILL while handling the payment at offset {offset}; restarting it");
                        let store = work.path().join(Service::Email.name());
                        *email = start_service(Service::Email, &url, &store, progress.clone())?;
                        email_crashed = true;
                    }
                }
                changed = published.changed(), if !server_crashed => {
                    changed?;
                    if *published.borrow() >= crash_server_at {
                        server.crash_and_restart(Duration::from_millis(300)).await?;
                        println!("server: killed with SIGKILL after {crash_server_at} payments, down for 300 ms, restarted on the same port");
                        server_crashed = true;
                    }
                }
            }
        }
        Ok::<_, BoxError>(())
    };
    tokio::time::timeout(STEP_TIMEOUT, crashes)
        .await
        .map_err(|_| "the crashes did not happen in time")??;
    // Nobody reads the progress any more: let the senders' sends fail quietly.
    drop(handling);

    let sent = tokio::time::timeout(STEP_TIMEOUT, publisher).await??;
    println!(
        "payment service: done, {} payments published (each exactly once)",
        sent?.len()
    );
    for (service, process) in &mut services {
        drop(process.stdin.take());
        let status = tokio::time::timeout(STEP_TIMEOUT, process.child.wait()).await??;
        if !status.success() {
            return Err(format!("the {} service failed: {status}", service.name()).into());
        }
    }
    verify(&client, work.path(), payments)
}

/// Publishes payments `0..count`, one per call, reporting how many are published.
async fn publish_payments(
    client: Client,
    count: usize,
    published: tokio::sync::watch::Sender<usize>,
) -> Result<Vec<Payment>, BoxError> {
    let mut sent = Vec::with_capacity(count);
    for n in 0..count {
        let payment = Payment::numbered(n);
        let data = pb::EventData {
            key: payment.customer.clone(),
            // The payment's own id as idempotency key: even a payment service that restarts and
            // sends the payment again cannot publish it twice.
            idempotency_key: payment.payment_id.clone(),
            content_type: "application/json".to_string(),
            ..event("PaymentCompleted", serde_json::to_vec(&payment)?)
        };
        client.publish(TOPIC, vec![data]).await?;
        sent.push(payment);
        published.send_replace(n + 1);
        // A steady trickle, so that the crashes land while events are flowing.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(sent)
}

/// Reads every service's committed state and checks it against the payments published.
fn verify(client: &Client, work: &Path, payments: usize) -> Result<bool, BoxError> {
    let expected: Vec<Payment> = (0..payments).map(Payment::numbered).collect();
    let mut all_exactly_once = true;
    println!("results:");
    for service in SERVICES {
        let db = sled::open(
            work.join(service.name())
                .join(format!("{}.db", service.name())),
        )?;
        let consumer = DurableConsumer::open(
            client.clone(),
            &db,
            service.name(),
            SubscribeOptions::new(TOPIC),
        )?;
        let handled = consumer.state_entries(b"handled/")?;
        let once = handled
            .iter()
            .filter(|(_, count)| counter(count) == 1)
            .count();
        let exactly_once = once == payments && handled.len() == payments;
        let (detail, detail_ok) = match service {
            Service::Email => {
                let outbox = work.join("email").join("outbox");
                let receipts = std::fs::read_dir(&outbox)?
                    .filter_map(Result::ok)
                    .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "txt"))
                    .count();
                let attempts = std::fs::read_to_string(outbox.join("send-attempts.log"))?
                    .lines()
                    .count();
                (
                    format!(
                        "{receipts} receipts in the outbox from {attempts} send attempts (a crash between sending and committing re-sends; the receipt is keyed by event id)"
                    ),
                    receipts == payments,
                )
            }
            Service::Analytics => {
                let revenue = consumer.state(b"revenue_cents")?.map_or(0, |b| counter(&b));
                let expected_revenue: u64 = expected.iter().map(|p| p.amount_cents).sum();
                (
                    format!("revenue {revenue} cents (published: {expected_revenue})"),
                    revenue == expected_revenue,
                )
            }
            Service::Fraud => {
                let reviews: BTreeSet<Vec<u8>> = consumer
                    .state_entries(b"review/")?
                    .into_iter()
                    .map(|(key, _)| key)
                    .collect();
                let expected_reviews: BTreeSet<Vec<u8>> = expected
                    .iter()
                    .filter(|p| p.amount_cents >= REVIEW_THRESHOLD_CENTS)
                    .map(|p| format!("review/{}", p.payment_id).into_bytes())
                    .collect();
                (
                    format!(
                        "{} payments sent to review (expected {})",
                        reviews.len(),
                        expected_reviews.len()
                    ),
                    reviews == expected_reviews,
                )
            }
        };
        let verdict = if exactly_once && detail_ok {
            "ok"
        } else {
            "WRONG"
        };
        println!(
            "  {:<9} {verdict}: {once}/{payments} payments handled exactly once; {detail}",
            service.name()
        );
        all_exactly_once &= exactly_once && detail_ok;
    }
    if all_exactly_once {
        println!("every service handled every payment exactly once");
    } else {
        println!("some payment was lost or handled twice");
    }
    Ok(all_exactly_once)
}
