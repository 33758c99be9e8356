//! The alert policy: when a check's results become an alert, a page, a
//! reminder, a recovery. Pure: no clock, no I/O; the caller passes `now` and
//! reports which pages were delivered.
//!
//! - A check *fires* once it has failed [`AlertPolicy::fail_after`] times in a
//!   row, and *resolves* at its next pass ([`Transition`], published as
//!   `MonitorAlert`).
//! - While firing, one [`Page::Firing`] mail is wanted until one is delivered;
//!   after that nothing until [`AlertPolicy::renotify_every`] has passed since
//!   the last delivered page ([`Page::Reminder`]).
//! - After resolving, one [`Page::Recovery`] mail is wanted until delivered,
//!   but only when the operator was paged about the alert at all.
//! - A page that could not be delivered is simply wanted again at the next
//!   result: that is the retry.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use relais_events::{AlertState, CheckStatus};

/// When to page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertPolicy {
    /// Failures in a row before the alert fires (at least 1).
    pub fail_after: u32,
    /// While firing, page again after this long.
    pub renotify_every: Duration,
}

/// A mail the policy wants sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The alert fired.
    Firing,
    /// The alert is still firing, `renotify_every` after the last page.
    Reminder,
    /// The alert resolved.
    Recovery,
}

/// The alert started or ended (what a `MonitorAlert` event carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// `Firing` or `Resolved`.
    pub state: AlertState,
    /// When the alert started firing.
    pub since: DateTime<Utc>,
}

/// What one check result leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Failures in a row, this result included (0 after a pass).
    pub consecutive_failures: u32,
    /// The alert changed state.
    pub transition: Option<Transition>,
    /// A mail to send now; report delivery with [`AlertTracker::delivered`].
    pub page: Option<Page>,
}

/// The alert state of one check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertTracker {
    consecutive_failures: u32,
    /// When the current alert fired; `None` while not firing.
    firing_since: Option<DateTime<Utc>>,
    /// When a page about the current alert was last delivered.
    paged_at: Option<DateTime<Utc>>,
    /// A recovery mail is owed.
    recovery_owed: bool,
}

