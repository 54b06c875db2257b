//! The answer to "who gets a message published on this subject?".

/// The subscriptions a published subject reaches.
///
/// Every plain subscription gets the message; each queue group gets it once, delivered to
/// one of its members (the caller picks which). Entries appear once per matching
/// insertion: a value inserted under two subjects that both match appears twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matches<T> {
    /// Subscriptions without a queue group.
    pub plain: Vec<T>,
    /// Queue groups with at least one matching member, one entry per group name.
    pub queues: Vec<QueueGroup<T>>,
}

/// The matching members of one queue group, gathered across all matching subjects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueGroup<T> {
    /// The queue group name.
    pub name: Box<[u8]>,
    /// The members whose subject matches; never empty.
    pub members: Vec<T>,
}

impl<T> Matches<T> {
    /// A result with no subscriptions.
    pub fn empty() -> Self {
        Self {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }

    /// Whether nobody gets the message.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    /// The number of matching subscriptions: plain ones plus every queue group member.
    pub fn len(&self) -> usize {
        self.plain.len() + self.queues.iter().map(|g| g.members.len()).sum::<usize>()
    }

    /// The number of deliveries one message makes: one per plain subscription, one per group.
    ///
    /// This is the fan-out nats-server reports in its subscription statistics.
    pub fn fanout(&self) -> usize {
        self.plain.len() + self.queues.len()
    }

    /// The queue group called `name`, if any of its members match.
    pub fn queue(&self, name: &[u8]) -> Option<&QueueGroup<T>> {
        self.queues.iter().find(|g| &*g.name == name)
    }

    /// Adds the members of group `name`, merging with an existing group of that name.
    pub(crate) fn add_queue_members(&mut self, name: &[u8], members: &[T])
    where
        T: Clone,
    {
        match self.queues.iter_mut().find(|g| &*g.name == name) {
            Some(group) => group.members.extend_from_slice(members),
            None => self.queues.push(QueueGroup {
                name: name.into(),
                members: members.to_vec(),
            }),
        }
    }
}

impl<T> Default for Matches<T> {
    fn default() -> Self {
        Self::empty()
    }
}
