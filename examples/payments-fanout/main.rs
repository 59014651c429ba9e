//! Payments fan-out: a payment service publishes `PaymentCompleted` events; an email, an
//! analytics and a fraud service each consume them independently. Analytics and fraud each run
//! one instance with a durable consumer; email runs two instances sharing the work as one
//! consumer group. Midway an email instance is killed with SIGKILL while it handles a payment,
//! and later the server is killed too; both restart. At the end every service shows it handled
//! every payment exactly once. See README.md beside this file.
//!
//! `payments-fanout [--payments N]` runs the whole story; the services run as child processes
//! of this same program (`payments-fanout consume --service NAME --instance N ...`).

#[path = "../support/server.rs"]
mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use eventstream::client::{
    BoxError, Client, DurableConsumer, GroupConsumer, GroupOptions, RunUntil, StagedState,
    SubscribeOptions, event,
};
use eventstream::pb;
use serde::{Deserialize, Serialize};
use server::{ServerProcess, locate_binary};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

const TOPIC: &str = "payments";
/// The email service's consumer group: its instances share the payments.
const EMAIL_GROUP: &str = "email";
/// How many instances of the email service run.
const EMAIL_INSTANCES: u32 = 2;
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
        /// Which instance of the service this is (the email service runs several).
        #[arg(long, default_value_t = 1)]
        instance: u32,
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
            instance,
            server,
            store,
        }) => match service {
            Service::Email => send_emails(instance, &server, &store).await,
            Service::Analytics | Service::Fraud => consume(service, &server, &store).await,
        }
        .map(|()| true),
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

/// Runs one email instance as a member of the email consumer group until stdin closes (the
/// payment service is done), then until the group has acknowledged the whole topic.
async fn send_emails(instance: u32, server: &str, store: &Path) -> Result<(), BoxError> {
    let db = sled::open(store.join(format!("email-{instance}.db")))?;
    let client = Client::connect_lazy(server)?;
    let options = GroupOptions::new(TOPIC, EMAIL_GROUP).max_in_flight(8);
    let consumer = GroupConsumer::open(client.clone(), &db, options)?;
    let outbox = store.join("outbox");
    std::fs::create_dir_all(&outbox)?;
    let handler = |event, _attempt| send_receipt(instance, outbox.clone(), event);
    consumer.run(stdin_closed(), handler).await?;
    let end = client.get_topic(TOPIC).await?.next_offset;
    let all_acknowledged = async {
        while client
            .get_group(TOPIC, EMAIL_GROUP)
            .await
            .is_ok_and(|group| group.ack_floor < end)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    consumer.run(all_acknowledged, handler).await?;
    Ok(())
}

/// Completes when stdin closes: the story runner's signal that publishing is over.
async fn stdin_closed() {
    let copied =
        tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()));
    // However the copy ended, stdin is gone.
    let _ = copied.await;
}

/// Sends the receipt of one payment. The email provider is outside any store: the group
/// delivers a payment again after a crash before its acknowledgement, possibly to the other
/// instance, so the receipt is keyed by event id and a second send replaces the first instead of
/// reaching the customer twice.
async fn send_receipt(instance: u32, outbox: PathBuf, event: pb::Event) -> Result<(), BoxError> {
    let payment: Payment = serde_json::from_slice(&event.payload)?;
    // Tells the story runner which payment is in progress (it picks one to crash in).
    println!("handling {} {}", event.offset, payment.payment_id);
    let receipt = format!(
        "To {}: we received your payment {} of {} cents.\n",
        payment.customer, payment.payment_id, payment.amount_cents
    );
    std::fs::write(outbox.join(format!("{}.txt", event.id)), receipt)?;
    append_line(
        &outbox.join("send-attempts.log"),
        &format!("email-{instance} {}", payment.payment_id),
    )?;
    // Talking to the provider takes a moment: the window a crash can land in.
    tokio::time::sleep(Duration::from_millis(3)).await;
    Ok(())
}

/// Runs `service` with a durable consumer until stdin closes (the payment service is done), then
/// handles what is left up to the end of the topic and exits.
async fn consume(service: Service, server: &str, store: &Path) -> Result<(), BoxError> {
    let db = sled::open(store.join(format!("{}.db", service.name())))?;
    let client = Client::connect_lazy(server)?;
    let consumer =
        DurableConsumer::open(client, &db, service.name(), SubscribeOptions::new(TOPIC))?;
    let mut handler = |event, state| handle(service, event, state);
    let publishing_over = stdin_closed();
    tokio::select! {
        // Following live events ends only by error; the run is cancel-safe, so dropping it when
        // stdin closes loses nothing.
        outcome = consumer.run(RunUntil::Forever, &mut handler) => { outcome?; }
        _ = publishing_over => {}
    }
    consumer.run(RunUntil::CaughtUp, &mut handler).await?;
    Ok(())
}

