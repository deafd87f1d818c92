//! The web console under `/console`, for the people who run an account: server-rendered pages
//! (maud, compiled into the binary; a stylesheet served from here, nothing fetched elsewhere)
//! that work without JavaScript. Console users belong to an account, with a role, and sign in
//! with an email and a password ([`password`], [`session`]); every page reads and changes only
//! the signed-in user's account, through the same store and domain rules as the API.

mod bubble;
mod deliveries;
mod keys;
mod layout;
mod login;
mod messages;
mod numbers;
mod overview;
pub mod password;
mod phone;
mod policies;
mod send;
pub mod session;
mod templates;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};

use crate::AppState;

/// The console's routes (served with the API, or on a listener of their own).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/console", get(overview::page_handler))
        .route(
            "/console/",
            get(|| async { Redirect::permanent("/console") }),
        )
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/logout", post(login::logout))
        .route("/console/keys", get(keys::list).post(keys::create))
        .route("/console/keys/{id}/{change}", post(keys::set_enabled))
        .route("/console/webhooks", get(webhooks::show).post(webhooks::set))
        .route("/console/webhooks/enable", post(webhooks::enable))
        .route("/console/webhooks/replay", post(webhooks::replay))
        .route("/console/numbers", get(numbers::list).post(numbers::add))
        .route("/console/numbers/{phone}", post(numbers::change))
        .route("/console/numbers/{phone}/remove", post(numbers::remove))
        .route("/console/messages", get(messages::list))
        .route("/console/messages/{id}", get(messages::show))
        .route(
            "/console/templates",
            get(templates::list).post(templates::create),
        )
        .route("/console/templates/new", get(templates::new_form))
        .route("/console/templates/preview", post(templates::preview))
        .route("/console/templates/{code}", get(templates::show))
        .route(
            "/console/templates/{code}/{language}/delete",
            post(templates::delete),
        )
        .route("/console/send", get(send::form).post(send::submit))
        .merge(phone::routes())
        .merge(policies::routes())
        .route(&layout::CSS_PATH, get(layout::css))
        .route(&templates::SCRIPT_PATH, get(templates::script))
        .with_state(state)
}
