//! The alert policy end to end: checks → alert events → e-mail.

use std::time::Duration;

use relais_events::{AlertState, CheckStatus};

use crate::helpers::{mail_to, Seen, Stack, Worker};
use crate::smtp::{free_port, SmtpServer};

const SMOKE: &str = "smoke_translation";

/// Every alert among `events`.
fn alerts(events: &[Seen]) -> Vec<String> {
    events
        .iter()
        .filter_map(|s| match s {
            Seen::Alert(a) => Some(format!("{} {:?}", a.check, a.state)),
            Seen::Check(_) => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_page_when_translations_stop_and_one_when_they_resume() {
    let stack = Stack::start().await;
    let smtp = SmtpServer::start();
    let mut worker = Some(Worker::start(&stack.bus));
    let mut events = stack.monitor_events().await;
    let monitor = stack
        .spawn_monitor(stack.monitor_settings(mail_to(smtp.port())))
        .await;

    // With a worker every liveness check passes, and nobody is paged.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (check, skipped) = events.check("events_backlog", CheckStatus::Pass).await;
        seen.extend(skipped);
        seen.push(Seen::Check(check));
    }
    let failed: Vec<_> = seen
        .iter()
        .filter(|s| matches!(s, Seen::Check(c) if c.status == CheckStatus::Fail))
        .collect();
    assert!(
        failed.is_empty(),
        "checks failed with a worker running: {failed:#?}"
    );
    for check in [
        "smoke_translation",
        "edge_health",
        "nats",
        "translate_backlog",
    ] {
        assert!(
            seen.iter()
                .any(|s| matches!(s, Seen::Check(c) if c.check == check)),
            "{check} never ran: {seen:#?}"
        );
    }
    assert_eq!(smtp.subjects(), Vec::<String>::new());

    // No worker: the smoke translation fails; the alert fires after two
    // failures in a row and exactly one mail goes out.
    worker.take().expect("running").stop().await;
    let (first, _) = events.check(SMOKE, CheckStatus::Fail).await;
    assert_eq!(first.consecutive_failures, 1);
    assert!(first.detail.contains("504"), "{}", first.detail);
    let (fired, skipped) = events.alert(SMOKE, AlertState::Firing).await;
    assert!(alerts(&skipped).is_empty(), "{skipped:#?}");
    assert!(fired.message.contains("504"), "{}", fired.message);
    let mails = smtp.wait_for_messages(1, Duration::from_secs(10)).await;
    assert_eq!(mails, vec!["[relais] FIRING smoke_translation"]);

    // It keeps failing: no second mail.
    let mut during = Vec::new();
    loop {
        let (check, skipped) = events.check(SMOKE, CheckStatus::Fail).await;
        during.extend(skipped);
        if check.consecutive_failures >= 5 {
            break;
        }
    }
    assert!(alerts(&during).is_empty(), "other alerts: {during:#?}");
    assert_eq!(smtp.subjects().len(), 1, "{:?}", smtp.subjects());

    // A worker again: resolved, one recovery mail, then quiet.
    let _worker = Worker::start(&stack.bus);
    let (resolved, skipped) = events.alert(SMOKE, AlertState::Resolved).await;
    assert!(alerts(&skipped).is_empty(), "{skipped:#?}");
    assert_eq!(resolved.since, fired.since);
    let mails = smtp.wait_for_messages(2, Duration::from_secs(10)).await;
    assert_eq!(
        mails,
        vec![
            "[relais] FIRING smoke_translation",
            "[relais] RESOLVED smoke_translation"
        ]
    );
    for _ in 0..3 {
        events.check(SMOKE, CheckStatus::Pass).await;
    }
    assert_eq!(smtp.subjects().len(), 2, "{:?}", smtp.subjects());
    monitor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_the_mail_server_refused_is_sent_once_it_answers() {
    let stack = Stack::start().await;
    let port = free_port();
    let mut events = stack.monitor_events().await;
    // No worker ever: the smoke translation fails from the start, and no
    // mail server listens yet.
    let monitor = stack
        .spawn_monitor(stack.monitor_settings(mail_to(port)))
        .await;
    events.alert(SMOKE, AlertState::Firing).await;
    // Two more failing rounds with the page undeliverable; the monitor goes on.
    let (check, _) = events.check(SMOKE, CheckStatus::Fail).await;
    let target = check.consecutive_failures + 1;
    loop {
        let (check, _) = events.check(SMOKE, CheckStatus::Fail).await;
        if check.consecutive_failures >= target {
            break;
        }
    }
    let smtp = SmtpServer::start_on(port);
    // The next failing result retries the page: exactly one firing mail for
    // the smoke translation, however many rounds follow.
    let wanted = "[relais] FIRING smoke_translation";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !smtp.subjects().iter().any(|s| s == wanted) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            smtp.subjects()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..3 {
        events.check(SMOKE, CheckStatus::Fail).await;
    }
    let smoke_mails: Vec<_> = smtp
        .subjects()
        .into_iter()
        .filter(|s| s.ends_with(SMOKE))
        .collect();
    assert_eq!(smoke_mails, vec![wanted]);
    monitor.stop().await;
}
