//! Remembers the commands this bridge has seen and the last reply it gave
//! each, so a redelivered command (QoS 1 allows duplicates; a dispatcher may
//! retry) gets that reply again instead of being carried out twice.

use std::collections::{HashMap, VecDeque};

use wire::{CommandReply, CommandState};

/// How many command ids are remembered; the oldest is forgotten first. A
/// dispatcher retries within seconds, so this covers hours of commands.
pub const REMEMBERED_COMMANDS: usize = 1024;

#[derive(Debug)]
pub struct CommandLedger {
    capacity: usize,
    replies: HashMap<String, CommandReply>,
    arrival_order: VecDeque<String>,
}

/// What to do with an incoming command id.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Never seen: carry it out. `accepted` is already recorded.
    New { accepted: CommandReply },
    /// Seen before: re-send this (the latest) reply and do nothing else.
    Duplicate { latest: CommandReply },
}

impl CommandLedger {
    pub fn new(capacity: usize) -> Self {
        CommandLedger {
            capacity: capacity.max(1),
            replies: HashMap::new(),
            arrival_order: VecDeque::new(),
        }
    }

    /// Admits a command id, recording `accepted` for a new one.
    pub fn admit(&mut self, request_id: &str, drone: &str, now_ms: i64) -> Admission {
        if let Some(latest) = self.replies.get(request_id) {
            return Admission::Duplicate {
                latest: latest.clone(),
            };
        }
        let accepted = reply(request_id, drone, now_ms, CommandState::Accepted, None);
        self.remember(accepted.clone());
        Admission::New { accepted }
    }

    /// Records a reply that could not even be admitted (unreadable payload
    /// with a readable id): it ends the command at once.
    pub fn refuse(&mut self, request_id: &str, drone: &str, now_ms: i64, why: String) -> Admission {
        if let Some(latest) = self.replies.get(request_id) {
            return Admission::Duplicate {
                latest: latest.clone(),
            };
        }
        let failed = reply(request_id, drone, now_ms, CommandState::Failed, Some(why));
        self.remember(failed.clone());
        Admission::New { accepted: failed }
    }

    /// Records a later reply for a command. After a terminal state nothing
    /// may follow, so a late reply is dropped and `false` returned.
    pub fn update(&mut self, reply: &CommandReply) -> bool {
        match self.replies.get_mut(&reply.request_id) {
            Some(latest) if latest.state.is_terminal() => false,
            Some(latest) => {
                *latest = reply.clone();
                true
            }
            None => {
                // Forgotten while running (a very busy bridge): still answer.
                self.remember(reply.clone());
                true
            }
        }
    }

    pub fn latest(&self, request_id: &str) -> Option<&CommandReply> {
        self.replies.get(request_id)
    }

    pub fn len(&self) -> usize {
        self.replies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.replies.is_empty()
    }

    fn remember(&mut self, reply: CommandReply) {
        while self.replies.len() >= self.capacity {
            let Some(oldest) = self.arrival_order.pop_front() else {
                break;
            };
            self.replies.remove(&oldest);
        }
        self.arrival_order.push_back(reply.request_id.clone());
        self.replies.insert(reply.request_id.clone(), reply);
    }
}

pub fn reply(
    request_id: &str,
    drone: &str,
    now_ms: i64,
    state: CommandState,
    message: Option<String>,
) -> CommandReply {
    CommandReply {
        v: wire::VERSION,
        request_id: request_id.to_owned(),
        drone: drone.to_owned(),
        ts_ms: now_ms,
        state,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_gets_the_latest_reply_and_is_not_run_again() {
        let mut ledger = CommandLedger::new(8);
        let Admission::New { accepted } = ledger.admit("c1", "d1", 10) else {
            panic!("first sight must be new");
        };
        assert_eq!(accepted.state, CommandState::Accepted);
        assert_eq!(
            ledger.admit("c1", "d1", 11),
            Admission::Duplicate {
                latest: accepted.clone()
            }
        );
        let done = reply("c1", "d1", 20, CommandState::Succeeded, None);
        assert!(ledger.update(&done));
        assert_eq!(
            ledger.admit("c1", "d1", 30),
            Admission::Duplicate { latest: done }
        );
    }

    #[test]
    fn nothing_follows_a_terminal_reply() {
        let mut ledger = CommandLedger::new(8);
        ledger.admit("c1", "d1", 0);
        assert!(ledger.update(&reply("c1", "d1", 1, CommandState::TimedOut, None)));
        assert!(!ledger.update(&reply("c1", "d1", 2, CommandState::Succeeded, None)));
        assert_eq!(ledger.latest("c1").unwrap().state, CommandState::TimedOut);
    }

    #[test]
    fn the_oldest_ids_are_forgotten_first() {
        let mut ledger = CommandLedger::new(2);
        ledger.admit("a", "d1", 0);
        ledger.admit("b", "d1", 0);
        ledger.admit("c", "d1", 0);
        assert_eq!(ledger.len(), 2);
        assert!(ledger.latest("a").is_none());
        assert!(matches!(
            ledger.admit("b", "d1", 0),
            Admission::Duplicate { .. }
        ));
    }

    #[test]
    fn a_refused_payload_id_ends_failed_and_stays_failed() {
        let mut ledger = CommandLedger::new(4);
        let Admission::New { accepted: failed } = ledger.refuse("x", "d1", 0, "bad body".into())
        else {
            panic!()
        };
        assert_eq!(failed.state, CommandState::Failed);
        assert!(
            matches!(ledger.admit("x", "d1", 1), Admission::Duplicate { latest } if latest.state == CommandState::Failed)
        );
    }
}
