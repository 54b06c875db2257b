//! Push-consumer flow control, counted in bytes as nats-server counts it: the window starts
//! at 1/16 of the limit and doubles with every answered request; a request goes out once
//! half the window is unanswered, and delivery stops while more than the window is.

/// The most bytes a flow-controlled push consumer keeps unanswered (nats-server's figure).
const LIMIT: u64 = 32 * 1024 * 1024;

/// One push consumer's flow-control state.
#[derive(Debug)]
pub(super) struct FlowWindow {
    /// Bytes that may be unanswered before delivery stops; grows up to [`LIMIT`].
    window: u64,
    /// Bytes delivered and not yet covered by an answer.
    unanswered: u64,
    /// The request waiting for its answer: its id and the bytes it covers.
    outstanding: Option<(u64, u64)>,
    last_id: u64,
}

impl Default for FlowWindow {
    fn default() -> Self {
        FlowWindow {
            window: LIMIT / 16,
            unanswered: 0,
            outstanding: None,
            last_id: 0,
        }
    }
}

impl FlowWindow {
    /// Whether delivery must wait for the client's answer.
    pub(super) fn blocked(&self) -> bool {
        self.unanswered > self.window
    }

    /// Counts a delivery of `size` bytes; returns the id of a flow-control request to send.
    pub(super) fn delivered(&mut self, size: u64) -> Option<u64> {
        self.unanswered += size;
        if self.outstanding.is_some() || self.unanswered <= self.window / 2 {
            return None;
        }
        self.last_id += 1;
        self.outstanding = Some((self.last_id, self.unanswered));
        Some(self.last_id)
    }

    /// The client answered request `id`; true when that frees delivery (a stale or unknown
    /// answer changes nothing).
    pub(super) fn answered(&mut self, id: u64) -> bool {
        match self.outstanding {
            Some((sent, covered)) if sent == id => {
                self.outstanding = None;
                self.unanswered = self.unanswered.saturating_sub(covered);
                self.window = (self.window * 2).min(LIMIT);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;

    #[test]
    fn a_request_goes_out_at_half_the_window_and_delivery_stops_past_it() {
        let mut fc = FlowWindow::default();
        let window = LIMIT / 16;
        assert_eq!(fc.delivered(window / 2), None, "exactly half: not yet");
        assert_eq!(fc.delivered(1), Some(1));
        assert!(!fc.blocked());
        assert_eq!(fc.delivered(window / 2), None, "one request at a time");
        assert!(fc.blocked());
    }

    #[test]
    fn an_answer_frees_what_it_covers_and_doubles_the_window() {
        let mut fc = FlowWindow::default();
        let window = LIMIT / 16;
        let id = fc.delivered(window / 2 + KIB).expect("request");
        assert_eq!(fc.delivered(window), None, "one outstanding");
        assert!(fc.blocked());
        assert!(!fc.answered(id + 1), "unknown id");
        assert!(fc.blocked());
        assert!(fc.answered(id));
        assert!(!fc.blocked());
        assert!(!fc.answered(id), "answered twice");
        // The window doubled: 2 windows more fit before blocking.
        fc.delivered(window).expect("the next request");
        assert!(!fc.blocked());
    }

    #[test]
    fn the_window_stops_growing_at_the_limit() {
        let mut fc = FlowWindow::default();
        for _ in 0..10 {
            let id = fc.delivered(LIMIT).expect("request");
            assert!(fc.answered(id));
        }
        assert_eq!(fc.window, LIMIT);
    }
}
