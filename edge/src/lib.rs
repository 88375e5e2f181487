//! The caching reverse proxy: not built yet (see issue 3); the crate exists so the workspace has its final shape.
