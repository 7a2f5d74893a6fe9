//! The connection state machine: every rule about what may happen next.
//!
//! # Theory of operation
//!
//! An HTTP/1.1 connection carries a sequence of *cycles*: one request and its
//! response. Each side of the connection, the client (who sends requests) and the
//! server (who sends responses), walks its own small machine through a cycle, and
//! a [`Connection`](super::Connection) tracks both: its own side, whose actions it
//! validates, and the peer's, whose bytes it parses. The same table serves both
//! roles; only which side is "ours" differs.
//!
//! ```text
//!  client:  Idle ──Request──▶ SendBody ──EndOfMessage──▶ Done
//!  server:  Idle ──(client's Request)──▶ SendResponse ──Response──▶ SendBody
//!            │                             │  ▲                       │  ▲
//!            │                             └──┘ Informational (1xx)   │  │
//!            └──Unsolicited (client Idle or Error)────────────────────┼──┘
//!                                                                     └──EndOfMessage──▶ Done
//! ```
//!
//! From `Idle`, `Done` or `MustClose` a side may close (`ConnectionClosed` →
//! `Closed`; again from `Closed`, which stays). Any protocol error moves the
//! offending side to `Error`; a call of ours that is refused (a `SendError`)
//! changes no state. Closing our side in the middle of a message, or while a
//! switch is undecided, is an error too.
//!
//! The two machines are coupled by rules that fire after every event, in
//! `States::settle`:
//!
//! * **Keep-alive.** If either message of the cycle said the connection will not
//!   persist (`Connection: close`, HTTP/1.0 without `keep-alive`, a
//!   close-delimited body, a response with both Content-Length and
//!   Transfer-Encoding, an error), if (on the server's side) it answered
//!   finally while the client still waited for `100 Continue` to send a body
//!   it may then never send (a client that sends it all the same may reuse
//!   the connection: the server that answered early without closing reads
//!   on, RFC 9110 §10.1.1), if the response was unsolicited, or if a side
//!   has closed, a side
//!   reaching `Done` goes on to `MustClose`: it will send nothing more. (The
//!   connection works these inputs out from the heads and hands them to the
//!   table.)
//! * **Next cycle.** When both sides are `Done` and the connection persists, both
//!   return to `Idle` and the next request may be read. Until then a server that
//!   has read a whole request is *paused*: pipelined bytes wait in the caller's
//!   buffer, never parsed early and never lost.
//! * **Protocol switch.** A request that proposes one (`Upgrade` with
//!   `Connection: upgrade`, which a client's head with an `Upgrade` field
//!   gets when it lacks it, or `CONNECT`) leaves the client in
//!   `MightSwitchProtocol` rather than `Done`, once its message has ended (a
//!   server answers the switch only after receiving the request's end, even
//!   an empty body's). The server's answer decides: `101`
//!   (for Upgrade, naming a protocol in its own Upgrade field: whether the
//!   client offered that one is the caller's to check) or `2xx` (for
//!   CONNECT) moves both sides to `SwitchedProtocol`,
//!   after which the bytes are no longer HTTP and belong to the caller; any other
//!   final response returns the client to `Done`.
//! * **Closing.** If one side closes while the other is `Idle` or `Done`, or
//!   errs while the other is `Done`, the other must close too; so must a
//!   client `Idle` when the server errs (it sent bytes unasked), and one in
//!   `MightSwitchProtocol` when the server closes or errs (no switch can
//!   follow). (A server `Idle` when the client errs may still answer once:
//!   below.)
//!
//! 1xx interim responses do not end the server's `SendResponse` state; the final
//! response does. A server with no request in progress (the client `Idle`, or
//! in `Error` after a malformed request) may still send one final response, the
//! error or timeout answer (`Unsolicited`), and then must close.

/// Which side of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// We send requests and receive responses.
    Client,
    /// We receive requests and send responses.
    Server,
}

impl Role {
    /// The other side.
    pub const fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

/// Where one side of the connection stands in the current cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Between cycles: nothing sent yet.
    Idle,
    /// Server only: a request head has arrived; the response head is owed.
    SendResponse,
    /// The head is sent; body data and the end of the message are next.
    SendBody,
    /// The message is complete; waiting for the other side to finish the cycle.
    Done,
    /// This side will send nothing more and the connection will not be
    /// reused: its message is complete, or (from `Idle`) it never began one
    /// before the other side closed or failed.
    MustClose,
    /// This side has closed the connection.
    Closed,
    /// Client only: the request proposed a protocol switch; the response decides.
    MightSwitchProtocol,
    /// The connection now speaks another protocol; HTTP/1.1 is over.
    SwitchedProtocol,
    /// This side broke the protocol; the connection must be closed.
    Error,
}

