//! Event-sourced bank account, the showcase for event sourcing: deposits and withdrawals are
//! events keyed by account id in the `ledger` topic.
//!
//! - Concurrent tellers withdraw from one account. Each decides on the balance it replayed and
//!   publishes expecting the account's version it read, so a withdrawal decided on a stale
//!   balance is refused and decided again: no account is ever overdrawn.
//! - An account's balance is rebuilt from the key index (`key` filter, `stop_at_end`), then kept
//!   current by following live events from where the replay ended, across a server crash.
//! - A projector turns every ledger event into a `BalanceChanged` event on the `balances` topic,
//!   moving its cursor in the same atomic publish. The projector is killed and restarted, the
//!   server is killed with SIGKILL, and still every ledger event is projected exactly once.
//! - A deposit whose reply is lost on the network is retried after a timeout and counts once.
//!
//! See README.md beside this file.

#[path = "../support/server.rs"]
mod server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use eventstream::client::fault::LoseReplies;
use eventstream::client::{
    BoxError, Client, ClientError, RetryPolicy, StartAt, SubscribeOptions, Subscription, event,
};
use eventstream::pb;
use eventstream::pb::precondition::Expected;
use serde::{Deserialize, Serialize};
use server::{ServerProcess, locate_binary};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const LEDGER: &str = "ledger";
const BALANCES: &str = "balances";
/// The projector's cursor, stored with `balances`: the next ledger offset to project.
const PROJECTOR: &str = "balance-projector";
const ACCOUNTS: [&str; 3] = ["acc-1", "acc-2", "acc-3"];
/// The account the tellers withdraw from, and whose balance the example rebuilds and follows.
const FOLLOWED: &str = "acc-1";
/// How many withdrawals each teller attempts.
const WITHDRAWALS_EACH: usize = 10;
/// Ledger events per projector publish: small, so that the crashes find the projector mid-run.
const PROJECTOR_BATCH: usize = 10;
/// How long the clerk waits for a reply before retrying.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);
/// The longest any single step of the story may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Parser)]
#[command(
    about = "An event-sourced bank account: tellers without overdraft, projections that survive kill -9"
)]
struct Args {
    /// How many transactions the history holds before the tellers start (at least 3: the
    /// projector and the server are killed a third and two thirds of the way through it).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(3..))]
    transactions: u64,

    /// How many tellers withdraw from the same account at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    tellers: u64,

    /// The eventstream server binary (default: EVENTSTREAM_BIN, or the one cargo built).
    #[arg(long)]
    eventstream_bin: Option<PathBuf>,
}

/// The payload of `Deposited` and `Withdrawn` events.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Transaction {
    transaction_id: String,
    amount_cents: i64,
}

/// A transaction as it is booked: which account, which kind, how much.
struct Entry {
    account: &'static str,
    deposit: bool,
    transaction: Transaction,
}

impl Entry {
    /// The `n`th transaction of the history (deterministic, so balances are known in advance).
    /// Every fourth transaction of an account is a withdrawal, never its first, and deposits are
    /// larger than any withdrawal, so the history itself never overdraws.
    fn numbered(n: u64) -> Self {
        if n % 4 == 3 {
            Self::numbered_as(n, false, 1_000 + (n as i64 * 53) % 1_000)
        } else {
            Self::deposit(n)
        }
    }

    /// The `n`th transaction as a deposit.
    fn deposit(n: u64) -> Self {
        Self::numbered_as(n, true, 2_000 + (n as i64 * 53) % 5_000)
    }

    fn numbered_as(n: u64, deposit: bool, amount_cents: i64) -> Self {
        Entry {
            account: ACCOUNTS[n as usize % ACCOUNTS.len()],
            deposit,
            transaction: Transaction {
                transaction_id: format!("tx-{n:05}"),
                amount_cents,
            },
        }
    }

    /// The event; the transaction id is the idempotency key, so no retry can book it twice.
    fn to_event(&self) -> Result<pb::EventData, BoxError> {
        let event_type = if self.deposit {
            "Deposited"
        } else {
            "Withdrawn"
        };
        Ok(pb::EventData {
            key: self.account.to_string(),
            idempotency_key: self.transaction.transaction_id.clone(),
            content_type: "application/json".to_string(),
            ..event(event_type, serde_json::to_vec(&self.transaction)?)
        })
    }

