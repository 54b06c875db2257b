//! The subject index: which subscriptions does a subject reach?
