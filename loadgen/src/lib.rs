//! The open-loop load generator: not built yet (see issue 5); the crate exists so the workspace has its final shape.