    fn signed_amount(&self) -> i64 {
        if self.deposit {
            self.transaction.amount_cents
        } else {
            -self.transaction.amount_cents
        }
    }
}

/// A ledger event's transaction and its effect on the account's balance.
fn booking(event: &pb::Event) -> Result<(Transaction, i64), BoxError> {
    let transaction: Transaction = serde_json::from_slice(&event.payload)?;
    let signed = match event.r#type.as_str() {
        "Deposited" => transaction.amount_cents,
        "Withdrawn" => -transaction.amount_cents,
        other => {
            return Err(format!("unknown event type {other:?} at offset {}", event.offset).into());
        }
    };
    Ok((transaction, signed))
}

/// An account rebuilt from its events.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Account {
    balance_cents: i64,
    /// The key version of the account's latest event; `None` while it has none.
    version: Option<u64>,
    /// Every transaction id applied, in order: a doubled deposit would show here.
    transactions: Vec<String>,
}

impl Account {
    /// Applies one event of the account.
    fn apply(&mut self, event: &pb::Event) -> Result<(), BoxError> {
        let (transaction, signed) = booking(event)?;
        self.balance_cents += signed;
        self.version = event.key_version;
        self.transactions.push(transaction.transaction_id);
        Ok(())
    }

    /// Rebuilds `account` from its events, read through the key index; returns it and the
    /// offset to follow on from.
    async fn replay(client: &Client, account: &str) -> Result<(Self, u64), BoxError> {
        let options = SubscribeOptions::new(LEDGER).key(account).stop_at_end(true);
        let mut events = client.subscribe(options);
        let mut rebuilt = Account::default();
        while let Some(event) = events.next().await? {
            rebuilt.apply(&event)?;
        }
        Ok((rebuilt, events.position().unwrap_or(0)))
    }

    /// What a publish appending to this account must expect so that it lands right after the
    /// events this account was rebuilt from.
    fn expected_version(&self) -> pb::Precondition {
        let expected = match self.version {
            Some(version) => Expected::Equals(version),
            None => Expected::Absent(true),
        };
        pb::Precondition {
            expected: Some(expected),
        }
    }
}

/// The whole ledger folded in offset order, one event at a time: what a serial bank computes.
#[derive(Debug, Default)]
struct SerialBooks {
    balances: BTreeMap<String, i64>,
    /// The lowest balance any account ever had.
    lowest_cents: i64,
    transactions: Vec<String>,
    /// The ledger's next offset.
    end: u64,
}

impl SerialBooks {
    async fn replay(client: &Client) -> Result<Self, BoxError> {
        let mut events = client.subscribe(SubscribeOptions::new(LEDGER).stop_at_end(true));
        let mut books = SerialBooks::default();
        while let Some(event) = events.next().await? {
            let (transaction, signed) = booking(&event)?;
            let balance = books.balances.entry(event.key.clone()).or_default();
            *balance += signed;
            books.lowest_cents = books.lowest_cents.min(*balance);
            books.transactions.push(transaction.transaction_id);
        }
        books.end = events.position().unwrap_or(0);
        Ok(books)
    }
}

/// What one teller did.
#[derive(Debug, Default)]
struct TellerReport {
    accepted: usize,
    /// Withdrawals the balance did not cover.
    declined: usize,
    /// Publishes refused because another teller booked on the account since the replay.
    conflicts: usize,
    /// Withdrawals whose reply the server crash swallowed: the client's retry found them
    /// appended and reported duplicates instead of a conflict.
    recovered: usize,
}