impl AlertTracker {
    /// Takes one result of the check at `now`.
    pub fn observe(
        &mut self,
        policy: &AlertPolicy,
        status: CheckStatus,
        now: DateTime<Utc>,
    ) -> Step {
        let mut transition = None;
        match status {
            CheckStatus::Fail => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if self.firing_since.is_none()
                    && self.consecutive_failures >= policy.fail_after.max(1)
                {
                    self.firing_since = Some(now);
                    self.paged_at = None;
                    // The firing page supersedes a recovery never delivered.
                    self.recovery_owed = false;
                    transition = Some(Transition {
                        state: AlertState::Firing,
                        since: now,
                    });
                }
            }
            CheckStatus::Pass => {
                self.consecutive_failures = 0;
                if let Some(since) = self.firing_since.take() {
                    // Only an operator who was paged needs to hear it is over.
                    self.recovery_owed = self.paged_at.take().is_some();
                    transition = Some(Transition {
                        state: AlertState::Resolved,
                        since,
                    });
                }
            }
        }
        Step {
            consecutive_failures: self.consecutive_failures,
            transition,
            page: self.page_due(policy, now),
        }
    }

    /// Records that `page` was delivered at `now`. A page that failed is not
    /// reported and is wanted again at the next result.
    pub fn delivered(&mut self, page: Page, now: DateTime<Utc>) {
        match page {
            Page::Firing | Page::Reminder => {
                if self.firing_since.is_some() {
                    self.paged_at = Some(now);
                }
            }
            Page::Recovery => self.recovery_owed = false,
        }
    }

    /// When the current alert fired; `None` while not firing.
    pub fn firing_since(&self) -> Option<DateTime<Utc>> {
        self.firing_since
    }

    fn page_due(&self, policy: &AlertPolicy, now: DateTime<Utc>) -> Option<Page> {
        if self.firing_since.is_none() {
            return self.recovery_owed.then_some(Page::Recovery);
        }
        match self.paged_at {
            None => Some(Page::Firing),
            Some(at) => {
                let every = TimeDelta::from_std(policy.renotify_every).unwrap_or(TimeDelta::MAX);
                (now.signed_duration_since(at) >= every).then_some(Page::Reminder)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: AlertPolicy = AlertPolicy {
        fail_after: 2,
        renotify_every: Duration::from_secs(6 * 3600),
    };

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("valid") + TimeDelta::minutes(minutes)
    }

    use CheckStatus::{Fail, Pass};

    /// Feeds results one a minute, delivering every page; returns the pages.
    fn run(tracker: &mut AlertTracker, results: &[CheckStatus], start: i64) -> Vec<Option<Page>> {
        results
            .iter()
            .enumerate()
            .map(|(i, &status)| {
                let now = at(start + i as i64);
                let step = tracker.observe(&POLICY, status, now);
                if let Some(page) = step.page {
                    tracker.delivered(page, now);
                }
                step.page
            })
            .collect()
    }

    #[test]
    fn passing_checks_never_page() {
        let mut t = AlertTracker::default();
        assert_eq!(run(&mut t, &[Pass; 5], 0), vec![None; 5]);
    }

    #[test]
    fn one_failure_below_the_threshold_does_not_page() {
        let mut t = AlertTracker::default();
        assert_eq!(
            run(&mut t, &[Fail, Pass, Fail, Pass], 0),
            vec![None, None, None, None]
        );
    }

    #[test]
    fn pages_once_at_the_threshold_then_once_on_recovery() {
        let mut t = AlertTracker::default();
        let pages = run(&mut t, &[Pass, Fail, Fail, Fail, Fail, Pass, Pass], 0);
        assert_eq!(
            pages,
            vec![
                None,
                None,
                Some(Page::Firing),
                None,
                None,
                Some(Page::Recovery),
                None
            ]
        );
    }

    #[test]
    fn transitions_carry_when_the_alert_fired() {
        let mut t = AlertTracker::default();
        assert_eq!(t.observe(&POLICY, Fail, at(0)).transition, None);
        let fired = t.observe(&POLICY, Fail, at(1));
        assert_eq!(
            fired.transition,
            Some(Transition {
                state: AlertState::Firing,
                since: at(1)
            })
        );
        assert_eq!(fired.consecutive_failures, 2);
        assert_eq!(t.observe(&POLICY, Fail, at(2)).transition, None);
        let resolved = t.observe(&POLICY, Pass, at(3));
        assert_eq!(
            resolved.transition,
            Some(Transition {
                state: AlertState::Resolved,
                since: at(1)
            })
        );
        assert_eq!(resolved.consecutive_failures, 0);
        assert_eq!(t.firing_since(), None);
    }

    #[test]
    fn reminds_after_renotify_every_and_not_before() {
        let mut t = AlertTracker::default();
        run(&mut t, &[Fail, Fail], 0); // paged at minute 1
        let before = t.observe(&POLICY, Fail, at(1 + 6 * 60 - 1));
        assert_eq!(before.page, None);
        let due = t.observe(&POLICY, Fail, at(1 + 6 * 60));
        assert_eq!(due.page, Some(Page::Reminder));
        t.delivered(Page::Reminder, at(1 + 6 * 60));
        assert_eq!(t.observe(&POLICY, Fail, at(2 + 6 * 60)).page, None);
    }

    #[test]
    fn an_undelivered_page_is_wanted_again_until_delivered() {
        let mut t = AlertTracker::default();
        t.observe(&POLICY, Fail, at(0));
        // The mail server is down: nothing is reported delivered.
        assert_eq!(t.observe(&POLICY, Fail, at(1)).page, Some(Page::Firing));
        assert_eq!(t.observe(&POLICY, Fail, at(2)).page, Some(Page::Firing));
        t.delivered(Page::Firing, at(2));
        assert_eq!(t.observe(&POLICY, Fail, at(3)).page, None);
        // Same for the recovery.
        assert_eq!(t.observe(&POLICY, Pass, at(4)).page, Some(Page::Recovery));
        assert_eq!(t.observe(&POLICY, Pass, at(5)).page, Some(Page::Recovery));
        t.delivered(Page::Recovery, at(5));
        assert_eq!(t.observe(&POLICY, Pass, at(6)).page, None);
    }

    #[test]
    fn no_recovery_mail_when_the_operator_was_never_paged() {
        let mut t = AlertTracker::default();
        t.observe(&POLICY, Fail, at(0));
        assert_eq!(t.observe(&POLICY, Fail, at(1)).page, Some(Page::Firing));
        // Never delivered; the check recovers.
        let step = t.observe(&POLICY, Pass, at(2));
        assert_eq!(step.page, None);
        assert_eq!(
            step.transition.map(|tr| tr.state),
            Some(AlertState::Resolved)
        );
    }

    #[test]
    fn firing_again_replaces_an_owed_recovery() {
        let mut t = AlertTracker::default();
        run(&mut t, &[Fail, Fail], 0);
        assert_eq!(t.observe(&POLICY, Pass, at(2)).page, Some(Page::Recovery));
        // Recovery not delivered; it fails twice again.
        assert_eq!(t.observe(&POLICY, Fail, at(3)).page, Some(Page::Recovery));
        let step = t.observe(&POLICY, Fail, at(4));
        assert_eq!(step.page, Some(Page::Firing));
        assert_eq!(step.transition.map(|tr| tr.state), Some(AlertState::Firing));
    }

    #[test]
    fn fail_after_one_fires_on_the_first_failure() {
        let policy = AlertPolicy {
            fail_after: 1,
            ..POLICY
        };
        let mut t = AlertTracker::default();
        let step = t.observe(&policy, Fail, at(0));
        assert_eq!(step.page, Some(Page::Firing));
        assert!(step.transition.is_some());
    }
}