/// A protocol event, as the state machine sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transition {
    /// A request head (sent by the client).
    Request,
    /// A 1xx response other than an accepted switch (sent by the server).
    Informational,
    /// A final response head (sent by the server).
    Response,
    /// A final response with no request in progress (sent by the server): the
    /// answer to a request that failed to parse, or a 408 or 503 before any.
    /// The connection closes after it.
    Unsolicited,
    /// A response accepting the proposed switch: 101, or 2xx to CONNECT.
    SwitchAccepted,
    /// The end of a message body.
    EndOfMessage,
    /// The side closed the connection.
    ConnectionClosed,
}

/// Both sides' states and what couples them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct States {
    pub client: State,
    pub server: State,
    /// Whether the connection will persist after this cycle.
    pub keep_alive: bool,
    /// Whether the current request proposes a protocol switch.
    pub switch_proposed: bool,
}

/// The per-side table: what `transition` by `side` does to that side's own state.
const fn next_state(side: Role, state: State, transition: Transition) -> Option<State> {
    use State::*;
    use Transition::*;
    match (side, state, transition) {
        (Role::Client, Idle, Request) => Some(SendBody),
        (Role::Server, SendResponse, Informational) => Some(SendResponse),
        (Role::Server, SendResponse, Response) => Some(SendBody),
        (Role::Server, Idle, Unsolicited) => Some(SendBody),
        (Role::Server, SendResponse, SwitchAccepted) => Some(SwitchedProtocol),
        (_, SendBody, EndOfMessage) => Some(Done),
        (_, Idle | Done | MustClose | Closed, ConnectionClosed) => Some(Closed),
        _ => None,
    }
}

/// Why a transition was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refused;

/// What `process` did beyond the transition itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Settled {
    /// The cycle continues.
    Same,
    /// Both sides finished and returned to `Idle`: per-message state must reset.
    NextCycle,
}

impl States {
    pub(crate) const fn new() -> Self {
        States {
            client: State::Idle,
            server: State::Idle,
            keep_alive: true,
            switch_proposed: false,
        }
    }

    pub(crate) fn get(&self, side: Role) -> State {
        match side {
            Role::Client => self.client,
            Role::Server => self.server,
        }
    }

    fn set(&mut self, side: Role, state: State) {
        match side {
            Role::Client => self.client = state,
            Role::Server => self.server = state,
        }
    }

    /// Whether `transition` by `side` is allowed now.
    pub(crate) fn allows(&self, side: Role, transition: Transition) -> bool {
        if transition == Transition::SwitchAccepted
            && !(self.switch_proposed && self.client == State::MightSwitchProtocol)
        {
            return false;
        }
        if transition == Transition::Request && self.server != State::Idle {
            return false;
        }
        // Only while no request is in progress: none yet, or one that failed.
        if transition == Transition::Unsolicited
            && !matches!(self.client, State::Idle | State::Error)
        {
            return false;
        }
        next_state(side, self.get(side), transition).is_some()
    }

    /// Applies `transition` by `side`, then the coupling rules.
    #[inline]
    pub(crate) fn process(
        &mut self,
        side: Role,
        transition: Transition,
    ) -> Result<Settled, Refused> {
        // The transitions of every cycle, from the states they nearly always
        // start in, are written out directly: what `settle` would make of the
        // result is known here.
        match (side, transition, self.client, self.server) {
            (Role::Client, Transition::Request, State::Idle, State::Idle) => {
                self.client = State::SendBody;
                self.server = State::SendResponse;
                return Ok(Settled::Same);
            }
            (
                Role::Server,
                Transition::Response,
                State::SendBody | State::Done,
                State::SendResponse,
            ) if self.keep_alive => {
                self.server = State::SendBody;
                self.switch_proposed = false;
                return Ok(Settled::Same);
            }
            // The request ends before the response: (Done, SendResponse) is
            // left alone by every rule while the connection persists and no
            // switch is proposed.
            (Role::Client, Transition::EndOfMessage, State::SendBody, State::SendResponse)
                if self.keep_alive && !self.switch_proposed =>
            {
                self.client = State::Done;
                return Ok(Settled::Same);
            }
            // The response ends after the request: both sides are done and the
            // next cycle begins.
            (Role::Server, Transition::EndOfMessage, State::Done, State::SendBody)
                if self.keep_alive && !self.switch_proposed =>
            {
                *self = States::new();
                return Ok(Settled::NextCycle);
            }
            _ => {}
        }
        self.process_by_table(side, transition)
    }