/// Handles one payment for analytics or fraud. Changes staged in `state` commit exactly once,
/// with the consumer's position.
async fn handle(service: Service, event: pb::Event, state: StagedState) -> Result<(), BoxError> {
    let payment: Payment = serde_json::from_slice(&event.payload)?;
    match service {
        Service::Email => return Err("the email service runs as a consumer group".into()),
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

/// One running consumer process: a service and, for email, which of its instances.
type Instance = (Service, u32);

/// The processes the story runs: one per service, and several for email.
fn instances() -> Vec<Instance> {
    let mut instances: Vec<Instance> = (1..=EMAIL_INSTANCES)
        .map(|number| (Service::Email, number))
        .collect();
    instances.extend([(Service::Analytics, 1), (Service::Fraud, 1)]);
    instances
}

/// Starts `instance` as a child process; its "handling" lines go to `progress`.
fn start_service(
    instance: Instance,
    server: &str,
    store: &Path,
    progress: mpsc::UnboundedSender<(Instance, usize)>,
) -> Result<ServiceProcess, BoxError> {
    let (service, number) = instance;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["consume", "--service", service.name(), "--server", server])
        .arg(format!("--instance={number}"))
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
                let _ = progress.send((instance, offset));
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
    for instance in instances() {
        let store = work.path().join(instance.0.name());
        std::fs::create_dir_all(&store)?;
        let process = start_service(instance, &url, &store, progress.clone())?;
        services.insert(instance, process);
    }
    println!(
        "services: analytics and fraud consume {TOPIC:?} with a durable consumer each; email runs {EMAIL_INSTANCES} instances sharing the work as consumer group {EMAIL_GROUP:?}"
    );

    let (published_tx, mut published) = tokio::sync::watch::channel(0usize);
    let publisher = tokio::spawn(publish_payments(client.clone(), payments, published_tx));
    println!("payment service: publishing {payments} PaymentCompleted events");

    // The crashes: email instance 1 while it handles the payment a third of the way in, the
    // server once two thirds of the payments are published.
    let crash_email_at = payments / 3;
    let crash_server_at = payments * 2 / 3;
    let (mut email_crashed, mut server_crashed) = (false, false);
    let crashes = async {
        while !(email_crashed && server_crashed) {
            tokio::select! {
                Some((instance, offset)) = handling.recv(), if !email_crashed => {
                    if instance == (Service::Email, 1) && offset >= crash_email_at {
                        let email = services.get_mut(&instance).ok_or("no email instance")?;
                        email.child.start_kill()?;
                        email.child.wait().await?;
                        println!("email-1: killed with SIGKILL while handling the payment at offset {offset}; restarting it (its unacknowledged payments go to the group again)");
                        let store = work.path().join(Service::Email.name());
                        *email = start_service(instance, &url, &store, progress.clone())?;
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
    for process in services.values_mut() {
        drop(process.stdin.take());
    }
    for ((service, number), process) in &mut services {
        let status = tokio::time::timeout(STEP_TIMEOUT, process.child.wait()).await??;
        if !status.success() {
            return Err(format!("{}-{number} failed: {status}", service.name()).into());
        }
    }
    verify(&client, work.path(), payments).await
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

/// Checks the email service's outbox and group against the payments published: one receipt
/// per payment, the group's work shared and all of it acknowledged.
async fn verify_email(client: &Client, work: &Path, payments: usize) -> Result<bool, BoxError> {
    let outbox = work.join("email").join("outbox");
    let receipts = std::fs::read_dir(&outbox)?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "txt"))
        .count();
    let attempts = std::fs::read_to_string(outbox.join("send-attempts.log"))?;
    let mut per_instance: BTreeMap<&str, usize> = BTreeMap::new();
    let mut paid: BTreeSet<&str> = BTreeSet::new();
    for line in attempts.lines() {
        let (instance, payment) = line.split_once(' ').ok_or("a malformed attempt line")?;
        *per_instance.entry(instance).or_default() += 1;
        paid.insert(payment);
    }
    let group = client.get_group(TOPIC, EMAIL_GROUP).await?;
    let shared = per_instance.len() == EMAIL_INSTANCES as usize;
    let ok = receipts == payments && paid.len() == payments && shared && group.lag == 0;
    let shares: Vec<String> = per_instance
        .iter()
        .map(|(instance, sends)| format!("{instance} sent {sends}"))
        .collect();
    println!(
        "  {:<9} {}: {receipts}/{payments} payments receipted exactly once; {} ({} send attempts: a crash between sending and acknowledging re-sends, and the receipt is keyed by event id); group lag {}",
        "email",
        if ok { "ok" } else { "WRONG" },
        shares.join(", "),
        attempts.lines().count(),
        group.lag
    );
    Ok(ok)
}

/// Reads every service's committed state and checks it against the payments published.
async fn verify(client: &Client, work: &Path, payments: usize) -> Result<bool, BoxError> {
    let expected: Vec<Payment> = (0..payments).map(Payment::numbered).collect();
    println!("results:");
    let mut all_exactly_once = verify_email(client, work, payments).await?;
    for service in [Service::Analytics, Service::Fraud] {
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
            Service::Email => return Err("the email service is checked by verify_email".into()),
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
