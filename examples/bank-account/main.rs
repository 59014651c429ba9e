//! Event-sourced bank account: deposits and withdrawals are events keyed by account id; an
//! account's balance is rebuilt by replaying its events (`key` filter, `stop_at_end`), then kept
//! current by following live events from where the replay ended, across a server crash. A
//! deposit whose reply is lost on the network is retried after a timeout and still counts once.
//! See README.md beside this file.

#[path = "../support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use eventstream::client::fault::LoseReplies;
use eventstream::client::{
    BoxError, Client, RetryPolicy, StartAt, SubscribeOptions, Subscription, event,
};
use eventstream::pb;
use serde::{Deserialize, Serialize};
use server::{ServerProcess, locate_binary};
use tokio::sync::watch;

const TOPIC: &str = "ledger";
const ACCOUNTS: [&str; 3] = ["acc-1", "acc-2", "acc-3"];
/// The account whose balance the example rebuilds and follows.
const FOLLOWED: &str = "acc-1";
/// How long the teller waits for a reply before retrying.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);
/// The longest any single step of the story may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Parser)]
#[command(about = "An event-sourced bank account: replay, follow live, retry without doubling")]
struct Args {
    /// How many transactions the history holds before the replay.
    #[arg(long, default_value_t = 300)]
    transactions: usize,

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

/// A transaction as the teller records it: which account, which kind, how much.
struct Entry {
    account: &'static str,
    deposit: bool,
    transaction: Transaction,
}

impl Entry {
    /// The `n`th transaction of the history (deterministic, so balances are known in advance).
    fn numbered(n: usize) -> Self {
        let deposit = n % 4 != 3;
        let spread = if deposit { 5_000 } else { 3_000 };
        Entry {
            account: ACCOUNTS[n % ACCOUNTS.len()],
            deposit,
            transaction: Transaction {
                transaction_id: format!("tx-{n:05}"),
                amount_cents: 1_000 + (n as i64 * 53) % spread,
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

/// An account rebuilt from its events.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Account {
    balance_cents: i64,
    /// Every transaction id applied, in order: a doubled deposit would show here.
    transactions: Vec<String>,
}

impl Account {
    /// Applies one event of the account.
    fn apply(&mut self, event: &pb::Event) -> Result<(), BoxError> {
        let transaction: Transaction = serde_json::from_slice(&event.payload)?;
        match event.r#type.as_str() {
            "Deposited" => self.balance_cents += transaction.amount_cents,
            "Withdrawn" => self.balance_cents -= transaction.amount_cents,
            other => return Err(format!("unknown event type {other:?}").into()),
        }
        self.transactions.push(transaction.transaction_id);
        Ok(())
    }

    /// Rebuilds `account` from all its events; returns it and the offset to follow on from.
    async fn replay(client: &Client, account: &str) -> Result<(Self, u64), BoxError> {
        let options = SubscribeOptions::new(TOPIC).key(account).stop_at_end(true);
        let mut events = client.subscribe(options);
        let mut rebuilt = Account::default();
        while let Some(event) = events.next().await? {
            rebuilt.apply(&event)?;
        }
        Ok((rebuilt, events.position().unwrap_or(0)))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match locate_binary(args.eventstream_bin) {
        Ok(binary) => run_story(args.transactions, &binary).await,
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

/// Runs the story; returns whether the balances came out right.
async fn run_story(history: usize, binary: &Path) -> Result<bool, BoxError> {
    let work = tempfile::tempdir()?;
    let mut server = ServerProcess::start(binary, &work.path().join("server")).await?;
    println!("server: listening at {}", server.url());

    // The teller's network can lose replies; its client times out and retries with the same
    // idempotency keys.
    let network = LoseReplies::default();
    let teller = Client::builder(&server.url())
        .layer(network.clone())
        .publish_retry(RetryPolicy {
            attempt_timeout: ATTEMPT_TIMEOUT,
            ..RetryPolicy::PUBLISH
        })
        .connect_lazy()?;
    let reader = Client::connect_lazy(&server.url())?;

    let mut expected = 0;
    let entries: Vec<Entry> = (0..history).map(Entry::numbered).collect();
    for chunk in entries.chunks(100) {
        let events = chunk
            .iter()
            .map(Entry::to_event)
            .collect::<Result<_, _>>()?;
        teller.publish(TOPIC, events).await?;
    }
    for entry in entries.iter().filter(|entry| entry.account == FOLLOWED) {
        expected += entry.signed_amount();
    }
    println!(
        "teller: booked {history} transactions on {}",
        ACCOUNTS.join(", ")
    );

    // 1. Rebuild the account from its history.
    let (account, position) = Account::replay(&reader, FOLLOWED).await?;
    println!(
        "{FOLLOWED}: replayed {} events (key filter, stop_at_end): balance {}",
        account.transactions.len(),
        money(account.balance_cents)
    );

    // 2. Keep it current: follow live events from where the replay ended.
    let live = reader.subscribe(
        SubscribeOptions::new(TOPIC)
            .key(FOLLOWED)
            .start(StartAt::Offset(position)),
    );
    let (followed_tx, mut followed) = watch::channel((account, position));
    let mut follower = tokio::spawn(follow(live, followed_tx));

    // 3. New transactions arrive; one deposit's reply is lost, and the server crashes midway.
    let mut last_offset = position;
    for n in history..history + 6 {
        if n == history + 3 {
            server.crash_and_restart(Duration::from_millis(300)).await?;
            println!(
                "server: killed with SIGKILL and restarted; the live follower resumes where it was"
            );
        }
        let entry = Entry::numbered(n);
        let lose_reply = entry.account == FOLLOWED && entry.deposit && network.lost() == 0;
        if lose_reply {
            network.lose_next(1);
        }
        let published = teller.publish(TOPIC, vec![entry.to_event()?]).await?;
        let result = published.first().ok_or("no publish result")?;
        if entry.account == FOLLOWED {
            expected += entry.signed_amount();
            last_offset = result.offset + 1;
        }
        if lose_reply {
            println!(
                "teller: deposit {} of {}: the reply was lost, the client retried after {ATTEMPT_TIMEOUT:?} \
                 with the same idempotency key and got the original result back (offset {}, duplicate = {})",
                entry.transaction.transaction_id,
                money(entry.transaction.amount_cents),
                result.offset,
                result.duplicate
            );
        }
    }

    // 4. The live balance catches up with everything booked.
    let caught_up = async {
        tokio::select! {
            changed = followed.wait_for(|(_, position)| *position >= last_offset) => {
                Ok::<_, BoxError>(changed?.0.clone())
            }
            ended = &mut follower => Err(format!("the live follower stopped: {:?}", ended?).into()),
        }
    };
    let live_account = tokio::time::timeout(STEP_TIMEOUT, caught_up)
        .await
        .map_err(|_| "the live follower did not catch up in time")??;
    follower.abort();
    println!(
        "{FOLLOWED}: live balance {}",
        money(live_account.balance_cents)
    );

    let (replayed, _) = Account::replay(&reader, FOLLOWED).await?;
    let mut unique = replayed.transactions.clone();
    unique.sort();
    unique.dedup();
    let checks = [
        (
            "the live balance matches the books",
            live_account.balance_cents == expected,
        ),
        (
            "a fresh replay gives the same account",
            replayed == live_account,
        ),
        (
            "no transaction was booked twice",
            unique.len() == replayed.transactions.len(),
        ),
        ("a reply was really lost and retried", network.lost() == 1),
    ];
    for (check, passed) in checks {
        println!("  {} {check}", if passed { "ok" } else { "WRONG:" });
    }
    let all_passed = checks.iter().all(|(_, passed)| *passed);
    if all_passed {
        println!(
            "{FOLLOWED}: balance {} — every transaction counted exactly once",
            money(expected)
        );
    }
    Ok(all_passed)
}

/// Applies live events to the account and publishes it with its position after each response.
async fn follow(
    mut live: Subscription,
    followed: watch::Sender<(Account, u64)>,
) -> Result<(), BoxError> {
    let mut account = followed.borrow().0.clone();
    while let Some(batch) = live.next_batch().await? {
        for event in &batch.events {
            account.apply(event)?;
            println!(
                "{FOLLOWED}: live {} at offset {}: balance {}",
                event.r#type,
                event.offset,
                money(account.balance_cents)
            );
        }
        followed.send_replace((account.clone(), batch.next_offset));
    }
    Ok(())
}

fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}