    fn process_by_table(&mut self, side: Role, transition: Transition) -> Result<Settled, Refused> {
        if !self.allows(side, transition) {
            return Err(Refused);
        }
        let next = next_state(side, self.get(side), transition).ok_or(Refused)?;
        self.set(side, next);
        match transition {
            // The server learns it owes a response when the request head is sent.
            Transition::Request => self.server = State::SendResponse,
            Transition::Response => self.switch_proposed = false,
            // The peer's version and what it would send next are unknown.
            Transition::Unsolicited => self.keep_alive = false,
            // No cycle follows a close: a response still owed says so.
            Transition::ConnectionClosed => self.keep_alive = false,
            _ => {}
        }
        Ok(self.settle())
    }

    /// `side` broke the protocol (or abandoned a message).
    pub(crate) fn fault(&mut self, side: Role) {
        self.set(side, State::Error);
        self.keep_alive = false;
        self.settle();
    }

    /// The coupling rules of the theory of operation, applied until nothing moves.
    fn settle(&mut self) -> Settled {
        use State::*;
        loop {
            let before = *self;
            if self.switch_proposed && self.client == Done {
                self.client = MightSwitchProtocol;
            }
            if !self.switch_proposed && self.client == MightSwitchProtocol {
                self.client = Done;
            }
            if !self.keep_alive {
                if self.client == Done {
                    self.client = MustClose;
                }
                if self.server == Done {
                    self.server = MustClose;
                }
            }
            match (self.client, self.server) {
                (MightSwitchProtocol, SwitchedProtocol) => self.client = SwitchedProtocol,
                (Closed, Idle | Done) | (Error, Done) => self.server = MustClose,
                // A server that errs with no request in progress sent bytes
                // unasked: the client cannot send another request either.
                // Nor can a switch it awaits happen any more.
                (Idle | Done | MightSwitchProtocol, Closed | Error) => self.client = MustClose,
                (Done, Done) => {
                    *self = States::new();
                    return Settled::NextCycle;
                }
                _ => {}
            }
            if *self == before {
                return Settled::Same;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Role, State, States, Transition};

    /// The written-out transitions of `process` agree with the table and the
    /// coupling rules in every state, for every side, transition and flag.
    #[test]
    fn shortcuts_agree_with_the_table() {
        use State::*;
        let states = [
            Idle,
            SendResponse,
            SendBody,
            Done,
            MustClose,
            Closed,
            MightSwitchProtocol,
            SwitchedProtocol,
            Error,
        ];
        let transitions = [
            Transition::Request,
            Transition::Informational,
            Transition::Response,
            Transition::Unsolicited,
            Transition::SwitchAccepted,
            Transition::EndOfMessage,
            Transition::ConnectionClosed,
        ];
        let mut checked = 0;
        for client in states {
            for server in states {
                for keep_alive in [true, false] {
                    for switch_proposed in [true, false] {
                        let start = States {
                            client,
                            server,
                            keep_alive,
                            switch_proposed,
                        };
                        for side in [Role::Client, Role::Server] {
                            for transition in transitions {
                                let (mut fast, mut table) = (start, start);
                                let by_fast = fast.process(side, transition);
                                let by_table = table.process_by_table(side, transition);
                                assert_eq!(
                                    (by_fast, fast),
                                    (by_table, table),
                                    "{side:?} {transition:?} from {start:?}"
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 9 * 9 * 2 * 2 * 2 * 7);
    }

    /// An unsolicited response (an error or timeout answer before any
    /// request) is the connection's last: the table takes keep-alive away,
    /// so its end leaves the server `MustClose` whatever else the caller
    /// decided (the connection decides so too, before this rule is reached:
    /// a test through it cannot tell whether the rule holds).
    #[test]
    fn an_unsolicited_response_is_the_last() {
        let mut states = States::new();
        assert!(states.keep_alive);
        let sent = states.process(Role::Server, Transition::Unsolicited);
        assert!(sent.is_ok() && !states.keep_alive);
        let ended = states.process(Role::Server, Transition::EndOfMessage);
        assert!(ended.is_ok() && states.server == State::MustClose);
    }
}
