//! Organization mode's flow with in-memory accounts: which job handles which event, what is
//! assumed once, and how an account that cannot be reached is told.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{json, Value};

use super::ports::{Opened, Spokes};
use super::*;
use crate::aws::CallLog;
use crate::notify::Notification;
use crate::ports::{Calls, Publish};

const TOPIC: &str = "arn:aws:sns:eu-west-1:999999999999:chat";
const PROD: &str = "111111111111";
const DEV: &str = "222222222222";
const LOST: &str = "333333333333";

/// Member accounts in memory: some with an alias, some whose role cannot be assumed.
#[derive(Default)]
struct FakeOrg {
    calls: CallLog,
    aliases: BTreeMap<String, String>,
    unreachable: Mutex<BTreeMap<String, String>>,
    tags: Mutex<BTreeMap<String, String>>,
    published: Mutex<Vec<Notification>>,
}

impl FakeOrg {
    fn new() -> Self {
        let org = FakeOrg {
            aliases: [(PROD.to_string(), "shop-prod".to_string())].into(),
            ..FakeOrg::default()
        };
        org.unreachable
            .lock()
            .unwrap()
            .insert(LOST.into(), "AccessDenied".into());
        org
    }

    fn published(&self) -> Vec<Notification> {
        self.published.lock().unwrap().clone()
    }

    fn assumed(&self) -> usize {
        self.calls
            .snapshot()
            .iter()
            .filter(|c| *c == "STS.AssumeRole")
            .count()
    }
}

impl Calls for FakeOrg {
    fn calls(&self) -> &CallLog {
        &self.calls
    }
}

impl Publish for FakeOrg {
    async fn publish(&self, _topic: &str, n: &Notification) -> crate::error::Result<String> {
        self.calls.record("SNS.Publish".into());
        self.published.lock().unwrap().push(n.clone());
        Ok("m-1".into())
    }
}

impl Spokes for FakeOrg {
    /// A job here is built on the account's id.
    type Ports = String;
    /// The account whose role was assumed.
    type Session = String;

    async fn open(
        &self,
        account: &str,
        role_arn: &str,
    ) -> crate::error::Result<Opened<String, String>> {
        assert_eq!(
            role_arn,
            format!("arn:aws:iam::{account}:role/autopilot-echo")
        );
        self.calls.record("STS.AssumeRole".into());
        if let Some(code) = self.unreachable.lock().unwrap().get(account) {
            return Ok(Opened::Unreachable {
                code: code.clone(),
                message: format!("AWS AssumeRole failed: {code}: not authorized"),
            });
        }
        self.calls.record("IAM.ListAccountAliases".into());
        Ok(Opened::Ready(
            account.to_string(),
            Account::new(account, self.aliases.get(account).cloned()),
            account.to_string(),
        ))
    }

    /// The credentials last no time here: every renewal asks again whether the role is there.
    async fn renew(&self, account: &String) -> crate::error::Result<Option<(String, String)>> {
        Ok(self
            .unreachable
            .lock()
            .unwrap()
            .get(account)
            .map(|code| (code.clone(), format!("{code}: not authorized"))))
    }

    async fn reported(&self, _topic: &str) -> crate::error::Result<BTreeMap<String, String>> {
        self.calls.record("SNS.ListTagsForResource".into());
        Ok(self.tags.lock().unwrap().clone())
    }

    async fn remember(&self, _topic: &str, account: &str, code: &str) -> crate::error::Result<()> {
        self.calls.record("SNS.TagResource".into());
        self.tags
            .lock()
            .unwrap()
            .insert(account.into(), code.into());
        Ok(())
    }

    async fn forget(&self, _topic: &str, account: &str) -> crate::error::Result<()> {
        self.calls.record("SNS.UntagResource".into());
        self.tags.lock().unwrap().remove(account);
        Ok(())
    }
}

/// A job that answers with the account it was built for and the `n` of its event.
struct Echo {
    account: String,
    calls: CallLog,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
struct Echoed {
    built_for: String,
    n: u64,
}

impl Job for Echo {
    const NAME: &'static str = "echo";
    type Event = u64;
    type Report = Echoed;

    fn parse(&self, event: Value) -> crate::error::Result<u64> {
        event["detail"]["n"]
            .as_u64()
            .ok_or_else(|| Error::bad_event("detail.n: must be a count"))
    }

    async fn run(&self, n: u64) -> crate::error::Result<Echoed> {
        Ok(Echoed {
            built_for: self.account.clone(),
            n,
        })
    }

    fn metrics(_: &Echoed, metrics: Metrics) -> Metrics {
        metrics
    }

