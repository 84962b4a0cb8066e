//! The HTTP front door in exporter-toolkit's manner: `--web.config.file` with TLS, basic
//! auth and extra headers, picked up again when the files change.

pub mod auth;
pub mod config;
mod error;
pub mod reload;
pub mod routes;
pub mod serve;
pub mod state;
pub mod tls;

use std::sync::Arc;

use axum::Router;

pub use error::{WebConfigError, WebProblem};
pub use reload::WebConfig;
pub use serve::serve;

/// Puts basic auth and the configured headers in front of every route.
pub fn protect(app: Router, web: Option<Arc<WebConfig>>) -> Router {
    match web {
        Some(web) => app.layer(axum::middleware::from_fn_with_state(
            Arc::new(auth::Auth::new(web)),
            auth::middleware,
        )),
        None => app,
    }
}
