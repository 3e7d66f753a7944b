//! Graph string enumerations that keep values they do not know: the policy crate's
//! `graph_enum!`, so both crates read and write unknown values the same way.

pub(crate) use policy::graph_enum;