    fn calls(&self) -> &CallLog {
        &self.calls
    }
}

fn config() -> OrgConfig {
    OrgConfig {
        role_arn: "arn:aws:iam::{account}:role/autopilot-echo".into(),
        topic_arn: TOPIC.into(),
        hub_bus_arn: Some("arn:aws:events:eu-west-1:999999999999:event-bus/autopilot".into()),
    }
}

type Org = InAccounts<Echo, FakeOrg, Box<dyn Fn(String) -> Echo + Send + Sync>>;

/// A member account's role that can be assumed again (its spoke installed).
fn install_spoke(org: &Org, account: &str) {
    org.spokes.unreachable.lock().unwrap().remove(account);
}

fn org(spokes: FakeOrg) -> Org {
    let calls = spokes.calls.clone();
    let parser = Echo {
        account: "hub".into(),
        calls: calls.clone(),
    };
    InAccounts::new(
        spokes,
        config(),
        parser,
        Box::new(move |account| Echo {
            account,
            calls: calls.clone(),
        }),
    )
}

fn event(account: &str, n: u64) -> Value {
    json!({"id": format!("e-{n}"), "detail-type": "Echo", "source": "test", "account": account,
           "region": "eu-west-1", "time": "2026-12-01T10:00:00Z", "resources": [], "detail": {"n": n}})
}

async fn run(org: &Org, event: Value) -> InAccount<Echoed> {
    let parsed = org.parse(event).expect("parsed");
    org.run(parsed).await.expect("handled")
}

#[tokio::test]
async fn each_event_is_handled_by_the_job_of_the_account_it_comes_from() {
    let org = org(FakeOrg::new());
    let prod = run(&org, event(PROD, 1)).await;
    let dev = run(&org, event(DEV, 2)).await;
    assert_eq!(
        prod.result.as_ref().map(|r| r.built_for.as_str()),
        Some(PROD)
    );
    assert_eq!(prod.account, Account::new(PROD, Some("shop-prod".into())));
    assert_eq!(
        dev.result.as_ref().map(|r| (r.built_for.as_str(), r.n)),
        Some((DEV, 2))
    );
    assert_eq!(
        dev.account,
        Account::new(DEV, None),
        "no alias: named by its id"
    );
}

#[tokio::test]
async fn an_accounts_role_is_assumed_once_for_the_life_of_the_process() {
    let org = org(FakeOrg::new());
    for n in 0..5 {
        run(&org, event(PROD, n)).await;
    }
    run(&org, event(DEV, 9)).await;
    assert_eq!(org.spokes.assumed(), 2, "{:?}", org.spokes.calls.snapshot());
}

#[tokio::test]
async fn an_event_without_a_good_account_is_refused_by_name_and_opens_nothing() {
    let org = org(FakeOrg::new());
    let mut missing = event(PROD, 1);
    missing.as_object_mut().unwrap().remove("account");
    for (bad, why) in [
        (missing, "account: missing"),
        (event("12345", 1), "12-digit"),
        (event("arn:aws:iam::111111111111:root", 1), "12-digit"),
    ] {
        let e = org.parse(bad).unwrap_err();
        assert!(e.to_string().contains(why), "{e}");
        assert_eq!(e.code(), "BadEvent");
    }
    assert!(org.spokes.calls.snapshot().is_empty());
}

#[tokio::test]
async fn an_account_that_cannot_be_reached_is_told_once_and_the_others_go_on() {
    let org = org(FakeOrg::new());
    let first = run(&org, event(LOST, 1)).await;
    let unreachable = first.unreachable.expect("unreachable");
    assert!(unreachable.notified);
    assert_eq!(unreachable.code, "AccessDenied");
    assert_eq!(
        unreachable.role_arn,
        "arn:aws:iam::333333333333:role/autopilot-echo"
    );
    assert_eq!(first.result, None);

    let told = org.spokes.published();
    assert_eq!(told.len(), 1);
    let n = &told[0];
    assert!(
        n.title.contains(LOST) && n.title.contains("echo"),
        "{}",
        n.title
    );
    assert!(n
        .description
        .contains("arn:aws:iam::333333333333:role/autopilot-echo"));
    assert!(n.description.contains("AccessDenied"));
    let steps = n.next_steps.join("\n");
    assert!(steps.contains("create-stack-instances"), "{steps}");
    assert!(steps.contains("--template-file sam/spoke.yaml"), "{steps}");
    assert!(
        steps.contains("HubAccountId=999999999999 HubEventBusArn=arn:aws:events:eu-west-1:999999999999:event-bus/autopilot SpokeRolePrefix=autopilot"),
        "{steps}"
    );
    assert!(
        steps.contains("iam get-role --role-name autopilot-echo"),
        "{steps}"
    );

    // The next events from that account: not said again; another account is handled.
    let again = run(&org, event(LOST, 2)).await;
    assert!(!again.unreachable.expect("still unreachable").notified);
    let other = run(&org, event(PROD, 3)).await;
    assert!(other.result.is_some());
    assert_eq!(org.spokes.published().len(), 1, "said once");
}

#[tokio::test]
async fn an_account_unreachable_for_another_reason_is_told_again() {
    let org = org(FakeOrg::new());
    run(&org, event(LOST, 1)).await;
    org.spokes
        .unreachable
        .lock()
        .unwrap()
        .insert(LOST.into(), "RegionDisabledException".into());
    let again = run(&org, event(LOST, 2)).await;
    assert!(again.unreachable.expect("unreachable").notified);
    let told = org.spokes.published();
    assert_eq!(told.len(), 2);
    assert!(
        told[1].next_steps[0].contains("Activate STS"),
        "{:?}",
        told[1].next_steps
    );
}

#[tokio::test]
async fn an_account_reachable_again_is_told_and_forgotten_so_a_new_failure_is_told() {
    let spokes = FakeOrg::new();
    // Reported by an earlier process.
    spokes
        .tags
        .lock()
        .unwrap()
        .insert(LOST.into(), "AccessDenied".into());
    spokes.unreachable.lock().unwrap().remove(LOST);
    let org = org(spokes);
    let back = run(&org, event(LOST, 1)).await;
    assert!(back.result.is_some());
    let told = org.spokes.published();
    assert_eq!(told.len(), 1);
    assert!(
        told[0].title.contains("can be reached again"),
        "{}",
        told[0].title
    );
    assert!(org.spokes.tags.lock().unwrap().is_empty(), "forgotten");
}

#[tokio::test]
async fn what_a_push_costs_does_not_grow_with_the_accounts_that_have_nothing_to_do() {
    // A process that has served 1 account, and one that has served 50: the next event of an
    // account it knows makes no call of organization mode's own.
    for accounts in [1u64, 50] {
        let org = org(FakeOrg::new());
        for i in 0..accounts {
            run(&org, event(&format!("{:012}", 400_000_000_000 + i), 0)).await;
        }
        run(&org, event(PROD, 0)).await;
        org.spokes.calls.take();
        run(&org, event(PROD, 1)).await;
        assert!(
            org.spokes.calls.snapshot().is_empty(),
            "{accounts} accounts"
        );
    }
}

#[test]
fn a_notification_names_its_account_in_the_title_the_keywords_and_a_fact() {
    let n = Notification::new("i", crate::notify::Severity::Info, "web: deployed v2", "t")
        .keywords(["deploy".to_string()])
        .in_account(&Account::new(PROD, Some("shop-prod".into())));
    assert_eq!(n.title, "[shop-prod] web: deployed v2");
    assert_eq!(n.summary, n.title);
    assert_eq!(n.keywords, vec!["shop-prod", "deploy"]);
    assert_eq!(n.additional_context["Account"], "shop-prod (111111111111)");
    let bare = Notification::new("i", crate::notify::Severity::Info, "t", "t")
        .in_account(&Account::new(DEV, None));
    assert_eq!(bare.title, format!("[{DEV}] t"));
}

#[test]
fn in_organization_mode_a_services_breakdown_is_named_by_its_account_too() {
    use crate::metrics::catalogue;
    let record = |metrics: Metrics| -> Vec<String> {
        metrics
            .count_by(&catalogue::SERVICES_ASLEEP, "east/web", 1)
            .count_by(&catalogue::STOPPED_TASKS, "out-of-memory", 1)
            .render(0)
    };
    let lines = record(Metrics::new("off-hours").in_account("shop-prod")).join("\n");
    assert!(
        lines.contains(r#""Service":"shop-prod/east/web""#),
        "{lines}"
    );
    assert!(
        lines.contains(r#""Cause":"out-of-memory""#),
        "only Service: {lines}"
    );
    let alone = record(Metrics::new("off-hours")).join("\n");
    assert!(alone.contains(r#""Service":"east/web""#), "{alone}");
}

#[tokio::test]
async fn an_account_reported_then_fixed_then_broken_again_in_one_process_is_told_each_time() {
    let org = org(FakeOrg::new());
    run(&org, event(LOST, 1)).await;
    install_spoke(&org, LOST);
    let back = run(&org, event(LOST, 2)).await;
    assert!(back.result.is_some());
    assert!(org.spokes.tags.lock().unwrap().is_empty(), "forgotten");
    // The spoke removed while the process holds the account's job: found on renewal.
    org.spokes
        .unreachable
        .lock()
        .unwrap()
        .insert(LOST.into(), "AccessDenied".into());
    let broken = run(&org, event(LOST, 3)).await;
    assert!(broken.unreachable.expect("unreachable").notified);
    let titles: Vec<String> = org
        .spokes
        .published()
        .iter()
        .map(|n| n.title.clone())
        .collect();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(titles[0].contains("cannot act"), "{titles:?}");
    assert!(titles[1].contains("can be reached again"), "{titles:?}");
    assert!(titles[2].contains("cannot act"), "{titles:?}");
    // And once more fixed: the job is built again.
    install_spoke(&org, LOST);
    assert!(run(&org, event(LOST, 4)).await.result.is_some());
}

#[tokio::test]
async fn an_event_from_another_region_than_the_hubs_is_refused_by_name() {
    let org = org(FakeOrg::new()).in_region(Some("eu-west-1".into()));
    let mut elsewhere = event(PROD, 1);
    elsewhere["region"] = json!("us-east-1");
    let e = org.parse(elsewhere).unwrap_err();
    assert!(
        e.to_string()
            .contains("region: us-east-1 is not the hub's region eu-west-1"),
        "{e}"
    );
    assert!(org.parse(event(PROD, 1)).is_ok(), "the hub's own region");
}