/// One teller: withdraws `amount_cents` from the followed account [`WITHDRAWALS_EACH`] times,
/// each time only if the balance covers it.
async fn teller(
    client: Client,
    teller: u64,
    amount_cents: i64,
    decided: Arc<AtomicUsize>,
) -> Result<TellerReport, BoxError> {
    let mut report = TellerReport::default();
    for n in 0..WITHDRAWALS_EACH {
        let withdrawal = Entry {
            account: FOLLOWED,
            deposit: false,
            transaction: Transaction {
                transaction_id: format!("teller-{teller}-{n:02}"),
                amount_cents,
            },
        };
        loop {
            let (account, _) = Account::replay(&client, FOLLOWED).await?;
            if account.balance_cents < amount_cents {
                report.declined += 1;
                break;
            }
            // The balance read is only good while nothing else is booked on the account: the
            // withdrawal goes in only if the account's version is still the one read.
            let request = pb::PublishRequest {
                topic: LEDGER.to_string(),
                events: vec![pb::EventData {
                    expected_key_version: Some(account.expected_version()),
                    ..withdrawal.to_event()?
                }],
                ..Default::default()
            };
            match client.publish_request(request).await {
                Ok(published) => {
                    report.accepted += 1;
                    if published.iter().any(|result| result.duplicate) {
                        report.recovered += 1;
                    }
                    break;
                }
                Err(ClientError::Conflict { reason, .. }) if reason == "KEY_VERSION_MISMATCH" => {
                    report.conflicts += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
        decided.fetch_add(1, Ordering::Relaxed);
    }
    Ok(report)
}

/// The payload of `BalanceChanged` events.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BalanceChanged {
    account: String,
    balance_cents: i64,
    /// The ledger event that changed the balance.
    source_offset: u64,
}

/// The balance projector: reads the ledger from its cursor and publishes a `BalanceChanged`
/// per ledger event to `balances`, moving the cursor in the same publish.
struct Projector {
    client: Client,
    /// The cursor as this instance last saw or moved it; `None` if it was never set.
    cursor: Option<u64>,
    balances: BTreeMap<String, i64>,
}

impl Projector {
    /// Picks up where the last write of any earlier instance left off: the cursor, and the
    /// balances the output up to it holds.
    async fn load(client: Client) -> Result<Self, BoxError> {
        // GetCursor answers once the cursor and the output written with it are readable.
        let Some(position) = client.get_cursor(BALANCES, PROJECTOR).await? else {
            println!("projector: no cursor yet (GetCursor: NOT_FOUND): projecting from offset 0");
            return Ok(Self {
                client,
                cursor: None,
                balances: BTreeMap::new(),
            });
        };
        let mut output = client.subscribe(SubscribeOptions::new(BALANCES).stop_at_end(true));
        let mut balances = BTreeMap::new();
        let (mut outputs, mut covered) = (0, 0);
        while let Some(event) = output.next().await? {
            let changed: BalanceChanged = serde_json::from_slice(&event.payload)?;
            if changed.source_offset >= position {
                // A write the killed instance had in flight landed after GetCursor answered. It
                // moved the cursor too, so this instance's first publish is fenced off and
                // reloads; the state loaded here stays the one the cursor it read describes.
                println!(
                    "projector: output beyond the cursor: an earlier instance's last write \
                     landed after GetCursor; the next publish will be fenced off"
                );
                break;
            }
            covered = changed.source_offset + 1;
            balances.insert(changed.account, changed.balance_cents);
            outputs += 1;
        }
        if covered != position {
            return Err(format!(
                "WRONG: GetCursor says {position}, but the output ends at ledger offset {covered}"
            )
            .into());
        }
        println!(
            "projector: resumes at ledger offset {position} (GetCursor); balances of {} accounts \
             rebuilt from {outputs} BalanceChanged events",
            balances.len()
        );
        Ok(Self {
            client,
            cursor: Some(position),
            balances,
        })
    }

    /// Projects the ledger from the cursor on, following live events and reporting the cursor
    /// to `progress` after each publish. Returns when another instance moved the cursor: this
    /// one's state is stale then.
    async fn run(&mut self, progress: &watch::Sender<u64>) -> Result<(), BoxError> {
        let start = StartAt::Offset(self.cursor.unwrap_or(0));
        let mut ledger = self
            .client
            .subscribe(SubscribeOptions::new(LEDGER).start(start));
        while let Some(batch) = ledger.next_batch().await? {
            for inputs in batch.events.chunks(PROJECTOR_BATCH) {
                if !self.project(inputs).await? {
                    return Ok(());
                }
                progress.send_replace(self.cursor.unwrap_or(0));
            }
        }
        Err("the live ledger subscription ended".into())
    }

    /// Publishes the `BalanceChanged` events of `inputs` and moves the cursor past them, in one
    /// atomic write; false if another instance moved the cursor first (nothing was written).
    async fn project(&mut self, inputs: &[pb::Event]) -> Result<bool, BoxError> {
        let Some(last) = inputs.last() else {
            return Ok(true);
        };
        let mut balances = self.balances.clone();
        let mut events = Vec::with_capacity(inputs.len());
        for input in inputs {
            let (_, signed) = booking(input)?;
            let balance = balances.entry(input.key.clone()).or_default();
            *balance += signed;
            let changed = BalanceChanged {
                account: input.key.clone(),
                balance_cents: *balance,
                source_offset: input.offset,
            };
            // No idempotency keys of our own: the client's random ones only make retries of
            // this very request safe, so that exactly-once output rests on the cursor alone.
            events.push(pb::EventData {
                key: input.key.clone(),
                content_type: "application/json".to_string(),
                ..event("BalanceChanged", serde_json::to_vec(&changed)?)
            });
        }
        let expected = match self.cursor {
            Some(position) => Expected::Equals(position),
            None => Expected::Absent(true),
        };
        let request = pb::PublishRequest {
            topic: BALANCES.to_string(),
            events,
            cursor: Some(pb::CursorUpdate {
                name: PROJECTOR.to_string(),
                position: last.offset + 1,
                expected_position: Some(pb::Precondition {
                    expected: Some(expected),
                }),
            }),
            ..Default::default()
        };
        match self.client.publish_request(request).await {
            Ok(_) => {
                self.balances = balances;
                self.cursor = Some(last.offset + 1);
                Ok(true)
            }
            Err(ClientError::Conflict {
                reason, current, ..
            }) if reason == "CURSOR_MISMATCH" => {
                println!(
                    "projector: fenced off: the cursor is at {}, not {}, moved by an earlier \
                     instance's last write; reloading",
                    current.get("position").map_or("?", String::as_str),
                    or_none(self.cursor)
                );
                Ok(false)
            }
            Err(error) => Err(error.into()),
        }
    }
}

/// One projector instance: loads its state, projects, and reloads whenever it finds itself
/// fenced off. Runs until killed.
async fn project(client: Client, progress: watch::Sender<u64>) -> Result<(), BoxError> {
    loop {
        Projector::load(client.clone())
            .await?
            .run(&progress)
            .await?;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match locate_binary(args.eventstream_bin) {
        Ok(binary) => run_story(args.transactions, args.tellers, &binary).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("bank-account: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the story; returns whether every invariant held.
async fn run_story(history: u64, tellers: u64, binary: &Path) -> Result<bool, BoxError> {
    let work = tempfile::tempdir()?;
    let mut server = ServerProcess::start(binary, &work.path().join("server")).await?;
    println!("server: listening at {}", server.url());

    // The clerk's network can lose replies; its client times out and retries with the same
    // idempotency keys.
    let network = LoseReplies::default();
    let clerk = Client::builder(&server.url())
        .layer(network.clone())
        .publish_retry(RetryPolicy {
            attempt_timeout: ATTEMPT_TIMEOUT,
            ..RetryPolicy::PUBLISH
        })
        .connect_lazy()?;
    let client = Client::connect_lazy(&server.url())?;

    // What the bank booked, per account: checked at the end against the ledger.
    let mut books: BTreeMap<String, i64> = BTreeMap::new();
    let entries: Vec<Entry> = (0..history).map(Entry::numbered).collect();
    for chunk in entries.chunks(100) {
        let events = chunk
            .iter()
            .map(Entry::to_event)
            .collect::<Result<_, _>>()?;
        clerk.publish(LEDGER, events).await?;
    }
    for entry in &entries {
        *books.entry(entry.account.to_string()).or_default() += entry.signed_amount();
    }
    println!(
        "clerk: booked {history} transactions on {}",
        ACCOUNTS.join(", ")
    );

    // 1. Rebuild the account from the key index, then keep it current live from there.
    let (account, position) = Account::replay(&client, FOLLOWED).await?;
    println!(
        "{FOLLOWED}: rebuilt from the key index: {} events (stop_at_end), balance {} at version \
         {}; following live from offset {position}",
        account.transactions.len(),
        money(account.balance_cents),
        or_none(account.version)
    );
    let live = client.subscribe(
        SubscribeOptions::new(LEDGER)
            .key(FOLLOWED)
            .start(StartAt::Offset(position)),
    );
    let (followed_tx, mut followed) = watch::channel(account.clone());
    let mut follower = tokio::spawn(follow(live, followed_tx));

    // 2. The projector starts on the history while the tellers go to work.
    let (progress_tx, mut progress) = watch::channel(0);
    let mut projector = tokio::spawn(project(client.clone(), progress_tx.clone()));

    // Together the tellers try to withdraw half as much again as the account holds, so some
    // withdrawals must be declined.
    let attempts = tellers as usize * WITHDRAWALS_EACH;
    let amount_cents = (account.balance_cents * 3 / (2 * attempts as i64)).max(1);
    println!(
        "tellers: {tellers} tellers withdraw {} from {FOLLOWED} {WITHDRAWALS_EACH} times each, \
         each time only if the balance they replayed covers it, expecting the version they read",
        money(amount_cents)
    );
    let decided = Arc::new(AtomicUsize::new(0));
    let teller_tasks: Vec<_> = (1..=tellers)
        .map(|n| tokio::spawn(teller(client.clone(), n, amount_cents, decided.clone())))
        .collect();

    // 3. A third of the way through the history the projector dies (its in-memory balances
    // with it); a new instance takes over from the cursor.
    wait_until(
        &mut progress,
        |&p| p >= history / 3,
        &mut projector,
        "the projector",
    )
    .await?;
    kill(projector).await?;
    println!(
        "projector: killed at cursor {}; a new instance starts",
        *progress.borrow()
    );
    projector = tokio::spawn(project(client.clone(), progress_tx));

    // 4. Two thirds of the way through, the server dies under everyone.
    wait_until(
        &mut progress,
        |&p| p >= 2 * history / 3,
        &mut projector,
        "the projector",
    )
    .await?;
    let at_crash = *progress.borrow();
    server.crash_and_restart(Duration::from_millis(300)).await?;
    println!(
        "server: killed with SIGKILL with the projector at cursor {at_crash} and {} of {attempts} \
         withdrawals decided; restarted, every client resumes where it was",
        decided.load(Ordering::Relaxed)
    );

    // 5. Deposits keep arriving; one deposit's reply is lost. Deposits need no expected
    // version: they cannot overdraw, whatever else is booked at the same time.
    for n in history..history + 6 {
        let entry = Entry::deposit(n);
        let lose_reply = entry.account == FOLLOWED && network.lost() == 0;
        if lose_reply {
            network.lose_next(1);
        }
        let published = clerk.publish(LEDGER, vec![entry.to_event()?]).await?;
        let result = published.first().ok_or("no publish result")?;
        *books.entry(entry.account.to_string()).or_default() += entry.signed_amount();
        if lose_reply {
            println!(
                "clerk: deposit {} of {}: the reply was lost, the client retried after \
                 {ATTEMPT_TIMEOUT:?} with the same idempotency key and got the original result \
                 back (offset {}, duplicate = {})",
                entry.transaction.transaction_id,
                money(entry.transaction.amount_cents),
                result.offset,
                result.duplicate
            );
        }
    }

    let mut report = TellerReport::default();
    for task in teller_tasks {
        let done = tokio::time::timeout(STEP_TIMEOUT, task)
            .await
            .map_err(|_| "a teller did not finish in time")???;
        report.accepted += done.accepted;
        report.declined += done.declined;
        report.conflicts += done.conflicts;
        report.recovered += done.recovered;
    }
    *books.entry(FOLLOWED.to_string()).or_default() -= report.accepted as i64 * amount_cents;
    println!(
        "tellers: {attempts} withdrawals: {} accepted, {} declined (the balance did not cover \
         them), {} conflicts retried (another teller booked first: re-read, decided again)",
        report.accepted, report.declined, report.conflicts
    );
    if report.recovered > 0 {
        println!(
            "tellers: the crash swallowed the reply to {} withdrawal(s); the client's retry found \
             them appended and reported duplicates, not conflicts",
            report.recovered
        );
    }

    // 6. Everything is booked: the projector and the follower catch up with the ledger.
    let ledger = SerialBooks::replay(&client).await?;
    wait_until(
        &mut progress,
        |&p| p >= ledger.end,
        &mut projector,
        "the projector",
    )
    .await?;
    kill(projector).await?;
    println!(
        "projector: caught up with the ledger at offset {}",
        ledger.end
    );

    let (replayed, _) = Account::replay(&client, FOLLOWED).await?;
    wait_until(
        &mut followed,
        |live| live.version >= replayed.version,
        &mut follower,
        "the live follower",
    )
    .await?;
    let live_account = followed.borrow().clone();
    kill(follower).await?;
    println!(
        "{FOLLOWED}: live balance {}",
        money(live_account.balance_cents)
    );

    let mut output = client.subscribe(SubscribeOptions::new(BALANCES).stop_at_end(true));
    let mut projected = BTreeMap::new();
    let mut sources = Vec::new();
    while let Some(event) = output.next().await? {
        let changed: BalanceChanged = serde_json::from_slice(&event.payload)?;
        sources.push(changed.source_offset);
        projected.insert(changed.account, changed.balance_cents);
    }
    let cursor = client.get_cursor(BALANCES, PROJECTOR).await?;

    let mut unique = ledger.transactions.clone();
    unique.sort();
    unique.dedup();
    let versions: Vec<Option<u64>> = (0..replayed.transactions.len() as u64).map(Some).collect();
    let checks = [
        ("no account ever went below zero", ledger.lowest_cents >= 0),
        (
            "every balance is its deposits minus its accepted withdrawals",
            ledger.balances == books,
        ),
        (
            "the account's key versions count its events without a gap",
            key_versions(&client, FOLLOWED).await? == versions,
        ),
        (
            "the live balance matches the books",
            Some(&live_account.balance_cents) == books.get(FOLLOWED),
        ),
        (
            "a fresh replay gives the same account",
            replayed == live_account,
        ),
        (
            "no transaction was booked twice",
            unique.len() == ledger.transactions.len(),
        ),
        ("a reply was really lost and retried", network.lost() == 1),
        (
            "balances holds exactly one BalanceChanged per ledger event, in order",
            sources == (0..ledger.end).collect::<Vec<_>>(),
        ),
        (
            "the projected balances match a serial computation of the ledger",
            projected == ledger.balances,
        ),
        (
            "the projector's cursor is at the end of the ledger",
            cursor == Some(ledger.end),
        ),
    ];
    for (check, passed) in checks {
        println!("  {} {check}", if passed { "ok" } else { "WRONG:" });
    }
    let all_passed = checks.iter().all(|(_, passed)| *passed);
    if all_passed {
        println!(
            "{FOLLOWED}: balance {} — never overdrawn, every transaction counted once, every \
             ledger event projected once",
            money(live_account.balance_cents)
        );
    }
    Ok(all_passed)
}

/// The key versions of `account`'s events, in order.
async fn key_versions(client: &Client, account: &str) -> Result<Vec<Option<u64>>, BoxError> {
    let options = SubscribeOptions::new(LEDGER).key(account).stop_at_end(true);
    let mut events = client.subscribe(options);
    let mut versions = Vec::new();
    while let Some(event) = events.next().await? {
        versions.push(event.key_version);
    }
    Ok(versions)
}

/// Applies live events to the account and publishes it after each response.
async fn follow(mut live: Subscription, followed: watch::Sender<Account>) -> Result<(), BoxError> {
    let mut account = followed.borrow().clone();
    while let Some(batch) = live.next_batch().await? {
        for event in &batch.events {
            account.apply(event)?;
            // Withdrawals are the tellers', who sum them up themselves.
            if event.r#type == "Deposited" {
                println!(
                    "{FOLLOWED}: live Deposited at offset {}: balance {}",
                    event.offset,
                    money(account.balance_cents)
                );
            }
        }
        followed.send_replace(account.clone());
    }
    Ok(())
}

/// Waits until `watched` satisfies `done`; fails if `task`, which runs until killed, ends first,
/// or if the step takes too long.
async fn wait_until<T>(
    watched: &mut watch::Receiver<T>,
    mut done: impl FnMut(&T) -> bool,
    task: &mut JoinHandle<Result<(), BoxError>>,
    what: &str,
) -> Result<(), BoxError> {
    let waiting = async {
        // The task first: once it has ended, its error says more than the closed channel.
        tokio::select! {
            biased;
            ended = task => Err(format!("{what} stopped: {:?}", ended?).into()),
            reached = watched.wait_for(|value| done(value)) => {
                reached?;
                Ok::<_, BoxError>(())
            }
        }
    };
    tokio::time::timeout(STEP_TIMEOUT, waiting)
        .await
        .map_err(|_| format!("{what} did not get there in time"))?
}

/// Kills `task` where it stands, like a crash of the service it plays, and waits until it is
/// gone; reports its error if it had failed before.
async fn kill(task: JoinHandle<Result<(), BoxError>>) -> Result<(), BoxError> {
    task.abort();
    match task.await {
        Err(error) if error.is_cancelled() => Ok(()),
        Err(error) => Err(error.into()),
        Ok(outcome) => outcome,
    }
}

fn or_none(value: Option<u64>) -> String {
    value.map_or_else(|| "none".to_string(), |value| value.to_string())
}

fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}
